"""LlamaIndex integrations of indoxRouter: chat (for agents), text completion, embeddings, images.

    from llamaindex_indox import ChatIndox, IndoxLLM, IndoxEmbeddings, IndoxImageToolSpec
"""

from .embeddings import IndoxEmbeddings
from .llms import ChatIndox, IndoxLLM
from .tools import IndoxImageToolSpec

__all__ = ["ChatIndox", "IndoxEmbeddings", "IndoxImageToolSpec", "IndoxLLM"]

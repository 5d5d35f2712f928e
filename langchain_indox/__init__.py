"""LangChain integrations of indoxRouter: chat, text completion, embeddings and an image tool.

    from langchain_indox import ChatIndox, IndoxLLM, IndoxEmbeddings, IndoxImageTool
"""

from .chat_models import ChatIndox
from .embeddings import IndoxEmbeddings
from .llms import IndoxLLM
from .tools import ImageToolInput, IndoxImageTool

__all__ = ["ChatIndox", "ImageToolInput", "IndoxEmbeddings", "IndoxImageTool", "IndoxLLM"]

"""Words, tokens and the extractive answer of the local chat model.

The rules (documented in docs/local-server.md):

* Tokens are runs of word characters or single punctuation marks, each with
  the white space before it, so the tokens of a text join back to the text.
* The question is the last user message, or the line after ``Query:`` /
  ``Question:`` / ``Follow Up Input:`` in it. Asked to rephrase it as a
  standalone question (the chat engines' condense step), the model answers
  with the question itself. The context is the text between two ``-----`` lines
  (the form LlamaIndex's prompts use), else the rest of the conversation's
  system, user and tool text.
* The answer is the context sentence with the most words in common with the
  question, each word weighted by its rarity in the context (idf), relative to
  the sentence's length (/ sqrt(its words); ties go to the earlier sentence).
  A "when was/did" question only takes sentences with a number or month,
  "how many/much/old/long" one with a number, "where" one with a place
  ("in Paris"), if any such sentence shares a word. With no shared word,
  the first sentence of the context; with no context at all, a short reply.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
_WORD_RE = re.compile(r"[a-z0-9]+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])|(?<=:)\s+(?=[A-Z])")
_SPEAKER_RE = re.compile(r"^(?:system|user|assistant|tool|human|ai|developer):\s*", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]\s+|\d+\.\s+)")
_RULE_LINE_RE = re.compile(r"^\s*-{3,}\s*$", re.MULTILINE)
_QUESTION_LINE_RE = re.compile(
    r"^\s*(?:query|question|follow up input|the original query is as follows)\s*:\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_METADATA_LINE_RE = re.compile(
    r"^\s*(?:file_path|file_name|file_type|file_size|creation_date|last_modified_date"
    r"|page_label|doc_id|ref_doc_id|source|url|title)\s*:",
    re.IGNORECASE,
)
_REPHRASE_RE = re.compile(r"standalone question|rephrase the (?:follow up )?question", re.IGNORECASE)
_MARKUP_RE = re.compile(r"^\s*(?:#+\s*|[-*+]\s+|\d+\.\s+|>\s*)")

STOPWORDS = frozenset(
    """
    a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its me my of on or our so than that the their them then there these they this to
    was we were what when where which who whom why will with would you your about above after
    again all am any because before being below between both each few further here just more
    most no nor not now only other own same should some such too under until up very use using
    tool please tell give answer
    """.split()  # noqa: SIM905
)
GREETINGS = frozenset({"hello", "hi", "hey", "greetings"})


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens that join back to exactly ``text``."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


def content_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") for part in content
             if isinstance(part, dict) and part.get("type") == "text"]
    return "\n".join(t for t in texts if isinstance(t, str))


def count_images(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")


def _passages(text: str) -> list[str]:
    """The prose of ``text``: paragraphs with their wrapped lines joined, each list item and
    table row on its own; headings, code blocks, rules and metadata lines left out."""
    passages: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            passages.append(" ".join(current))
            current.clear()

    in_code = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            flush()
            continue
        if in_code or _METADATA_LINE_RE.match(line) or _RULE_LINE_RE.match(line) or not stripped:
            flush()
            continue
        if stripped.startswith("#"):
            flush()
            continue
        if stripped.startswith("|"):
            flush()
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):  # not the |---| line
                passages.append(", ".join(c for c in cells if c))
            continue
        speaker = _SPEAKER_RE.match(stripped)
        if speaker:  # a transcript turn ("user: ...") starts afresh
            flush()
            stripped = stripped[speaker.end():].strip()
            if not stripped:
                continue
        elif _LIST_ITEM_RE.match(line):
            flush()
        current.append(_MARKUP_RE.sub("", stripped))
    flush()
    return passages


def sentences(text: str) -> list[str]:
    """Sentences of ``text``'s prose (see ``_passages``)."""
    return [s.strip() for passage in _passages(text) for s in _SENTENCE_END_RE.split(passage)
            if content_words(s)]


def _framed_context(text: str) -> str | None:
    """The text between the first two ``-----`` lines, the form LlamaIndex uses."""
    parts = _RULE_LINE_RE.split(text)
    return parts[1] if len(parts) >= 3 else None


def split_question(last_user_text: str, history: Iterable[str]) -> tuple[str, list[str]]:
    """The question asked, and the context sentences to answer it from."""
    framed = _framed_context(last_user_text)
    marked = _QUESTION_LINE_RE.findall(last_user_text)
    question = marked[-1] if marked else ""
    if framed is not None:
        return question or last_user_text, sentences(framed)
    own = sentences(last_user_text)
    if not question:
        asked = [s for s in own if s.endswith("?")]
        question = asked[-1] if asked and len(own) > 1 else last_user_text.strip()
    own_context = [s for s in own if s != question and question.find(s) < 0]
    context = [s for text in history for s in sentences(text)] + own_context
    return question, context


_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december")
_LEAD = r"^\s*(?:(?:and|so|but|then|ok|okay)\b,?\s*)?"  # "And when ...?" asks "when"
_ANSWER_TYPES = (  # what the question asks for, and what a sentence that answers it contains
    (re.compile(_LEAD + r"(?:when (?:was|were|did|will)|(?:in )?what year|(?:in )?which year)\b", re.I),
     re.compile(rf"\d|\b(?:{_MONTHS})\b", re.I)),
    (re.compile(_LEAD + r"how (?:many|much|old|long|far|tall|big)\b", re.I), re.compile(r"\d|\b(?:one|two|three|"
     r"four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.I)),
    (re.compile(_LEAD + r"where\b", re.I), re.compile(r"\b(?:in|at|near|on|from)\s+(?:the\s+)?[A-Z]")),
)


def _answer_type(question: str) -> re.Pattern[str] | None:
    return next((answers for asks, answers in _ANSWER_TYPES if asks.search(question)), None)


def best_sentence(question: str, context: Sequence[str]) -> tuple[str, float]:
    """The context sentence most like ``question``: the shared content words, each weighted
    by how rare it is in the context (idf), over the square root of the sentence's own word
    count (so a short exact sentence beats a long one that shares a common word)."""
    asked = content_words(question)
    bags = [content_words(sentence) for sentence in context]
    frequency = Counter(word for bag in bags for word in bag & asked)
    weight = {word: math.log(1 + len(bags) / count) for word, count in frequency.items()}
    scored = []
    for sentence, bag in zip(context, bags):
        shared = bag & asked
        scored.append((sum(weight[w] for w in shared) / math.sqrt(len(bag)) if shared else 0.0, sentence))
    wanted = _answer_type(question)
    if wanted is not None and any(score and wanted.search(s) for score, s in scored):
        scored = [(score, s) for score, s in scored if wanted.search(s)]  # "When was...?" wants a date
    best, best_score = "", 0.0
    for score, sentence in scored:
        if score > best_score:
            best, best_score = sentence, score
    return best, best_score


def extractive_answer(last_user_text: str, history: Iterable[str], images: int = 0) -> str:
    question, context = split_question(last_user_text, history)
    framed = _framed_context(last_user_text)
    instructions = last_user_text.replace(framed, "") if framed else last_user_text
    if _REPHRASE_RE.search(instructions):  # the instructions ask, not a quoted context
        return question.strip()  # asked to restate the question on its own: it already is
    seen = f"I see {images} image{'s' if images != 1 else ''}. " if images else ""
    if context:
        sentence, score = best_sentence(question, context)
        return seen + (sentence if score else context[0])
    if GREETINGS & set(words(question)):
        return seen + ("Hello! I am the indoxRouter local stand-in model. Give me some "
                       "context and a question, and I will answer from that context.")
    shown = question.strip() or "(an empty message)"
    return seen + (f'You asked: "{shown}". I am the indoxRouter local stand-in model: I answer '
                   "from the context in the conversation, and there was none to answer from.")


def apply_limits(text: str, stop: Sequence[str], max_tokens: int | None) -> tuple[list[str], str]:
    """The tokens to send after ``stop`` and ``max_tokens``, and the finish reason."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
    tokens = tokenize(text)
    if max_tokens is not None and len(tokens) > max_tokens:
        return tokens[:max_tokens], "length"
    return tokens, "stop"

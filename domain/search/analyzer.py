"""The analyzer: text -> terms, identical for documents and queries.

Rules (documented for users in domain/search/README.md):
- The text is NFC-composed first (so spans stay on what the user typed), then split into
  runs of letters and digits: whitespace, punctuation, ``_``, ``-`` and ``.`` separate.
- A run is split again at camelCase (``reportFinal`` -> report, final; ``XMLParser`` ->
  xml, parser) and at letter/digit boundaries (``Q3`` -> q, 3).
- Each piece is NFKC-normalised, case-folded and stripped of accents (NFD, combining marks
  dropped), so full-width letters and accented letters match their plain forms.
- Pieces longer than MAX_TERM_CHARS are dropped (hashes, base64 noise); single characters
  are kept, because ``Q3`` must be findable as ``q3`` (= q AND 3).
- STOP_WORDS are not indexed; a query drops them too, except as its last (prefix) term.
"""

import unicodedata
from functools import lru_cache
from typing import NamedTuple

MAX_TERM_CHARS = 40
# A search re-analyses every candidate's current text (engine.py), mostly the same short
# names over and over: those analyses are remembered (a pure function of the text).
# Bounded in entries and in the length of what is kept.
REMEMBERED_TEXTS = 8192
REMEMBERED_TEXT_CHARS = 256
STOP_WORDS = frozenset("a an and are as at be by for from in is it of on or the to with".split())


class Token(NamedTuple):
    term: str
    start: int  # span in the NFC-composed text
    end: int


def compose(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def normalize(piece: str) -> str:
    folded = unicodedata.normalize("NFKC", piece).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str, *, keep_stop_words: bool = False) -> list[Token]:
    """Every term of ``text`` (already NFC-composed) with its span, in order."""
    found: list[Token] = []
    for start, end in _runs(text):
        for piece_start, piece_end in _pieces(text, start, end):
            normalized = normalize(text[piece_start:piece_end])
            # NFKC and case folding can change what a piece is made of ("A\u3251" -> "a21",
            # a Cherokee capital folds to lower case): split the normalized text again, so
            # a term typed back as a query is the very same term.
            for sub_start, sub_end in _pieces(normalized, 0, len(normalized)):
                term = normalized[sub_start:sub_end]
                if not term or len(term) > MAX_TERM_CHARS or not term.isalnum():
                    continue
                if term in STOP_WORDS and not keep_stop_words:
                    continue
                found.append(Token(term, piece_start, piece_end))
    return found


def terms(text: str) -> list[str]:
    if len(text) <= REMEMBERED_TEXT_CHARS:
        return list(_remembered_terms(text))
    return _terms(text)


def _terms(text: str) -> list[str]:
    return [token.term for token in tokens(compose(text))]


@lru_cache(maxsize=REMEMBERED_TEXTS)
def _remembered_terms(text: str) -> tuple[str, ...]:
    return tuple(_terms(text))


def _is_word_char(ch: str) -> bool:
    # Combining marks stay inside a run so that a decomposed accent does not split a word.
    return ch.isalnum() or unicodedata.combining(ch) > 0


def _runs(text: str) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, ch in enumerate(text):
        if _is_word_char(ch):
            if start is None:
                start = index
        elif start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(text)))
    return runs


def _kind(ch: str) -> str:
    if ch.isdigit():
        return "digit"
    if ch.isupper():
        return "upper"
    return "lower"  # lowercase, caseless letters (CJK) and combining marks


def _pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one run at camelCase and letter/digit boundaries."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    for index in range(start + 1, end):
        before, here = _kind(text[index - 1]), _kind(text[index])
        after = _kind(text[index + 1]) if index + 1 < end else None
        boundary = (
            (before == "digit") != (here == "digit")
            or (before == "lower" and here == "upper")
            # "XMLParser": the last capital starts the next word.
            or (before == "upper" and here == "upper" and after == "lower")
        )
        if boundary and not unicodedata.combining(text[index]):
            pieces.append((piece_start, index))
            piece_start = index
    pieces.append((piece_start, end))
    return pieces

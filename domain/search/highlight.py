"""Highlights: a field's text with the matched terms marked ``<em>…</em>``; the text
around them is HTML-escaped, and long text is cut to a window around the first match."""

import html
from collections.abc import Collection

from domain.search.analyzer import compose, tokens

MAX_CHARS = 160
_LEAD = 40  # characters of context kept before the first match in a cut window
ELLIPSIS = "…"


def highlight(text: str, matched: Collection[str]) -> str | None:
    """None when no term of ``text`` is in ``matched``."""
    composed = compose(text)
    marks = [t for t in tokens(composed, keep_stop_words=True) if t.term in matched]
    if not marks:
        return None
    start = 0
    end = len(composed)
    if end > MAX_CHARS:
        start = max(0, marks[0].start - _LEAD)
        end = min(len(composed), start + MAX_CHARS)
    parts: list[str] = [ELLIPSIS] if start > 0 else []
    position = start
    for mark in marks:
        if mark.start < position or mark.end > end:
            continue
        parts.append(html.escape(composed[position : mark.start]))
        parts.append(f"<em>{html.escape(composed[mark.start : mark.end])}</em>")
        position = mark.end
    parts.append(html.escape(composed[position:end]))
    if end < len(composed):
        parts.append(ELLIPSIS)
    return "".join(parts)

"""domain/search/engine.py: matching and scoring read a document's analysis remembered per
text; what they give must be what the BM25 formula over the document's *current* text
gives, and a changed text must never be answered from the analysis of the old one."""

from typing import Any, cast

import pytest

from domain.search import engine
from domain.search.analyzer import REMEMBERED_TEXT_CHARS
from domain.search.bm25 import REFERENCE_DOCS, idf, reference_collection, term_frequency_part
from domain.search.documents import FIELD_WEIGHTS, FILE, TYPICAL_LENGTHS, Document
from domain.search.sources import Candidate


def _file(doc_id: str, name: str, description: str = "", tags: str = "") -> Candidate:
    fields = {"name": name, "tags": tags, "description": description, "content_type": "text/plain"}
    return Candidate(Document(FILE, doc_id, fields), record=cast(Any, None))


def _formula(candidate: Candidate, term: str, df: int) -> float:
    terms = candidate.document.field_terms()
    collection = reference_collection(TYPICAL_LENGTHS[FILE])
    part = term_frequency_part(term, terms, FIELD_WEIGHTS[FILE], collection)
    return idf(REFERENCE_DOCS, df) * part


def test_scores_are_the_formula_over_the_current_text() -> None:
    matcher = engine._Matcher(["report"], "fin", frozenset({"final", "finance", "finland"}))
    first = _file("a", "Quarterly report final", description="the report of q3")
    second = _file("b", "report", tags="finance final")
    third = _file("c", "report finland", description="report " * 3)
    # Scored twice: the second pass reads the remembered analyses.
    for _ in range(2):
        matches = [matcher.match(c) for c in (first, second, third)]
        assert all(m is not None for m in matches)
        scored = {s.candidate.document.id: s for s in engine._score([m for m in matches if m])}
        # df over the accepted documents: report 3, final 2, finance 1, finland 1.
        expected = {
            "a": _formula(first, "report", 3) + _formula(first, "final", 2),
            "b": _formula(second, "report", 3)
            + max(_formula(second, "final", 2), _formula(second, "finance", 1)),
            "c": _formula(third, "report", 3) + _formula(third, "finland", 1),
        }
        assert {k: s.score for k, s in scored.items()} == {
            k: round(v, 6) for k, v in expected.items()
        }
        assert scored["b"].matched == frozenset({"report", "final", "finance"})


def test_a_changed_text_is_matched_as_it_is_now() -> None:
    matcher = engine._Matcher(["budget"], None, frozenset())
    assert matcher.match(_file("a", "budget 2024")) is not None
    assert matcher.match(_file("a", "forecast 2024")) is None  # same id, renamed
    assert matcher.match(_file("a", "budget 2024")) is not None


def test_long_texts_are_matched_but_not_remembered() -> None:
    matcher = engine._Matcher(["needle"], None, frozenset())
    long_text = "hay " * (REMEMBERED_TEXT_CHARS // 4) + "needle"
    before = dict(engine._REMEMBERED)
    found = matcher.match(_file("a", "notes", description=long_text))
    assert found is not None
    assert engine._REMEMBERED == before
    assert engine._score([found])[0].score == round(_formula(found.candidate, "needle", 1), 6)


def test_remembered_analyses_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "REMEMBERED_DOCUMENTS", 3)
    monkeypatch.setattr(engine, "_REMEMBERED", {})
    matcher = engine._Matcher(["memo"], None, frozenset())
    for n in range(10):
        assert matcher.match(_file(f"d{n}", f"memo {n}")) is not None
        assert len(engine._REMEMBERED) <= 3

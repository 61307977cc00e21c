"""The analyzer's rules (domain/search/README.md "Analyzer"), with its examples."""

import math
from collections import Counter

import pytest

from domain.errors import InvalidInputError
from domain.search.analyzer import MAX_TERM_CHARS, terms
from domain.search.bm25 import Collection, idf, term_score
from domain.search.highlight import highlight
from domain.search.service import parse_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q3_Report-final.PDF", ["q", "3", "report", "final", "pdf"]),
        ("XMLParser reportFinal", ["xml", "parser", "report", "final"]),
        ("\uff32éport naïve STRASSE", ["report", "naive", "strasse"]),
        ("Straße", ["strasse"]),  # casefold
        ("cafe\u0301", ["cafe"]),  # decomposed accent stays in the word
        ("the cat of the bag", ["cat", "bag"]),  # stop words
        ("ﬁle", ["file"]),  # NFKC ligature
        ("a" * (MAX_TERM_CHARS + 1) + " ok", ["ok"]),
    ],
)
def test_terms(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


def test_query_last_term_is_a_prefix_and_stop_words_go_except_last() -> None:
    parsed = parse_query("the quarterly The")
    assert parsed.exact == ("quarterly",)
    assert parsed.prefix == "the"


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_is_refused(query: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_query(query)


def test_long_and_wordy_queries_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_query("x" * 1000)
    with pytest.raises(InvalidInputError):
        parse_query(" ".join(f"w{n}x" for n in range(11)))


def test_a_refused_query_is_refused_every_time() -> None:
    # Parsed queries are remembered per text; a refusal must not be (nor turn into terms).
    wordy = " ".join(f"v{n}y" for n in range(11))
    for _ in range(3):
        with pytest.raises(InvalidInputError):
            parse_query(wordy)
    assert parse_query("report q3") == parse_query("report q3")


def test_idf_matches_the_bm25_formula() -> None:
    assert idf(10, 1) == pytest.approx(math.log(1 + 9.5 / 1.5))
    assert idf(10, 10) < idf(10, 1)


def test_term_score_saturates_and_normalises_length() -> None:
    stats = Collection(docs=100, avg_lengths={"name": 4.0})
    weights = {"name": 1.0}

    def score(tf: int, length: int) -> float:
        counts: Counter[str] = Counter({"x": tf, "pad": length - tf})
        return term_score("x", 5, {"name": counts}, weights, stats)

    # tf=1 at average length: idf * (k1+1) * 1 / (1 + k1) = idf exactly.
    assert score(1, 4) == pytest.approx(idf(100, 5))
    assert score(2, 4) > score(1, 4)
    assert score(8, 8) < 8 * score(1, 8) / 1.5  # saturation
    assert score(1, 2) > score(1, 8)  # shorter field scores higher


def test_field_weights_scale_the_score() -> None:
    stats = Collection(docs=10, avg_lengths={"name": 1.0, "description": 1.0})
    weights = {"name": 3.0, "description": 1.0}
    in_name = term_score("x", 1, {"name": Counter(x=1)}, weights, stats)
    in_description = term_score("x", 1, {"description": Counter(x=1)}, weights, stats)
    assert in_name == pytest.approx(3 * in_description)


def test_highlight_marks_terms_and_escapes_the_rest() -> None:
    assert (
        highlight("<b>Q3</b>_Report.pdf", {"report"}) == "&lt;b&gt;Q3&lt;/b&gt;_<em>Report</em>.pdf"
    )
    assert highlight("nothing here", {"report"}) is None
    long = "word " * 100 + "Target " + "tail " * 100
    marked = highlight(long, {"target"})
    assert marked is not None and "<em>Target</em>" in marked and len(marked) < 200


def test_remembered_analyses_are_fresh_lists_and_long_texts_agree() -> None:
    first = terms("Quarterly reportFinal Q3")
    first.append("tampered")
    assert terms("Quarterly reportFinal Q3") == ["quarterly", "report", "final", "q", "3"]
    long_text = "Quarterly reportFinal Q3 " * 20  # past what is remembered: analysed each time
    assert terms(long_text) == ["quarterly", "report", "final", "q", "3"] * 20

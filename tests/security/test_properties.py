"""Properties over arbitrary input (hypothesis): the search analyzer, signed cursors and the
file-field rules either answer or refuse with the domain's own error, never anything else,
and keep the promises their modules document.

Derandomized with bounded example counts: the same inputs every run, a bounded cost."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.cursor_signer import CursorSigner
from domain.errors import InvalidInputError
from domain.files import (
    DESCRIPTION_MAX_CHARS,
    NAME_MAX_CHARS,
    TAG_MAX_CHARS,
    TAGS_MAX,
    clean_description,
    clean_name,
    clean_tags,
)
from domain.search.analyzer import MAX_TERM_CHARS, STOP_WORDS, normalize, terms
from domain.search.service import MAX_QUERY_CHARS, parse_query
from tests.support.schema_client import ALICE, BOB, SchemaClient

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
THROUGH_SCHEMA = settings(PROPERTY, max_examples=60)

# Every code point, lone surrogates included: a JSON string may carry them ("\ud800").
ANY_CHAR = st.characters(codec=None, exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=80)
# Text a user would plausibly type, with the separators the analyzer splits on.
WORDY_TEXT = st.text(
    st.one_of(
        st.characters(categories=["Lu", "Ll", "Lt", "Lo", "Nd", "Mn"]),
        st.sampled_from(" _-./"),
    ),
    max_size=80,
)


# --- the analyzer (domain/search/README.md "Analyzer") ---------------------------------


@PROPERTY
@given(ANY_TEXT)
def test_analyzer_is_total_and_its_terms_are_well_formed(text: str) -> None:
    for term in terms(text):
        assert 1 <= len(term) <= MAX_TERM_CHARS
        assert term not in STOP_WORDS
        assert term.isalnum()
        assert normalize(term) == term  # already NFKC, case-folded, accent-free


@PROPERTY
@given(ANY_TEXT)
@example("A\u3251")  # "A㉑": NFKC turns the circled 21 into digits after the split
@example("\u33e0")  # "㏠": one character that NFKC spells "1日"
def test_analyzing_a_term_again_gives_the_same_term(text: str) -> None:
    """Documents and queries go through one analyzer; a term typed back as a query must be
    that same term, or a document is not found by its own words."""
    for term in terms(text):
        assert terms(term) == [term], (text, term)


@PROPERTY
@given(WORDY_TEXT, st.data())
def test_a_document_matches_a_query_made_of_its_terms(text: str, data: st.DataObject) -> None:
    document_terms = terms(text)
    if not document_terms:
        return
    chosen = data.draw(
        st.lists(st.sampled_from(document_terms), min_size=1, max_size=10, unique=True)
    )
    query = " ".join(chosen)
    if len(query) > MAX_QUERY_CHARS:
        return
    parsed = parse_query(query)
    assert set(parsed.exact) <= set(document_terms), (text, query, parsed)
    assert parsed.prefix is not None
    assert any(term.startswith(parsed.prefix) for term in document_terms), (text, query)


@PROPERTY
@given(ANY_TEXT)
def test_parse_query_accepts_or_refuses_with_bad_user_input(text: str) -> None:
    try:
        parsed = parse_query(text)
    except InvalidInputError:
        return
    assert len(text) <= MAX_QUERY_CHARS
    assert len({*parsed.exact, *([parsed.prefix] if parsed.prefix else [])}) <= 10


# --- signed cursors (domain/cursor_signer.py) ----------------------------------------

SIGNER = CursorSigner(b"property-tests-cursor-key-0123456789abcdef")
BINDING = st.text(max_size=40)
POSITION = st.text(max_size=200)


def _refused(verify: Callable[[], str]) -> None:
    with pytest.raises(InvalidInputError, match=r"^Invalid cursor$"):
        verify()


@PROPERTY
@given(POSITION, BINDING, BINDING, BINDING)
def test_a_signed_cursor_opens_to_its_position(
    position: str, query: str, viewer: str, filter_hash: str
) -> None:
    cursor = SIGNER.sign(position, query=query, viewer_id=viewer, filter_hash=filter_hash)
    assert cursor.isascii()
    opened = SIGNER.verify(cursor, query=query, viewer_id=viewer, filter_hash=filter_hash)
    assert opened == position


@PROPERTY
@given(POSITION, BINDING, BINDING, st.data())
def test_any_bit_flip_or_truncation_is_refused(
    position: str, query: str, viewer: str, data: st.DataObject
) -> None:
    cursor = SIGNER.sign(position, query=query, viewer_id=viewer)
    index = data.draw(st.integers(0, len(cursor) - 1))
    bit = data.draw(st.integers(0, 6))  # stays ASCII, as a cursor in a URL would
    flipped = cursor[:index] + chr(ord(cursor[index]) ^ (1 << bit)) + cursor[index + 1 :]
    _refused(lambda: SIGNER.verify(flipped, query=query, viewer_id=viewer))
    cut = data.draw(st.integers(0, len(cursor) - 1))
    _refused(lambda: SIGNER.verify(cursor[:cut], query=query, viewer_id=viewer))


@PROPERTY
@given(POSITION, BINDING, BINDING, BINDING, BINDING, BINDING)
def test_a_cursor_is_refused_under_another_binding(
    position: str, query: str, viewer: str, other_query: str, other_viewer: str, other_filter: str
) -> None:
    cursor = SIGNER.sign(position, query=query, viewer_id=viewer)
    if other_query != query:
        _refused(lambda: SIGNER.verify(cursor, query=other_query, viewer_id=viewer))
    if other_viewer != viewer:
        _refused(lambda: SIGNER.verify(cursor, query=query, viewer_id=other_viewer))
    if other_filter != "":
        _refused(
            lambda: SIGNER.verify(cursor, query=query, viewer_id=viewer, filter_hash=other_filter)
        )
    other_key = CursorSigner(b"another-deployment-cursor-key-0123456789")
    _refused(lambda: other_key.verify(cursor, query=query, viewer_id=viewer))


@PROPERTY
@given(st.text(ANY_CHAR, max_size=5000))
def test_any_string_is_refused_or_opened_never_crashes(cursor: str) -> None:
    try:
        SIGNER.verify(cursor, query="q", viewer_id="v")
    except InvalidInputError:
        return
    raise AssertionError(f"an unsigned string was accepted: {cursor!r}")


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def seeded_client() -> SchemaClient:
    """Alice with three files (pages of one make real cursors), Bob with none."""
    client = SchemaClient()

    async def prepare() -> None:
        await client.sign_in(ALICE)
        await client.sign_in(BOB)
        for _ in range(3):
            await client.upload(ALICE, b"quarterly report", name="report.txt")

    _run(prepare())
    return client


PAGED = {
    "myFiles": "query($a: String) { myFiles(first: 1, after: $a) { edges { cursor } } }",
    "search": 'query($a: String) { search(query: "report", first: 1, after: $a) '
    "{ edges { cursor } } }",
}


def _page(client: SchemaClient, field: str, after: str | None, viewer: Any = ALICE) -> Any:
    return _run(client.execute(PAGED[field], viewer, {"a": after}))


@THROUGH_SCHEMA
@given(field=st.sampled_from(sorted(PAGED)), after=st.text(ANY_CHAR, max_size=300))
def test_any_after_string_through_the_schema_is_bad_user_input(
    seeded_client: SchemaClient, field: str, after: str
) -> None:
    result = _page(seeded_client, field, after)
    assert result.codes == ["BAD_USER_INPUT"], result.errors


@THROUGH_SCHEMA
@given(field=st.sampled_from(sorted(PAGED)), data=st.data())
def test_a_real_cursor_tampered_or_replayed_by_another_user_is_refused(
    seeded_client: SchemaClient, field: str, data: st.DataObject
) -> None:
    first = _page(seeded_client, field, None)
    assert first.errors == [], first.errors
    cursor = first.data[field]["edges"][0]["cursor"]
    assert _page(seeded_client, field, cursor).errors == []  # the genuine one works
    replayed = _page(seeded_client, field, cursor, viewer=BOB)
    assert replayed.codes == ["BAD_USER_INPUT"], replayed.errors
    index = data.draw(st.integers(0, len(cursor) - 1))
    bit = data.draw(st.integers(0, 6))
    flipped = cursor[:index] + chr(ord(cursor[index]) ^ (1 << bit)) + cursor[index + 1 :]
    assert _page(seeded_client, field, flipped).codes == ["BAD_USER_INPUT"]


# --- file names, tags and descriptions (domain/files/rules.py) -------------------------

ANY_VALUE = st.one_of(
    ANY_TEXT,
    st.text(ANY_CHAR, min_size=250, max_size=300),
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(ANY_TEXT, max_size=3),
    st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=2),
)
CONTROL = st.characters(categories=["Cc"])


def _accepted_or_refused(clean: Callable[[Any], Any], value: Any) -> Any:
    """``clean(value)``, or None when it refused with the domain's validation error."""
    try:
        return clean(value)
    except InvalidInputError as error:
        assert str(error), "a refusal says why"
        return None


@PROPERTY
@given(ANY_VALUE)
def test_name_rules_accept_or_refuse_never_crash(value: Any) -> None:
    name = _accepted_or_refused(clean_name, value)
    if name is None:
        return
    assert isinstance(value, str)
    assert name == unicodedata.normalize("NFC", value)
    assert 1 <= len(name) <= NAME_MAX_CHARS
    assert "/" not in name and "\\" not in name
    assert all(unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp") for ch in name)
    assert clean_name(name) == name  # an accepted name round-trips unchanged


@PROPERTY
@given(ANY_TEXT, st.sampled_from(["/", "\\", "\x00", "\n", "\x7f", "\u2028", "\u202e"]), ANY_TEXT)
def test_names_with_separators_or_control_characters_are_refused(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(InvalidInputError):
        clean_name(before + bad + after)


@PROPERTY
@given(st.text(st.characters(categories=["L", "N"]), min_size=NAME_MAX_CHARS + 1, max_size=400))
def test_over_long_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError):
        clean_name(unicodedata.normalize("NFC", name))


@PROPERTY
@given(st.one_of(st.lists(st.one_of(ANY_TEXT, st.integers(), st.none()), max_size=30), ANY_VALUE))
def test_tag_rules_accept_or_refuse_never_crash(value: Any) -> None:
    tags = _accepted_or_refused(clean_tags, value)
    if tags is None:
        return
    assert len(tags) <= TAGS_MAX
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert 1 <= len(tag) <= TAG_MAX_CHARS
        assert tag.isprintable() and tag == tag.strip()
    assert clean_tags(list(tags)) == tags  # cleaning is idempotent: stored tags round-trip


@PROPERTY
@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=3), min_size=1))
def test_more_than_the_allowed_number_of_distinct_tags_is_refused(tags: list[str]) -> None:
    distinct = tuple(dict.fromkeys(tags))
    if len(distinct) <= TAGS_MAX:
        assert clean_tags(tags) == distinct
    else:
        with pytest.raises(InvalidInputError, match=f"at most {TAGS_MAX}"):
            clean_tags(tags)


@PROPERTY
@given(ANY_VALUE)
def test_description_rules_accept_or_refuse_never_crash(value: Any) -> None:
    description = _accepted_or_refused(clean_description, value)
    if description is None:
        return
    assert 1 <= len(description) <= DESCRIPTION_MAX_CHARS
    assert all(unicodedata.category(ch) != "Cc" or ch in "\n\t" for ch in description)
    assert clean_description(description) == description


@PROPERTY
@given(ANY_TEXT, CONTROL.filter(lambda ch: ch not in "\n\t\r"), ANY_TEXT)
def test_descriptions_with_control_characters_are_refused(
    before: str, control: str, after: str
) -> None:
    with pytest.raises(InvalidInputError):
        clean_description("x" + before + control + after + "x")


NAME_UPDATE = "mutation($i: UpdateFileInput!) { updateFile(input: $i) { name version } }"


@pytest.fixture(scope="module")
def naming_client() -> SchemaClient:
    """A client of its own: renaming must not disturb the cursor properties' data."""
    client = SchemaClient()
    _run(client.sign_in(ALICE))
    _run(client.upload(ALICE, b"to be renamed", name="original.txt"))
    return client


OWN_FILE = "{ myFiles(first: 1) { edges { node { id name version } } } }"


@THROUGH_SCHEMA
@given(name=ANY_TEXT)
def test_a_name_through_the_schema_is_stored_as_given_or_refused(
    naming_client: SchemaClient, name: str
) -> None:
    node = _run(naming_client.execute(OWN_FILE, ALICE)).data["myFiles"]["edges"][0]["node"]
    update = {"i": {"id": node["id"], "name": name}}
    result = _run(naming_client.execute(NAME_UPDATE, ALICE, update))
    try:
        expected = clean_name(name)
    except InvalidInputError:
        assert result.codes == ["BAD_USER_INPUT"], result.errors
        after = _run(naming_client.execute(OWN_FILE, ALICE)).data["myFiles"]["edges"][0]["node"]
        assert after == node  # refused: nothing changed, not even the version
        return
    assert result.errors == [], result.errors
    assert result.data["updateFile"]["name"] == expected

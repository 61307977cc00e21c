"""The document cache: a query text is parsed and validated once, and whatever a client is
told about a bad document (parse errors, the token limit, validation) is the same on every
request, codes included."""

from typing import Any

import pytest
from strawberry.schema import schema as strawberry_schema

from resolvers.extensions import document_cache as cache_module
from resolvers.limits import QueryLimits
from resolvers.schema import build_schema

LONG = "{" + " __typename" * 60 + " }"


def _codes(result: Any) -> list[str]:
    return [error.extensions["code"] for error in result.errors or []]


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    seen = {"parse": 0, "validate": 0}
    real_parse = getattr(strawberry_schema, "parse")  # noqa: B009 - not re-exported
    real_validate = getattr(cache_module, "validate_document")  # noqa: B009

    def parse(*args: Any, **kwargs: Any) -> Any:
        seen["parse"] += 1
        return real_parse(*args, **kwargs)

    def validate(*args: Any) -> Any:
        seen["validate"] += 1
        return real_validate(*args)

    monkeypatch.setattr(strawberry_schema, "parse", parse)
    monkeypatch.setattr(cache_module, "validate_document", validate)
    return seen


async def test_a_repeated_query_is_parsed_and_validated_once(counts: dict[str, int]) -> None:
    schema = build_schema()
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.data == {"__typename": "Query"}
    assert counts == {"parse": 1, "validate": 1}


async def test_invalid_documents_answer_the_same_with_codes_every_time(
    counts: dict[str, int],
) -> None:
    schema = build_schema(limits=QueryLimits(max_tokens=50))
    for _ in range(3):
        assert _codes(await schema.execute("{ nope }")) == ["BAD_USER_INPUT"]
        assert _codes(await schema.execute(LONG)) == ["QUERY_TOO_COMPLEX"]
        assert _codes(await schema.execute("{ __typename")) == ["BAD_USER_INPUT"]
    # Only the document that parsed is kept; the others are parsed (and refused) each time.
    assert counts == {"parse": 1 + 3 + 3, "validate": 1}


async def test_the_cache_is_bounded_and_long_texts_are_not_kept(
    monkeypatch: pytest.MonkeyPatch, counts: dict[str, int]
) -> None:
    monkeypatch.setattr(cache_module, "MAX_CACHED_QUERY_CHARS", 40)
    schema = build_schema()
    long_alias = "{ " + "a" * 40 + ": __typename }"
    for _ in range(2):
        assert (await schema.execute(long_alias)).data == {"a" * 40: "Query"}
    assert counts["parse"] == 2
    # One schema's cache holds at most DEFAULT_ENTRIES texts: the first of 257 is gone.
    texts = [f"{{ a{n}: __typename }}" for n in range(cache_module.DEFAULT_ENTRIES + 1)]
    for text in texts:
        await schema.execute(text)
    before = counts["parse"]
    await schema.execute(texts[-1])
    assert counts["parse"] == before
    await schema.execute(texts[0])
    assert counts["parse"] == before + 1

"""ItemStore contract: query by partition and by index, prefixes, order and cursors."""

import base64
from typing import Any

import pytest

from adapters.items.cursors import encode_cursor
from domain.errors import InvalidInputError
from domain.ports import INDEXES, MAX_QUERY_LIMIT, Delete, Item, ItemStore, Key, index_keys
from tests.support.stores import put_all


def item(pk: str, sk: str, **attributes: Any) -> Item:
    return {"pk": pk, "sk": sk, **attributes}


async def query_all(store: ItemStore, partition: str, **options: Any) -> list[Item]:
    """Follow cursors to the end, checking each page honours the limit."""
    limit = options.pop("limit")
    items: list[Item] = []
    after = None
    for _ in range(1000):
        page = await store.query(partition, after=after, limit=limit, **options)
        assert len(page.items) <= limit
        items += page.items
        if page.cursor is None:
            return items
        assert page.items, "a page with a cursor must hold items"
        after = page.cursor
    raise AssertionError("pagination never ended")


def sort_keys(items: list[Item]) -> list[str]:
    return [entry["sk"] for entry in items]


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
async def test_query_returns_one_partition_in_sort_key_order(
    item_store: ItemStore, descending: bool
) -> None:
    await put_all(
        item_store,
        [item("P", sk) for sk in ["m", "b", "z", "a", "B"]] + [item("Q", "c"), item("PP", "d")],
    )

    page = await item_store.query("P", descending=descending)

    expected = ["B", "a", "b", "m", "z"]
    assert sort_keys(page.items) == (expected[::-1] if descending else expected)
    assert page.cursor is None


async def test_query_of_an_empty_partition_is_an_empty_last_page(item_store: ItemStore) -> None:
    await put_all(item_store, [item("P", "a")])
    page = await item_store.query("nothing-here")
    assert (page.items, page.cursor) == ([], None)


async def test_non_ascii_sort_keys_are_ordered_by_code_point(item_store: ItemStore) -> None:
    # Between U+E000..U+FFFF and astral characters, code point (UTF-8) order and UTF-16
    # order disagree; DynamoDB orders by UTF-8 bytes, so every adapter must too.
    sort_values = ["z", "A", "é", "ß", "€", "中", "\ue000", "\uff61", "😀", "𝄞", "\U0010ffff"]
    await put_all(
        item_store,
        [item("P", value, gsi1pk="G", gsi1sk=value) for value in sort_values],
    )

    table = await item_store.query("P")
    indexed = await item_store.query("G", index="gsi1", descending=True)

    assert sort_keys(table.items) == sorted(sort_values)
    assert [entry["gsi1sk"] for entry in indexed.items] == sorted(sort_values, reverse=True)
    assert sorted(sort_values).index("\ue000") < sorted(sort_values).index("😀")


async def test_prefix_selects_sort_keys_that_start_with_it(item_store: ItemStore) -> None:
    await put_all(
        item_store, [item("P", sk) for sk in ["A#1", "A#2", "A", "AB", "a#1", "A$", "B#1", "@"]]
    )

    page = await item_store.query("P", prefix="A#")
    reverse = await item_store.query("P", prefix="A#", descending=True)

    assert sort_keys(page.items) == ["A#1", "A#2"]
    assert sort_keys(reverse.items) == ["A#2", "A#1"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("50%", ["50%_off", "50%x"]),
        ("50_", ["50_off"]),
        ("a_c", ["a_c"]),
        ("100%", []),
        ("%", ["%"]),
        ("_", ["_"]),
    ],
)
async def test_prefix_treats_wildcard_characters_literally(
    item_store: ItemStore, prefix: str, expected: list[str]
) -> None:
    sort_values = ["50%_off", "50%x", "50_off", "500", "50Xoff", "abc", "a_c", "%", "_", "x"]
    await put_all(item_store, [item("P", value) for value in sort_values])

    assert sort_keys((await item_store.query("P", prefix=prefix)).items) == expected


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        # The character after U+D7FF is a surrogate; none follows U+10FFFF.
        ("x\ud7ff", ["x\ud7ff", "x\ud7ff1"]),
        ("x\U0010ffff", ["x\U0010ffff", "x\U0010ffffz"]),
        ("\U0010ffff", ["\U0010ffff", "\U0010ffffz"]),
        ("é", ["é", "éa"]),
    ],
)
async def test_prefix_ending_in_extreme_characters(
    item_store: ItemStore, prefix: str, expected: list[str]
) -> None:
    sort_values = ["x", "x\ud7fe", "x\ud7ff", "x\ud7ff1", "x\ue000", "x\U0010ffff"]
    sort_values += ["x\U0010ffffz", "y", "\U0010ffff", "\U0010ffffz", "e", "é", "éa", "ê"]
    await put_all(item_store, [item("P", value) for value in sort_values])

    assert sort_keys((await item_store.query("P", prefix=prefix)).items) == expected


@pytest.mark.parametrize("index", INDEXES)
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
async def test_query_by_index_orders_by_index_sort_key(
    item_store: ItemStore, index: str, descending: bool
) -> None:
    pk_attr, sk_attr = index_keys(index)
    await put_all(
        item_store,
        [
            item("FILE#1", "META", **{pk_attr: "OWNER#1", sk_attr: "2024-03"}),
            item("FILE#2", "META", **{pk_attr: "OWNER#1", sk_attr: "2024-01"}),
            item("FILE#3", "META", **{pk_attr: "OWNER#2", sk_attr: "2024-02"}),
            item("FILE#4", "META", **{pk_attr: "OWNER#1", sk_attr: "2023-12"}),
            item("OWNER#1", "2024-02"),  # the table key must not leak into the index
        ],
    )

    page = await item_store.query("OWNER#1", index=index, descending=descending)
    prefixed = await item_store.query("OWNER#1", index=index, prefix="2024-")

    expected = ["FILE#4", "FILE#2", "FILE#1"]
    assert [entry["pk"] for entry in page.items] == (expected[::-1] if descending else expected)
    assert [entry["pk"] for entry in prefixed.items] == ["FILE#2", "FILE#1"]


async def test_items_without_both_index_keys_are_not_in_the_index(item_store: ItemStore) -> None:
    await put_all(
        item_store,
        [
            item("A", "1", gsi1pk="G", gsi1sk="1"),
            item("B", "1", gsi1pk="G"),
            item("C", "1", gsi1sk="1"),
            item("D", "1", gsi2pk="G", gsi2sk="1"),
            item("G", "1"),
        ],
    )

    assert [entry["pk"] for entry in (await item_store.query("G", index="gsi1")).items] == ["A"]
    assert [entry["pk"] for entry in (await item_store.query("G", index="gsi2")).items] == ["D"]


async def test_removing_index_keys_takes_an_item_out_of_the_index(item_store: ItemStore) -> None:
    await put_all(item_store, [item("A", "1", gsi1pk="G", gsi1sk="1")])
    await put_all(item_store, [item("A", "1", gsi2pk="G", gsi2sk="1")])

    assert (await item_store.query("G", index="gsi1")).items == []
    assert len((await item_store.query("G", index="gsi2")).items) == 1


async def test_index_ties_are_ordered_by_table_key(item_store: ItemStore) -> None:
    table_keys = [("B", "2"), ("A", "9"), ("B", "10"), ("A", "10"), ("C", "0")]
    await put_all(item_store, [item(pk, sk, gsi1pk="G", gsi1sk="same") for pk, sk in table_keys])

    ascending = await item_store.query("G", index="gsi1")
    descending = await item_store.query("G", index="gsi1", descending=True)
    paged = await query_all(item_store, "G", index="gsi1", limit=2)

    expected = sorted(table_keys)
    assert [(entry["pk"], entry["sk"]) for entry in ascending.items] == expected
    assert [(entry["pk"], entry["sk"]) for entry in descending.items] == expected[::-1]
    assert [(entry["pk"], entry["sk"]) for entry in paged] == expected


PAGING_ITEMS: list[Item] = [
    *(item("P", f"S#{i:02}", gsi1pk="G", gsi1sk=f"T#{i % 6}") for i in range(23)),
    *(item("P", f"R#{i}", gsi1pk="G", gsi1sk=f"R#{i}") for i in range(4)),
    item("Q", "S#99", gsi1pk="H", gsi1sk="T#0"),
]


def expected_order(
    partition: str, index: str | None, prefix: str | None, descending: bool
) -> list[Item]:
    """The contract spelled out: filter one partition, order by (sort key, table key)."""
    pk_attr, sk_attr = index_keys(index) if index else ("pk", "sk")
    chosen = [
        entry
        for entry in PAGING_ITEMS
        if entry.get(pk_attr) == partition and entry[sk_attr].startswith(prefix or "")
    ]
    return sorted(
        chosen, key=lambda entry: (entry[sk_attr], entry["pk"], entry["sk"]), reverse=descending
    )


@pytest.mark.parametrize("index", [None, "gsi1"], ids=["table", "index"])
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("prefix", [None, "S#", "T#"], ids=["all", "prefix-S", "prefix-T"])
@pytest.mark.parametrize("limit", [1, 5])
async def test_following_cursors_yields_the_full_result_once(
    item_store: ItemStore, index: str | None, descending: bool, prefix: str | None, limit: int
) -> None:
    await put_all(item_store, PAGING_ITEMS)
    partition = "G" if index else "P"
    options: dict[str, Any] = {"index": index, "descending": descending, "prefix": prefix}

    full = await item_store.query(partition, limit=MAX_QUERY_LIMIT, **options)
    paged = await query_all(item_store, partition, limit=limit, **options)

    expected = expected_order(partition, index, prefix, descending)
    assert full.items == expected and full.cursor is None
    assert paged == expected
    assert len({(entry["pk"], entry["sk"]) for entry in paged}) == len(paged)


def table_keys(items: list[Item]) -> list[tuple[str, str]]:
    return [(entry["pk"], entry["sk"]) for entry in items]


@pytest.mark.parametrize("index", [None, "gsi1"], ids=["table", "index"])
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("prefixed", [False, True], ids=["all", "prefix"])
async def test_item_cursors_resume_after_their_item_or_before_it_in_reverse(
    item_store: ItemStore, index: str | None, descending: bool, prefixed: bool
) -> None:
    """Paging backward asks the same query in the other direction from an item's cursor:
    it must answer exactly the items before that one, nearest first."""
    await put_all(item_store, PAGING_ITEMS)
    partition = "G" if index else "P"
    prefix = ("T#" if index else "S#") if prefixed else None
    options: dict[str, Any] = {"index": index, "prefix": prefix}
    page = await item_store.query(partition, limit=7, descending=descending, **options)
    expected = expected_order(partition, index, prefix, descending)

    assert len(page.item_cursors) == len(page.items) == 7
    assert page.cursor == page.item_cursors[-1]
    for i, cursor in enumerate(page.item_cursors):
        onward = await item_store.query(
            partition, limit=MAX_QUERY_LIMIT, descending=descending, after=cursor, **options
        )
        back = await item_store.query(
            partition, limit=MAX_QUERY_LIMIT, descending=not descending, after=cursor, **options
        )
        assert table_keys(onward.items) == table_keys(expected[i + 1 :])
        assert table_keys(back.items) == table_keys(expected[:i][::-1])


async def test_a_reversed_cursor_still_works_after_its_item_is_deleted(
    item_store: ItemStore,
) -> None:
    await put_all(item_store, [item("P", f"{i}", gsi1pk="G", gsi1sk=f"{i}") for i in range(6)])
    page = await item_store.query("G", index="gsi1", limit=6, descending=True)  # 5 4 3 2 1 0
    named_3 = page.item_cursors[2]

    await item_store.write([Delete(Key("P", "3")), Delete(Key("P", "4"))])

    back = await item_store.query("G", index="gsi1", limit=10, after=named_3)
    assert sort_keys(back.items) == ["5"]


async def test_an_empty_page_has_no_item_cursors(item_store: ItemStore) -> None:
    page = await item_store.query("nothing-here")
    assert page.item_cursors == []


async def test_cursor_is_none_exactly_when_nothing_follows(item_store: ItemStore) -> None:
    await put_all(item_store, [item("P", f"{i:02}") for i in range(10)])

    whole = await item_store.query("P", limit=10)
    first = await item_store.query("P", limit=5)
    second = await item_store.query("P", limit=5, after=first.cursor)
    short = await item_store.query("P", limit=9)

    assert len(whole.items) == 10 and whole.cursor is None
    assert first.cursor is not None
    assert sort_keys(second.items) == ["05", "06", "07", "08", "09"] and second.cursor is None
    assert short.cursor is not None


async def test_cursor_still_works_after_its_item_is_deleted(item_store: ItemStore) -> None:
    await put_all(item_store, [item("P", f"{i}", gsi1pk="G", gsi1sk=f"{i}") for i in range(6)])
    table_page = await item_store.query("P", limit=3)
    index_page = await item_store.query("G", index="gsi1", limit=3, descending=True)

    await item_store.write([Delete(Key("P", "2")), Delete(Key("P", "3"))])

    rest = await item_store.query("P", limit=10, after=table_page.cursor)
    index_rest = await item_store.query(
        "G", index="gsi1", limit=10, descending=True, after=index_page.cursor
    )
    assert sort_keys(rest.items) == ["4", "5"]
    assert sort_keys(index_rest.items) == ["1", "0"]


@pytest.mark.parametrize("limit", [0, -1, MAX_QUERY_LIMIT + 1])
async def test_limit_out_of_bounds_is_refused(item_store: ItemStore, limit: int) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.query("P", limit=limit)


async def test_limit_bounds_themselves_are_accepted(item_store: ItemStore) -> None:
    await put_all(item_store, [item("P", f"{i}") for i in range(3)])
    assert len((await item_store.query("P", limit=1)).items) == 1
    assert len((await item_store.query("P", limit=MAX_QUERY_LIMIT)).items) == 3


async def test_unknown_index_is_refused(item_store: ItemStore) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.query("P", index="gsi99")


async def test_query_keys_that_cannot_be_stored_are_refused(item_store: ItemStore) -> None:
    with pytest.raises(InvalidInputError):
        await item_store.query("P\ud800")
    with pytest.raises(InvalidInputError):
        await item_store.query("P", prefix="\udfff")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MALFORMED_CURSORS = {
    "not-base64": "!!!%%%",
    "empty": "",
    "not-json": b64(b"not json"),
    "not-utf8": b64(b"\xff\xfe\xfd"),
    "object": b64(b'{"sk": "a"}'),
    "number-part": encode_cursor([1]),  # type: ignore[list-item]
    "too-many-parts": encode_cursor(["a", "b"]),
    "nested": b64(b"[" * 1500),
    "surrogate": b64(b'["\\ud800"]'),
    "too-long": encode_cursor(["a" * 5000]),
    "empty-part": encode_cursor([""]),
}


@pytest.mark.parametrize("cursor", MALFORMED_CURSORS.values(), ids=MALFORMED_CURSORS.keys())
async def test_malformed_cursor_is_refused(item_store: ItemStore, cursor: str) -> None:
    await put_all(item_store, [item("P", "a"), item("P", "b")])
    with pytest.raises(InvalidInputError):
        await item_store.query("P", after=cursor)


async def test_tampered_or_mismatched_cursor_is_refused(item_store: ItemStore) -> None:
    await put_all(item_store, [item("P", f"{i}", gsi1pk="P", gsi1sk=f"{i}") for i in range(4)])
    table_cursor = (await item_store.query("P", limit=1)).cursor
    index_cursor = (await item_store.query("P", index="gsi1", limit=1)).cursor
    assert table_cursor is not None and index_cursor is not None

    with pytest.raises(InvalidInputError):
        await item_store.query("P", after=table_cursor[:-3])
    with pytest.raises(InvalidInputError):
        await item_store.query("P", index="gsi1", after=table_cursor)
    with pytest.raises(InvalidInputError):
        await item_store.query("P", after=index_cursor)

"""Client cursors: a signed ItemStore position, bound to its query, viewer and filter."""

import pytest

from domain.cursor_signer import CursorSigner
from domain.errors import InvalidInputError
from domain.files import FileFilter, clean_filter
from tests.support.file_world import make_world

KEY = bytes(range(32))
POSITION = '["2024-05-01T12:00:00.000000Z#file0001","FILE#file0001","META"]'
CONTEXT = {"query": "myFiles", "viewer_id": "id-alice", "filter_hash": "f1"}


@pytest.fixture
def signer() -> CursorSigner:
    return CursorSigner(KEY)


def test_a_signed_cursor_gives_back_its_position(signer: CursorSigner) -> None:
    cursor = signer.sign(POSITION, **CONTEXT)
    assert cursor.isascii() and POSITION not in cursor
    assert signer.verify(cursor, **CONTEXT) == POSITION


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("where", ["version", "payload", "mac", "truncated", "extended"])
def test_a_tampered_cursor_is_refused(signer: CursorSigner, where: str) -> None:
    cursor = signer.sign(POSITION, **CONTEXT)
    version_end, mac_start = cursor.index("."), cursor.rindex(".") + 1
    tampered = {
        "version": "c2" + cursor[version_end:],
        "payload": flip(cursor, version_end + 5),
        "mac": flip(cursor, mac_start + 3),
        "truncated": cursor[:-1],
        "extended": cursor + "A",
    }[where]
    with pytest.raises(InvalidInputError, match="Invalid cursor"):
        signer.verify(tampered, **CONTEXT)


@pytest.mark.parametrize("garbage", ["", ".", "..", "c1..", "x" * 5000, "c1.\ud800.x"], ids=repr)
def test_garbage_is_refused(signer: CursorSigner, garbage: str) -> None:
    with pytest.raises(InvalidInputError, match="Invalid cursor"):
        signer.verify(garbage, **CONTEXT)


@pytest.mark.parametrize(
    "other",
    [
        {"query": "sharedWithMe"},
        {"viewer_id": "id-bob"},
        {"filter_hash": "f2"},
        {"filter_hash": ""},
    ],
    ids=["another-query", "another-user", "another-filter", "no-filter"],
)
def test_a_cursor_is_refused_in_another_context(
    signer: CursorSigner, other: dict[str, str]
) -> None:
    cursor = signer.sign(POSITION, **CONTEXT)
    with pytest.raises(InvalidInputError, match="Invalid cursor"):
        signer.verify(cursor, **(CONTEXT | other))


def test_a_cursor_signed_with_another_key_is_refused(signer: CursorSigner) -> None:
    cursor = CursorSigner(bytes(32)).sign(POSITION, **CONTEXT)
    with pytest.raises(InvalidInputError):
        signer.verify(cursor, **CONTEXT)


def test_a_short_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CursorSigner(b"short")


async def test_signed_cursors_page_through_my_files(signer: CursorSigner) -> None:
    world = make_world()
    alice = await world.user("alice")
    for _ in range(5):
        world.clock.advance(1)
        await world.ready(alice)
    wanted = clean_filter(FileFilter(content_type_prefix="text/"))
    context = {"query": "myFiles", "viewer_id": alice.user_id, "filter_hash": wanted.fingerprint()}

    seen: list[str] = []
    cursor: str | None = None
    while True:
        after: str | None = signer.verify(cursor, **context) if cursor else None
        page = await world.service.list_files_of(
            alice, alice.user_id, first=2, after=after, file_filter=wanted
        )
        seen += [record.id for record in page.records]
        if page.next_position is None:
            break
        cursor = signer.sign(page.next_position, **context)
    assert seen == ["file0005", "file0004", "file0003", "file0002", "file0001"]

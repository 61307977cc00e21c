"""What createUpload accepts, how it normalises it, and that a refusal writes nothing."""

import unicodedata
from typing import Any

import pytest

from domain.errors import InvalidInputError
from domain.files import FileFilter, NewFile, clean_filter
from domain.models import FileStatus, Visibility
from tests.support.file_world import PENDING_TTL, T0, World, file_items_of, make_world


@pytest.fixture
def world() -> World:
    return make_world(max_upload_bytes=1000)


def declare(**overrides: Any) -> NewFile:
    fields: dict[str, Any] = {"name": "report.pdf", "content_type": "application/pdf", "size": 10}
    return NewFile(**(fields | overrides))


async def refused(world: World, field: str, **overrides: Any) -> InvalidInputError:
    owner = await world.user("alice")
    with pytest.raises(InvalidInputError) as raised:
        await world.service.create_upload(owner, declare(**overrides))
    assert field in str(raised.value)
    assert file_items_of(world.items) == []
    assert not [key for key in world.items.items if key[1] == "USAGE"]
    return raised.value


async def accepted(world: World, **overrides: Any) -> Any:
    owner = await world.user("alice")
    record, _ = await world.service.create_upload(owner, declare(**overrides))
    return record


# --- name -----------------------------------------------------------------------------


async def test_a_name_of_255_characters_is_accepted(world: World) -> None:
    record = await accepted(world, name="a" * 251 + ".pdf")
    assert len(record.name) == 255


async def test_a_name_of_256_characters_is_refused(world: World) -> None:
    await refused(world, "name", name="a" * 252 + ".pdf")


async def test_a_decomposed_name_counts_after_nfc_composition(world: World) -> None:
    decomposed = "a" * 254 + "e\u0301"  # 256 code points, 255 once composed
    assert len(decomposed) == 256
    record = await accepted(world, name=decomposed)
    assert record.name == "a" * 254 + "\u00e9"
    assert unicodedata.is_normalized("NFC", record.name)


async def test_a_decomposed_name_still_too_long_when_composed_is_refused(world: World) -> None:
    await refused(world, "name", name="a" * 255 + "e\u0301")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b.txt",
        "a\\b.txt",
        "nul\x00.txt",
        "line\nbreak.txt",
        "tab\t.txt",
        "del\x7f.txt",
        "invoice\u202efdp.exe",
        "sep\u2028.txt",
        "   ",
        ".",
        "..",
        "lone\ud800.txt",
    ],
    ids=repr,
)
async def test_names_with_forbidden_characters_are_refused(world: World, name: str) -> None:
    await refused(world, "name", name=name)


@pytest.mark.parametrize(
    "name", ["Résumé 2024 (final).pdf", "日本語のファイル.txt", "👩‍💻 notes.md", ".bashrc", "a"]
)
async def test_ordinary_names_in_any_script_are_kept_as_given(world: World, name: str) -> None:
    assert (await accepted(world, name=name)).name == name


async def test_the_blob_key_comes_from_the_server_made_id_not_the_name(world: World) -> None:
    record = await accepted(world, name="holiday photos.jpg")
    assert record.blob_key == f"files/{record.id}/blob"
    assert "holiday" not in record.blob_key


# --- content type, size, checksum ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("text/plain", "text/plain"),
        ("Image/PNG", "image/png"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None),
        ("application/ld+json", None),
        ("a" * 127 + "/" + "b" * 127, None),
    ],
)
async def test_media_types_are_accepted_and_lowercased(
    world: World, given: str, stored: str | None
) -> None:
    assert (await accepted(world, content_type=given)).content_type == (stored or given)


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "text",
        "text/",
        "/plain",
        "text/plain; charset=utf-8",
        "text/pl ain",
        "tëxt/plain",
        "text/plain\r\nX-Evil: 1",
        "-text/plain",
        "a" * 128 + "/b",
        "text/plain/extra",
    ],
    ids=repr,
)
async def test_malformed_media_types_are_refused(world: World, content_type: str) -> None:
    await refused(world, "contentType", content_type=content_type)


@pytest.mark.parametrize("size", [1, 1000])
async def test_sizes_at_the_bounds_are_accepted(world: World, size: int) -> None:
    assert (await accepted(world, size=size)).size == size


@pytest.mark.parametrize("size", [0, -1, 1001, True, 1.5, "10"], ids=repr)
async def test_sizes_outside_the_bounds_are_refused(world: World, size: object) -> None:
    error = await refused(world, "size", size=size)
    if size == 1001:
        assert "1000" in str(error)


async def test_a_declared_sha256_is_stored_lowercase(world: World) -> None:
    assert (await accepted(world, sha256="AB" * 32)).sha256 == "ab" * 32


@pytest.mark.parametrize("sha256", ["", "a" * 63, "a" * 65, "g" * 64, "ab" * 31 + " a"], ids=repr)
async def test_malformed_sha256_is_refused(world: World, sha256: str) -> None:
    await refused(world, "sha256", sha256=sha256)


# --- tags, description, visibility -----------------------------------------------------


async def test_tags_are_normalised_and_deduplicated_in_order(world: World) -> None:
    record = await accepted(
        world, tags=["Tax 2024", " tax   2024 ", "RECEIPTS", "cafe\u0301", "Café", "receipts"]
    )
    assert record.tags == ("tax 2024", "receipts", "café")


async def test_twenty_different_tags_are_accepted_even_with_repeats(world: World) -> None:
    tags = [f"t{i}" for i in range(20)] + ["T0", "t19"]
    assert len((await accepted(world, tags=tags)).tags) == 20


async def test_a_twenty_first_different_tag_is_refused(world: World) -> None:
    await refused(world, "tags", tags=[f"t{i}" for i in range(21)])


@pytest.mark.parametrize(("tag", "ok"), [("x" * 50, True), ("x" * 51, False), ("  ", False)])
async def test_tag_length_counts_after_trimming(world: World, tag: str, ok: bool) -> None:
    if ok:
        assert (await accepted(world, tags=[f"  {tag.upper()} "])).tags == (tag,)
    else:
        await refused(world, "tags", tags=[tag])


async def test_tags_with_control_characters_are_refused(world: World) -> None:
    await refused(world, "tags", tags=["ok", "bad\x00"])


async def test_description_of_2000_characters_is_accepted(world: World) -> None:
    text = "line one\n\tindented " + "x" * 1981
    assert len(text) == 2000
    assert (await accepted(world, description=text)).description == text


async def test_description_of_2001_characters_is_refused(world: World) -> None:
    await refused(world, "description", description="x" * 2001)


async def test_blank_description_is_no_description(world: World) -> None:
    assert (await accepted(world, description="  \n ")).description is None


async def test_description_with_control_characters_is_refused(world: World) -> None:
    await refused(world, "description", description="bell\x07")


async def test_new_files_are_private_and_pending_unless_asked(world: World) -> None:
    record = await accepted(world)
    assert (record.visibility, record.status, record.version) == (
        Visibility.PRIVATE,
        FileStatus.PENDING,
        1,
    )
    assert record.expires_at == int(T0.timestamp()) + PENDING_TTL
    assert (await accepted(world, visibility=Visibility.PUBLIC)).visibility is Visibility.PUBLIC


async def test_visibility_must_be_the_enum(world: World) -> None:
    await refused(world, "visibility", visibility="PUBLIC")


# --- listing filters --------------------------------------------------------------------


def test_equivalent_filters_are_one_filter() -> None:
    loose = clean_filter(FileFilter(content_type_prefix=" Image/", tag=" Holiday "))
    tight = clean_filter(FileFilter(content_type_prefix="image/", tag="holiday"))
    assert loose == tight and loose.fingerprint() == tight.fingerprint()
    assert loose.fingerprint() != clean_filter(FileFilter(tag="holiday")).fingerprint()


def test_a_malformed_filter_tag_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"filter\.tag"):
        clean_filter(FileFilter(tag="x" * 51))

"""The multipart rules over the in-memory stores: the part plan, the threshold, the
quota held from createUpload on, and a completion that ran out of time after the store
assembled the parts, completed by the client's retry."""

from dataclasses import replace

import pytest

from adapters.blobs.rules import sha256_hex_to_b64
from domain.errors import InvalidInputError
from domain.files import CompletedPart, FileLimits, NewFile
from domain.files.multipart import plan
from domain.models import FileStatus
from tests.support.file_world import make_world, sha256_hex

MIB = 1024 * 1024
DATA = bytes(range(256)) * 40  # 10 KiB


def limits(**overrides: int) -> FileLimits:
    fields = {
        "max_upload_bytes": 5 * 1024**4,
        "quota_bytes": 10**13,
        "pending_ttl_seconds": 3600,
        "upload_expiry_seconds": 900,
    }
    return FileLimits(**(fields | overrides))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, (16 * MIB, 1)),
        (16 * MIB, (16 * MIB, 1)),
        (16 * MIB + 1, (16 * MIB, 2)),
        (48 * MIB, (16 * MIB, 3)),
        # S3's 10,000 parts: larger (whole MiB) parts for larger files.
        (10_000 * 16 * MIB + 1, (17 * MIB, 9412)),
        (5 * 1024**4, (525 * MIB, 9987)),
    ],
)
def test_the_plan_keeps_to_s3s_rules(size: int, expected: tuple[int, int]) -> None:
    part_size, count = plan(limits(), size)
    assert (part_size, count) == expected
    assert count <= 10_000 and part_size >= 5 * MIB
    assert (count - 1) * part_size < size <= count * part_size


async def test_sizes_over_the_threshold_go_in_parts_and_reserve_the_whole_size() -> None:
    world = make_world(
        max_upload_bytes=MIB, multipart_threshold_bytes=len(DATA) - 1, multipart_part_bytes=4096
    )
    alice = await world.user("alice")
    record, target = await world.service.create_upload(
        alice, NewFile(name="a.bin", content_type="text/plain", size=len(DATA))
    )
    assert target is None and record.multipart is not None
    assert (record.multipart.part_size, record.multipart.part_count) == (4096, 3)
    usage = await world.service.repository.usage(alice.user_id)
    assert usage.used_bytes == len(DATA)


async def test_multipart_uploads_over_the_inline_verify_limit_need_part_checksums() -> None:
    world = make_world(
        max_upload_bytes=MIB, multipart_part_bytes=4096, multipart_inline_verify_max_bytes=8192
    )
    alice = await world.user("alice")
    new = NewFile(name="a.bin", content_type="text/plain", size=len(DATA), multipart=True)
    with pytest.raises(InvalidInputError, match="partChecksums: true"):
        await world.service.create_upload(alice, new)
    usage = await world.service.repository.usage(alice.user_id)
    assert usage.used_bytes == 0  # refused before anything was reserved
    record, _ = await world.service.create_upload(alice, replace(new, part_checksums=True))
    assert record.multipart is not None and record.multipart.part_checksums
    small = replace(new, size=8192)  # at the limit the assembled file is still hashed
    record, _ = await world.service.create_upload(alice, small)
    assert record.multipart is not None and not record.multipart.part_checksums


async def test_a_completion_cut_off_after_assembly_is_finished_by_a_retry() -> None:
    world = make_world(max_upload_bytes=MIB, multipart_part_bytes=4096)
    alice = await world.user("alice")
    record, _ = await world.service.create_upload(
        alice,
        NewFile(
            name="a.bin",
            content_type="text/plain",
            size=len(DATA),
            sha256=sha256_hex(DATA),
            multipart=True,
        ),
    )
    upload = record.multipart
    assert upload is not None
    parts = []
    for target in await world.service.upload_parts(alice, record.id, [1, 2, 3]):
        n = target.part_number
        etag = world.blobs.receive_part(target.url, DATA[(n - 1) * 4096 : n * 4096], {})
        parts.append(CompletedPart(n, etag))
    # The first completion's store call finished; the request did not live to save READY.
    await world.blobs.complete_multipart(
        upload.key, upload.upload_id, [(p.part_number, p.etag) for p in parts]
    )

    ready = await world.service.complete_upload(alice, record.id, parts)

    assert (ready.status, ready.sha256, ready.blob_key) == (
        FileStatus.READY,
        sha256_hex(DATA),
        upload.key,
    )
    assert world.blobs.objects[upload.key].data == DATA
    assert upload.key in world.blobs.confirmed


async def test_a_multipart_flag_that_is_not_a_boolean_is_refused() -> None:
    world = make_world()
    alice = await world.user("alice")
    with pytest.raises(InvalidInputError):
        await world.service.create_upload(
            alice,
            NewFile(name="a", content_type="text/plain", size=1, multipart="yes"),  # type: ignore[arg-type]
        )


def chunk(n: int) -> bytes:
    return DATA[(n - 1) * 4096 : n * 4096]


async def test_part_checksums_are_all_or_none_and_survive_a_reopened_upload() -> None:
    """The store's upload is opened with part checksums or without (S3 fixes it then), so
    uploadParts wants one per part for such an upload, and none for another; a mismatch
    of the whole file reopens the upload with part checksums still on."""
    world = make_world(max_upload_bytes=MIB, multipart_part_bytes=4096)
    alice = await world.user("alice")
    new = NewFile(
        name="a.bin",
        content_type="text/plain",
        size=len(DATA),
        sha256=sha256_hex(b"not these bytes"),
        multipart=True,
        part_checksums=True,
    )
    record, _ = await world.service.create_upload(alice, new)
    assert record.multipart is not None and record.multipart.part_checksums
    sums = [sha256_hex(chunk(n)) for n in (1, 2, 3)]
    for wrong in (None, sums[:2], [*sums[:2], "xyz"]):
        with pytest.raises(InvalidInputError):
            await world.service.upload_parts(alice, record.id, [1, 2, 3], wrong)
    parts = []
    for target in await world.service.upload_parts(alice, record.id, [1, 2, 3], sums):
        n = target.part_number
        assert target.headers == {"x-amz-checksum-sha256": sha256_hex_to_b64(sums[n - 1])}
        etag = world.blobs.receive_part(target.url, chunk(n), target.headers)
        parts.append(CompletedPart(n, etag, sums[n - 1]))

    with pytest.raises(InvalidInputError, match="SHA-256"):
        await world.service.complete_upload(alice, record.id, parts)

    reopened = await world.service.get_file(alice, record.id)
    assert reopened is not None and reopened.multipart is not None
    assert reopened.multipart.part_checksums
    assert reopened.multipart.upload_id != record.multipart.upload_id
    with pytest.raises(InvalidInputError):
        await world.service.upload_parts(alice, record.id, [1])

    plain, _ = await world.service.create_upload(alice, replace(new, part_checksums=False))
    with pytest.raises(InvalidInputError, match="without partChecksums"):
        await world.service.upload_parts(alice, plain.id, [1], sums[:1])

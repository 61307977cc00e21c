"""The composite checksum of a multipart upload with part checksums: what the server
expects S3 to report for the parts it listed, and how the S3 adapter reads S3's answer. A
composite is never taken for the hash of the bytes."""

import asyncio
import base64
import hashlib

import pytest
from botocore.stub import Stubber
from moto.s3.models import MultipartChecksumBuilder

from adapters.blobs.s3 import S3BlobStore
from domain.files.multipart import composite_sha256
from domain.ports import BlobInfo
from tests.support.blob_backends import sigv4_s3_client

PARTS = [b"first part", b"second part", b"the last"]


def test_the_composite_is_s3s_checksum_of_the_part_checksums() -> None:
    # moto's builder is an implementation of S3's rule independent of ours.
    builder = MultipartChecksumBuilder("SHA256", None)
    for part in PARTS:
        builder.addPart(part)
    kind, value, count = builder.build()  # type: ignore[misc]
    digests = [hashlib.sha256(part).hexdigest() for part in PARTS]
    assert (kind, composite_sha256(digests)) == ("COMPOSITE", f"{value}-{count}")
    assert composite_sha256(digests).endswith("-3")


def test_the_composite_depends_on_the_parts_order() -> None:
    digests = [hashlib.sha256(part).hexdigest() for part in PARTS]
    swapped = [digests[1], digests[0], digests[2]]
    assert composite_sha256(swapped) != composite_sha256(digests)


def _head(answer: dict[str, object]) -> BlobInfo | None:
    client = sigv4_s3_client("http://127.0.0.1:9")  # never contacted: the stubber answers
    store = S3BlobStore(client, "bucket")
    with Stubber(client) as stub:
        response = {"ContentLength": 30, "ContentType": "application/octet-stream", **answer}
        expected = {"Bucket": "bucket", "Key": "files/f/ready-1", "ChecksumMode": "ENABLED"}
        stub.add_response("head_object", response, expected)
        return asyncio.run(store.head("files/f/ready-1"))


WHOLE = hashlib.sha256(b"whole").digest()
COMPOSITE = base64.b64encode(hashlib.sha256(b"parts").digest()).decode() + "-3"


@pytest.mark.parametrize(
    ("answer", "sha256", "composite"),
    [
        ({"ChecksumSHA256": COMPOSITE, "ChecksumType": "COMPOSITE"}, None, COMPOSITE),
        ({"ChecksumSHA256": COMPOSITE}, None, COMPOSITE),  # the "-N" alone marks it
        # A composite without its part count is neither: never read as the bytes' hash.
        ({"ChecksumSHA256": COMPOSITE[:-2], "ChecksumType": "COMPOSITE"}, None, None),
        ({"ChecksumSHA256": base64.b64encode(WHOLE).decode()}, WHOLE.hex(), None),
        (
            {"ChecksumSHA256": base64.b64encode(WHOLE).decode(), "ChecksumType": "FULL_OBJECT"},
            WHOLE.hex(),
            None,
        ),
        ({}, None, None),
    ],
)
def test_s3_reports_a_composite_apart_from_a_whole_object_sha256(
    answer: dict[str, object], sha256: str | None, composite: str | None
) -> None:
    info = _head(answer)
    assert info is not None
    assert (info.sha256, info.composite_sha256) == (sha256, composite)

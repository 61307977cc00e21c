"""The S3 adapter signs a part's checksum into its presigned UploadPart: S3 then checks the
request carries exactly that x-amz-checksum-sha256 (the signature) and that the bytes match
it (BadDigest). Presigning is local computation: nothing is contacted here, and the URL's
signature is never printed (assertions name only the signed header list)."""

import asyncio
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.blobs.rules import sha256_hex_to_b64
from adapters.blobs.s3 import S3BlobStore
from domain.errors import InvalidInputError
from tests.support.blob_backends import sigv4_s3_client

KEY = "files/f-mp/ready-0123456789abcdef"
SHA256 = hashlib.sha256(b"part one").hexdigest()


def store() -> S3BlobStore:
    client = sigv4_s3_client("http://127.0.0.1:9")  # never contacted: presigning is local
    return S3BlobStore(client, "bucket", max_expiry=3600)


def signed_headers(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")


def test_a_part_with_a_checksum_is_signed_for_that_header() -> None:
    target = asyncio.run(
        store().presign_part(KEY, "upload-1", 2, size=1000, expires_in=60, sha256=SHA256.upper())
    )
    assert "x-amz-checksum-sha256" in signed_headers(target.url)
    assert "content-length" in signed_headers(target.url)
    # The client sends exactly this header (and, as S3 wants it, base64 of the digest).
    assert target.headers == {"x-amz-checksum-sha256": sha256_hex_to_b64(SHA256)}
    # No algorithm header to send besides: the checksum alone names it.
    assert "x-amz-sdk-checksum-algorithm" not in signed_headers(target.url)


def test_a_part_without_a_checksum_signs_no_checksum_header() -> None:
    target = asyncio.run(store().presign_part(KEY, "upload-1", 2, size=1000, expires_in=60))
    assert signed_headers(target.url) == ["content-length", "host"]
    assert target.headers == {}


def test_a_malformed_checksum_is_refused_before_signing() -> None:
    with pytest.raises(InvalidInputError):
        asyncio.run(
            store().presign_part(KEY, "upload-1", 2, size=1000, expires_in=60, sha256="abc")
        )

"""The rules both blob stores share: which keys, declarations and expiries they accept,
and how a download names its file."""

import base64
import email.message
import email.utils
import hashlib

import pytest

from adapters.blobs.rules import (
    MAX_BLOB_SIZE,
    MAX_FILENAME_LENGTH,
    check_content_type,
    check_expiry,
    check_filename,
    check_max_expiry,
    check_size,
    content_disposition,
    normalize_sha256_hex,
    sha256_b64_to_hex,
    sha256_hex_to_b64,
    validate_key,
)
from domain.errors import InvalidInputError


def parse_disposition(header: str) -> tuple[str, str, str]:
    """(disposition type, plain filename, RFC 5987 filename*) as the standard library's
    MIME parser (RFC 2231, a superset of RFC 5987) reads them."""
    message = email.message.Message()
    message["Content-Disposition"] = header
    params = message.get_params(header="content-disposition")
    assert params is not None
    kind = params[0][0]
    plain = [value for name, value in params[1:] if isinstance(value, str)]
    encoded = [value for name, value in params[1:] if isinstance(value, tuple)]
    assert len(plain) == 1 and len(encoded) == 1, header
    return kind, email.utils.unquote(plain[0]), email.utils.collapse_rfc2231_value(encoded[0])


@pytest.mark.parametrize(
    "key",
    ["files/abc/blob", "a", "A-Z_0.9", "files/f-1/v2/blob.bin", "x" * 200, "/".join(["ab"] * 170)],
)
def test_server_made_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/",
        "/abs",
        "../x",
        "files/../x",
        "files/..",
        "./x",
        "files/./x",
        "files//x",
        "files/x/",
        ".hidden",
        "files/.blob.meta.json",
        "files/x y",
        "files/x%2F..",
        "files\\x",
        "files/é",
        "files/x\x00",
        "files/x\n",
        "x" * 201,
        "/".join(["ab"] * 172),  # 515 characters
        None,
        b"files/x",
    ],
)
def test_other_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_key(key)


def test_expiry_bounds() -> None:
    assert check_expiry(1) == 1 and check_expiry(3600) == 3600
    assert check_expiry(7200, maximum=7200) == 7200
    for bad in (0, -5, 3601, True, False, 2.0, "60", None):
        with pytest.raises(InvalidInputError):
            check_expiry(bad)


def test_max_expiry_is_a_configuration_check() -> None:
    assert check_max_expiry(604_800) == 604_800
    for bad in (0, 604_801, True):
        with pytest.raises(ValueError, match="max_expiry"):
            check_max_expiry(bad)


def test_size_bounds() -> None:
    assert check_size(0) == 0 and check_size(MAX_BLOB_SIZE) == MAX_BLOB_SIZE
    for bad in (-1, MAX_BLOB_SIZE + 1, True, 1.0, "1"):
        with pytest.raises(InvalidInputError):
            check_size(bad)


@pytest.mark.parametrize(
    "content_type",
    ["application/pdf", "text/plain; charset=utf-8", "image/svg+xml", "application/vnd.a.b-c"],
)
def test_media_types_are_accepted(content_type: str) -> None:
    assert check_content_type(content_type) == content_type


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "pdf",
        "text/",
        "/plain",
        "text/plain\r\nX-Injected: 1",
        "text/plain;\nx=1",
        "text/plain; name=é",
        "text /plain",
        "a/" + "b" * 254,
        None,
    ],
)
def test_other_content_types_are_refused(content_type: object) -> None:
    with pytest.raises(InvalidInputError):
        check_content_type(content_type)


def test_filenames_are_bounded_text() -> None:
    assert check_filename("") == ""
    assert check_filename("x" * MAX_FILENAME_LENGTH)
    for bad in ("x" * (MAX_FILENAME_LENGTH + 1), None, b"x"):
        with pytest.raises(InvalidInputError):
            check_filename(bad)


def test_sha256_hex_and_base64_round_trip() -> None:
    digest = hashlib.sha256(b"hello").digest()
    as_hex, as_b64 = digest.hex(), base64.b64encode(digest).decode()
    assert sha256_hex_to_b64(as_hex) == as_b64
    assert sha256_hex_to_b64(as_hex.upper()) == as_b64
    assert sha256_b64_to_hex(as_b64) == as_hex
    assert normalize_sha256_hex(as_hex.upper()) == as_hex


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x00" * 31).decode(),  # too short for a SHA-256
        base64.b64encode(hashlib.sha256(b"x").digest()).decode() + "-3",  # composite
        "é",
    ],
)
def test_what_is_not_one_sha256_in_base64_is_none(value: str) -> None:
    assert sha256_b64_to_hex(value) is None


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "0" * 63, "0" * 65, None, 1])
def test_declared_sha256_must_be_hex(value: object) -> None:
    with pytest.raises(InvalidInputError):
        normalize_sha256_hex(value)


@pytest.mark.parametrize(
    ("filename", "fallback"),
    [
        ("report.pdf", "report.pdf"),
        ('résumé "final".pdf', "r_sum_ _final_.pdf"),
        ("a/b;c=d.txt", "a_b;c=d.txt"),
        ("..\\..\\boot.ini", ".._.._boot.ini"),
        ("100%25.txt", "100_25.txt"),
        ("line\r\nbreak\x00.txt", "line__break_.txt"),
        ("日本語.txt", "___.txt"),
        ("", "download"),
    ],
)
def test_content_disposition_is_an_attachment_with_safe_fallback_and_exact_name(
    filename: str, fallback: str
) -> None:
    header = content_disposition(filename)
    assert header.isascii() and not any(ord(char) < 0x20 for char in header)
    kind, plain, exact = parse_disposition(header)
    assert kind == "attachment"
    assert plain == fallback
    assert exact == (filename or "download")


def test_content_disposition_encodes_every_delimiter() -> None:
    header = content_disposition("a;b,c=d e'f*g(h)i\"j%k/l")
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert not set(encoded) & set(";, ='*()\"/\\")
    assert encoded == "a%3Bb%2Cc%3Dd%20e%27f%2Ag%28h%29i%22j%25k%2Fl"


def test_content_disposition_survives_lone_surrogates() -> None:
    header = content_disposition("bad\udc80name.txt")
    assert header.isascii()

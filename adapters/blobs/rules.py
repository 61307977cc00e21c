"""Rules both blob stores share, so the local folder and S3 accept and refuse exactly the
same keys, sizes, types, checksums and expiries, and name downloads the same way."""

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from domain.errors import InvalidInputError

MAX_KEY_LENGTH = 512
# The local store adds a prefix and suffix to a segment for its temporary and metadata
# files; this keeps those names under the usual 255-byte file name limit.
MAX_KEY_SEGMENT_LENGTH = 200
DEFAULT_MAX_EXPIRY_SECONDS = 3600
# SigV4 presigned URLs cannot live longer than this, so neither can ours.
LONGEST_EXPIRY_SECONDS = 7 * 24 * 3600
# The largest object one S3 POST (or PUT) may carry; the local store keeps to it too.
MAX_BLOB_SIZE = 5 * 1024**3
MAX_CONTENT_TYPE_LENGTH = 255
MAX_FILENAME_LENGTH = 1024
FALLBACK_FILENAME = "download"

# Segments may not start with "." — that rules out "." and ".." and keeps the local
# store's hidden temporary and metadata files out of the key space.
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_MEDIA_NAME = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(rf"{_MEDIA_NAME}/{_MEDIA_NAME}([ \t]*;[\x20-\x7e]*)?")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# RFC 5987 attr-char minus ALPHA / DIGIT and the characters quote() never escapes.
_ATTR_CHAR_PUNCTUATION = "!#$&+^`|~"


def validate_key(key: object) -> str:
    """The key itself when it is a safe server-made key such as ``files/<id>/blob``;
    otherwise InvalidInputError."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError("Invalid blob key")
    for segment in key.split("/"):
        if len(segment) > MAX_KEY_SEGMENT_LENGTH or not _KEY_SEGMENT.fullmatch(segment):
            raise InvalidInputError("Invalid blob key")
    return key


def check_expiry(expires_in: object, maximum: int = DEFAULT_MAX_EXPIRY_SECONDS) -> int:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise InvalidInputError("expiresIn must be a whole number of seconds")
    if not 1 <= expires_in <= maximum:
        raise InvalidInputError(f"expiresIn must be between 1 and {maximum} seconds")
    return expires_in


def check_max_expiry(max_expiry: int) -> int:
    """For store constructors: a misconfiguration, so ValueError rather than user input."""
    if isinstance(max_expiry, bool) or not 1 <= max_expiry <= LONGEST_EXPIRY_SECONDS:
        raise ValueError(f"max_expiry must be between 1 and {LONGEST_EXPIRY_SECONDS} seconds")
    return max_expiry


def check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidInputError("size must be a whole number of bytes")
    if not 0 <= size <= MAX_BLOB_SIZE:
        raise InvalidInputError(f"size must be between 0 and {MAX_BLOB_SIZE} bytes")
    return size


def check_content_type(content_type: object) -> str:
    """A ``type/subtype`` media type (parameters allowed) of printable ASCII: it ends up in
    HTTP headers and a signed S3 policy, where anything else is an injection risk."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidInputError("contentType must be a media type such as text/plain")
    return content_type


def check_filename(filename: object) -> str:
    """A download name: any text (it is encoded, never trusted), but bounded, because it
    travels inside the signed URL."""
    if not isinstance(filename, str) or len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidInputError(f"filename must be text of at most {MAX_FILENAME_LENGTH} chars")
    return filename


def normalize_sha256_hex(sha256: object) -> str:
    """Lowercase hex of a declared SHA-256 digest; InvalidInputError if it is not one."""
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise InvalidInputError("sha256 must be 64 hexadecimal characters")
    return sha256.lower()


def sha256_hex_to_b64(sha256_hex: str) -> str:
    """The form S3 and ``x-amz-checksum-sha256`` use: base64 of the 32-byte digest."""
    return base64.b64encode(bytes.fromhex(normalize_sha256_hex(sha256_hex))).decode("ascii")


def sha256_b64_to_hex(value: str) -> str | None:
    """Lowercase hex of a base64 SHA-256 digest; None when ``value`` is not exactly one
    (a composite multipart checksum such as ``abc…=-3`` is not)."""
    try:
        digest = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


def content_disposition(filename: str) -> str:
    """An RFC 6266 ``attachment`` header naming ``filename``: a plain-ASCII fallback for
    old clients plus the exact name in RFC 5987 ``filename*`` (which clients prefer)."""
    name = filename or FALLBACK_FILENAME
    fallback = "".join(_fallback_char(char) for char in name)
    encoded = quote(name, safe=_ATTR_CHAR_PUNCTUATION, encoding="utf-8", errors="replace")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _fallback_char(char: str) -> str:
    # Quotes and backslashes would end or escape the quoted string; "/" and "\" read as
    # paths; "%" invites clients to percent-decode; control and non-ASCII characters are
    # not allowed in a header at all.
    if " " <= char <= "~" and char not in '"\\/%':
        return char
    return "_"


# The header S3 checks on a PUT; stores that take PUT uploads send it too, so clients
# treat every store alike.
CHECKSUM_HEADER = "x-amz-checksum-sha256"


def part_checksum(sha256: str | None) -> tuple[str | None, dict[str, str]]:
    """A part's declared SHA-256 (lowercase hex) and the header its URL is signed for:
    the client must send exactly that header, and the store refuses bytes that differ."""
    if sha256 is None:
        return None, {}
    sha256 = normalize_sha256_hex(sha256)
    return sha256, {CHECKSUM_HEADER: sha256_hex_to_b64(sha256)}


def check_part_checksums(
    parts: Sequence[tuple[int, str]],
    checksums: Mapping[int, str] | None,
    recorded: Mapping[int, str | None],
) -> None:
    """Completion with ``checksums``: S3 refuses a part whose recorded checksum differs
    (InvalidPart), and one without a checksum (the upload was opened with SHA-256)."""
    if checksums is None:
        return
    for number, _ in parts:
        given = checksums.get(number)
        if given is None or recorded.get(number) != normalize_sha256_hex(given):
            raise InvalidInputError(WRONG_PART_MESSAGE)


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """A presign_upload call's arguments, each checked and normalised as every store
    must before it signs anything."""

    key: str
    size: int
    content_type: str
    sha256: str | None
    expires_in: int

    def put_headers(self) -> dict[str, str]:
        """What a client sends with a PUT upload of these bytes."""
        headers = {"Content-Type": self.content_type}
        if self.sha256 is not None:
            headers[CHECKSUM_HEADER] = sha256_hex_to_b64(self.sha256)
        return headers


# What BlobStore.write raises when the bytes it was given are not the declared ones.
WRITE_MISMATCH_MESSAGE = "The bytes do not match the expected SHA-256"


def check_write_request(key: str, *, content_type: str, sha256: str) -> tuple[str, str, str]:
    """What every store checks before BlobStore.write stores a byte: the key, the content
    type, and the SHA-256 the bytes must have (as lowercase hex)."""
    return validate_key(key), check_content_type(content_type), normalize_sha256_hex(sha256)


def check_upload_request(
    key: str,
    *,
    size: int,
    content_type: str,
    sha256: str | None,
    expires_in: int,
    max_expiry: int,
) -> UploadRequest:
    return UploadRequest(
        key=validate_key(key),
        size=check_size(size),
        content_type=check_content_type(content_type),
        sha256=normalize_sha256_hex(sha256) if sha256 is not None else None,
        expires_in=check_expiry(expires_in, max_expiry),
    )


# --- multipart uploads ---------------------------------------------------------------

# S3's limits: part numbers 1..10,000, each part at most 5 GiB.
MAX_PARTS = 10_000
MAX_PART_SIZE = 5 * 1024**3
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_.=-]{1,512}")
WRONG_PART_MESSAGE = "A part is missing or its ETag (or checksum) does not match the uploaded part"


def check_part_number(part_number: object) -> int:
    if isinstance(part_number, bool) or not isinstance(part_number, int):
        raise InvalidInputError("partNumber must be a whole number")
    if not 1 <= part_number <= MAX_PARTS:
        raise InvalidInputError(f"partNumber must be between 1 and {MAX_PARTS}")
    return part_number


def check_part_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_PART_SIZE:
        raise InvalidInputError(f"a part's size must be between 0 and {MAX_PART_SIZE} bytes")
    return size


def check_upload_id(upload_id: object) -> str:
    """An upload id as a store made it: printable, bounded, no path separators."""
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidInputError("Invalid upload id")
    return upload_id


def normalize_etag(etag: str) -> str:
    """ETags compare without their quotes (S3 answers them quoted, clients often strip)."""
    return etag.strip().strip('"')


def part_etag(digest_hex: str) -> str:
    """An uploaded part's ETag: a digest of its bytes, quoted (S3's is the MD5)."""
    return f'"{digest_hex}"'

"""The S3 blob store. Clients move bytes straight to and from S3 with presigned URLs; S3
itself enforces the declared size, content type and SHA-256 through the POST policy.

Lifecycle of the bytes: the POST policy makes every upload carry the object tag
``upload=pending``; ``confirm`` replaces it with ``upload=confirmed``. The bucket's lifecycle
rule "expire-unconfirmed-uploads" (infra/resources.json) expires objects still tagged
``upload=pending`` two days after their upload, so bytes of files that never became READY
do not stay forever. Copies keep the source's tags.

The boto3 client is injected (the composition root builds it once per container); every
call runs in a worker thread because boto3 blocks. botocore errors are translated by
their error code, never their message, and nothing of them (bucket names, AWS text)
reaches callers.
"""

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from adapters.blobs.rules import (
    CHECKSUM_HEADER,
    DEFAULT_MAX_EXPIRY_SECONDS,
    WRITE_MISMATCH_MESSAGE,
    WRONG_PART_MESSAGE,
    check_content_type,
    check_expiry,
    check_filename,
    check_max_expiry,
    check_part_number,
    check_part_size,
    check_upload_id,
    check_upload_request,
    check_write_request,
    content_disposition,
    part_checksum,
    sha256_b64_to_hex,
    sha256_hex_to_b64,
    validate_key,
)
from domain.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from domain.ports import BlobInfo, PartTarget, StoredPart, UploadTarget

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "Blob storage is unavailable"
NOT_FOUND_MESSAGE = "Blob not found"
CHECKSUM_FIELD = "x-amz-checksum-sha256"
CHECKSUM_ALGORITHM_FIELD = "x-amz-checksum-algorithm"
TAGGING_FIELD = "tagging"
UPLOAD_TAG_KEY = "upload"
PENDING_TAG_VALUE = "pending"
CONFIRMED_TAG_VALUE = "confirmed"
# The tag set a POST upload gets, as the form's "tagging" field spells it.
PENDING_TAGGING_XML = (
    "<Tagging><TagSet><Tag>"
    f"<Key>{UPLOAD_TAG_KEY}</Key><Value>{PENDING_TAG_VALUE}</Value>"
    "</Tag></TagSet></Tagging>"
)
# HeadObject answers a bare status code ("404") since it has no body to name the error.
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# Tagging an object whose current version is a delete marker (versioned bucket) may be
# answered 405 MethodNotAllowed rather than 404: for confirm that, too, means missing.
_CONFIRM_MISSING_CODES = _MISSING_CODES | {"405", "MethodNotAllowed"}
READ_CHUNK_BYTES = 256 * 1024
# Hashing a completed multipart object: larger reads, fewer thread hops.
HASH_CHUNK_BYTES = 1024 * 1024
# write(): bodies up to this size go in one PutObject (S3 checks their SHA-256 itself);
# larger ones stream as a multipart upload of parts this big (S3's minimum is 5 MiB).
WRITE_PART_BYTES = 8 * 1024 * 1024
CONFIRMED_TAGGING = f"{UPLOAD_TAG_KEY}={CONFIRMED_TAG_VALUE}"
PENDING_TAGGING = f"{UPLOAD_TAG_KEY}={PENDING_TAG_VALUE}"
_NO_UPLOAD_CODES = frozenset({"NoSuchUpload", "404"})
# CompleteMultipartUpload's answers for a parts list that does not fit what was uploaded.
_WRONG_PART_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
NO_SUCH_UPLOAD_MESSAGE = "No such upload: it was completed, aborted or has expired"
LIST_PARTS_PAGE = 1000

P = ParamSpec("P")
T = TypeVar("T")


def decode_post_policy(fields: dict[str, str]) -> dict[str, Any]:
    """The policy document inside presigned POST ``fields`` — what S3 will enforce."""
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


class S3BlobStore:
    def __init__(
        self, client: "S3Client", bucket: str, *, max_expiry: int = DEFAULT_MAX_EXPIRY_SECONDS
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._max_expiry = check_max_expiry(max_expiry)
        _require_sigv4(client, bucket)

    async def presign_upload(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        sha256: str | None,
        expires_in: int,
    ) -> UploadTarget:
        request = check_upload_request(
            key,
            size=size,
            content_type=content_type,
            sha256=sha256,
            expires_in=expires_in,
            max_expiry=self._max_expiry,
        )
        fields = {"Content-Type": request.content_type, TAGGING_FIELD: PENDING_TAGGING_XML}
        # Every form field must be matched by a condition, or S3 refuses the POST; the
        # bucket and exact key conditions are added by botocore itself. The exact tagging
        # condition stops a client from uploading without the pending tag (or with
        # "confirmed"), which would put its bytes beyond the lifecycle rule.
        conditions: list[Any] = [
            {"Content-Type": request.content_type},
            {TAGGING_FIELD: PENDING_TAGGING_XML},
            ["content-length-range", request.size, request.size],
        ]
        if request.sha256 is not None:
            checksum = sha256_hex_to_b64(request.sha256)
            fields |= {CHECKSUM_FIELD: checksum, CHECKSUM_ALGORITHM_FIELD: "SHA256"}
            conditions += [{CHECKSUM_FIELD: checksum}, {CHECKSUM_ALGORITHM_FIELD: "SHA256"}]
        post = await self._call(
            self._client.generate_presigned_post,
            Bucket=self._bucket,
            Key=request.key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=request.expires_in,
        )
        post_fields = {name: str(value) for name, value in post["fields"].items()}
        # The policy's own expiration is the instant S3 stops accepting the form.
        expiration = decode_post_policy(post_fields)["expiration"]
        return UploadTarget(
            url=post["url"],
            method="POST",
            fields=post_fields,
            headers={},
            expires_at=datetime.fromisoformat(expiration.replace("Z", "+00:00")),
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        key = validate_key(key)
        filename = check_filename(filename)
        expires_in = check_expiry(expires_in, self._max_expiry)
        # No ResponseContentType: the stored type is already the exact declared one (the
        # POST policy saw to it), and finding it out would cost a HeadObject per URL.
        url: str = await self._call(
            self._client.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(filename),
            },
            ExpiresIn=expires_in,
        )
        return url

    async def head(self, key: str) -> BlobInfo | None:
        key = validate_key(key)
        try:
            response = await self._call(
                self._client.head_object, Bucket=self._bucket, Key=key, ChecksumMode="ENABLED"
            )
        except NotFoundError:
            return None
        sha256, composite = _checksums(response)
        return BlobInfo(
            size=response["ContentLength"],
            content_type=response.get("ContentType", "application/octet-stream"),
            sha256=sha256,
            composite_sha256=composite,
        )

    async def delete(self, key: str) -> None:
        key = validate_key(key)
        await self._call(self._client.delete_object, Bucket=self._bucket, Key=key)

    async def copy(self, source_key: str, dest_key: str) -> None:
        source_key = validate_key(source_key)
        dest_key = validate_key(dest_key)
        await self._call(
            self._client.copy_object,
            Bucket=self._bucket,
            Key=dest_key,
            CopySource={"Bucket": self._bucket, "Key": source_key},
            MetadataDirective="COPY",
            # The copy keeps the source's tags: a copy of a confirmed object is confirmed,
            # a copy of a pending upload stays within reach of the lifecycle rule.
            TaggingDirective="COPY",
            # Asked for explicitly so the copy carries a whole-object SHA-256 even when
            # the source was a multipart upload with a composite checksum.
            ChecksumAlgorithm="SHA256",
        )

    async def confirm(self, key: str) -> None:
        key = validate_key(key)
        # PutObjectTagging replaces the whole tag set (ours is the only tag) and answers
        # NoSuchKey for a missing object; DeleteObjectTagging would do as well on S3, but
        # moto 5.2.5 fails it with a 500 for a missing key.
        await self._call_missing(
            _CONFIRM_MISSING_CODES,
            self._client.put_object_tagging,
            Bucket=self._bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": UPLOAD_TAG_KEY, "Value": CONFIRMED_TAG_VALUE}]},
        )

    async def read(self, key: str) -> AsyncIterator[bytes]:
        key = validate_key(key)
        response = await self._call(self._client.get_object, Bucket=self._bucket, Key=key)
        body = response["Body"]
        try:
            while chunk := await self._call(body.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str, sha256: str
    ) -> None:
        key, content_type, expected = check_write_request(
            key, content_type=content_type, sha256=sha256
        )
        digest = hashlib.sha256()
        buffer = bytearray()
        upload: _MultipartUpload | None = None
        try:
            async for chunk in chunks:
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= WRITE_PART_BYTES:
                    if upload is None:
                        upload = await self._start_multipart(key, content_type)
                    await upload.send(bytes(buffer))
                    buffer.clear()
            if digest.hexdigest() != expected:
                raise InvalidInputError(WRITE_MISMATCH_MESSAGE)
            if upload is None:
                # S3 recomputes the checksum and refuses the body if it differs.
                await self._call(
                    self._client.put_object,
                    Bucket=self._bucket,
                    Key=key,
                    Body=bytes(buffer),
                    ContentType=content_type,
                    ChecksumSHA256=sha256_hex_to_b64(expected),
                    Tagging=CONFIRMED_TAGGING,
                )
                return
            if buffer:
                await upload.send(bytes(buffer))
            await upload.complete()
        except BaseException:
            if upload is not None:
                # Nothing was published: an unfinished multipart upload is invisible.
                await asyncio.shield(upload.abort())
            raise

    # --- multipart uploads by clients ---

    async def start_multipart(
        self, key: str, *, content_type: str, part_checksums: bool = False
    ) -> str:
        key, content_type = validate_key(key), check_content_type(content_type)
        # Tagged pending like a POST upload, so the object stays within reach of the
        # lifecycle rule until confirm; the unfinished upload itself is aborted by the
        # bucket's AbortIncompleteMultipartUpload rule. S3 takes part checksums only in
        # an upload opened with their algorithm ("Checksum Type mismatch" otherwise), and
        # then wants every part's back at completion.
        checksum = {"ChecksumAlgorithm": "SHA256"} if part_checksums else {}
        started = await self._call(
            self._client.create_multipart_upload,
            Bucket=self._bucket,
            Key=key,
            ContentType=content_type,
            Tagging=PENDING_TAGGING,
            **checksum,  # type: ignore[arg-type]
        )
        return str(started["UploadId"])

    async def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        expires_in: int,
        sha256: str | None = None,
    ) -> PartTarget:
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        expires_in = check_expiry(expires_in, self._max_expiry)
        sha256, headers = part_checksum(sha256)
        params: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": check_part_number(part_number),
            "ContentLength": check_part_size(size),
        }
        if sha256 is not None:
            # Signed as a header (X-Amz-SignedHeaders): a request without exactly this
            # value fails the signature, and S3 refuses bytes that differ from it (BadDigest).
            params["ChecksumSHA256"] = headers[CHECKSUM_HEADER]
        url: str = await self._call(
            self._client.generate_presigned_url, "upload_part", Params=params, ExpiresIn=expires_in
        )
        return PartTarget(
            part_number=part_number,
            url=url,
            method="PUT",
            headers=headers,
            expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in),
        )

    async def uploaded_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        parts: list[StoredPart] = []
        marker = 0
        while True:
            page = await self._call_missing(
                _NO_UPLOAD_CODES,
                self._client.list_parts,
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MaxParts=LIST_PARTS_PAGE,
                PartNumberMarker=marker,
            )
            for part in page.get("Parts", []):
                checksum = part.get("ChecksumSHA256")
                parts.append(
                    StoredPart(
                        part_number=part["PartNumber"],
                        size=part["Size"],
                        etag=part["ETag"],
                        sha256=sha256_b64_to_hex(checksum) if checksum else None,
                    )
                )
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: Mapping[int, str] | None = None,
    ) -> BlobInfo:
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise InvalidInputError(WRONG_PART_MESSAGE)
        listed: list[dict[str, Any]] = []
        for number, etag in parts:
            part: dict[str, Any] = {"PartNumber": number, "ETag": etag}
            if checksums is not None:
                # S3 refuses the completion of an upload opened with SHA-256 unless every
                # part's checksum is given back, and refuses one that differs (InvalidPart).
                if number not in checksums:
                    raise InvalidInputError(WRONG_PART_MESSAGE)
                part["ChecksumSHA256"] = sha256_hex_to_b64(checksums[number])
            listed.append(part)
        try:
            await asyncio.to_thread(
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},  # type: ignore[typeddict-item]
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _WRONG_PART_CODES:
                raise InvalidInputError(WRONG_PART_MESSAGE) from None
            if code in _NO_UPLOAD_CODES:
                raise NotFoundError(NO_SUCH_UPLOAD_MESSAGE) from None
            logger.warning("s3 blobs: CompleteMultipartUpload failed with error code %s", code)
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None
        except BotoCoreError as exc:
            logger.warning("s3 blobs: request failed: %s", type(exc).__name__)
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None
        if checksums is None:
            return await self._hashed(key)
        # Every part's SHA-256 was checked by S3 against its bytes on upload (signed
        # header) and again at completion against the list above. The object's COMPOSITE
        # checksum, from HeadObject, lets the caller check S3 assembled exactly those
        # parts, without reading the object back through the function.
        info = await self.head(key)
        if info is None:
            logger.warning("s3 blobs: a completed multipart object is not there")
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE)
        return info

    async def _hashed(self, key: str) -> BlobInfo:
        """The object's size, type and SHA-256, hashed from its bytes streamed once: for
        an upload without part checksums S3 keeps no SHA-256 of the object at all
        (docs/UPLOAD_INTEGRITY.md)."""
        response = await self._call(self._client.get_object, Bucket=self._bucket, Key=key)
        body = response["Body"]
        digest = hashlib.sha256()
        size = 0
        try:
            while chunk := await self._call(body.read, HASH_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
        finally:
            await asyncio.to_thread(body.close)
        content_type = response.get("ContentType", "application/octet-stream")
        return BlobInfo(size=size, content_type=content_type, sha256=digest.hexdigest())

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        key, upload_id = validate_key(key), check_upload_id(upload_id)
        try:
            await self._call_missing(
                _NO_UPLOAD_CODES,
                self._client.abort_multipart_upload,
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
            )
        except NotFoundError:
            return

    async def _start_multipart(self, key: str, content_type: str) -> "_MultipartUpload":
        started = await self._call(
            self._client.create_multipart_upload,
            Bucket=self._bucket,
            Key=key,
            ContentType=content_type,
            Tagging=CONFIRMED_TAGGING,
        )
        return _MultipartUpload(self, key, started["UploadId"])

    async def ping(self) -> None:
        try:
            await self._call(self._client.head_bucket, Bucket=self._bucket)
        except NotFoundError:
            logger.warning("s3 blobs: the configured bucket does not exist")
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None

    async def _call(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._call_missing(_MISSING_CODES, func, *args, **kwargs)

    async def _call_missing(
        self,
        missing_codes: frozenset[str],
        func: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a boto3 call in a thread; the error codes in ``missing_codes`` become
        NotFoundError, every other failure StoreUnavailableError."""
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in missing_codes:
                raise NotFoundError(NOT_FOUND_MESSAGE) from None
            operation = getattr(exc, "operation_name", "?")
            logger.warning("s3 blobs: %s failed with error code %s", operation, code or "?")
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None
        except BotoCoreError as exc:
            logger.warning("s3 blobs: request failed: %s", type(exc).__name__)
            raise StoreUnavailableError(UNAVAILABLE_MESSAGE) from None


class _MultipartUpload:
    """One multipart upload in progress: parts in order, then complete or abort."""

    def __init__(self, store: S3BlobStore, key: str, upload_id: str) -> None:
        self._store = store
        self._key = key
        self._upload_id = upload_id
        self._parts: list[dict[str, Any]] = []

    async def send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        store = self._store
        answer = await store._call(
            store._client.upload_part,
            Bucket=store._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def complete(self) -> None:
        store = self._store
        await store._call(
            store._client.complete_multipart_upload,
            Bucket=store._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},  # type: ignore[typeddict-item]
        )

    async def abort(self) -> None:
        """Best effort: the bucket's lifecycle also removes abandoned multipart uploads."""
        store = self._store
        try:
            await store._call(
                store._client.abort_multipart_upload,
                Bucket=store._bucket,
                Key=self._key,
                UploadId=self._upload_id,
            )
        except (NotFoundError, StoreUnavailableError):
            logger.warning("s3 blobs: could not abort a multipart upload")


def _require_sigv4(client: "S3Client", bucket: str) -> None:
    """Unless ``signature_version="s3v4"`` is set explicitly, botocore presigns for
    us-east-1 with legacy SigV2, which S3 refuses for buckets made since mid-2020. Caught
    here, at start-up, rather than by the first user's failed upload. Runs at construction
    (in the composition root, not on the event loop): presigning is local computation."""
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "sigv4-probe"}, ExpiresIn=1
    )
    if "X-Amz-Signature=" not in url:
        raise ValueError(
            "the S3 client must sign with SigV4: build it with "
            "botocore.config.Config(signature_version='s3v4')"
        )


def _checksums(response: Any) -> tuple[str | None, str | None]:
    """(whole-object SHA-256 in hex, composite) from HeadObject with ChecksumMode.

    A multipart object opened with SHA-256 carries S3's COMPOSITE checksum: the SHA-256 of
    its parts' raw SHA-256 digests, in order, answered as "<base64>-<part count>" with
    ChecksumType COMPOSITE. It is not the hash of the bytes, so it is never reported as
    one: either sign (the type or the "-N" suffix) makes it a composite, and one without
    its part count is taken as neither."""
    checksum = response.get("ChecksumSHA256")
    if not isinstance(checksum, str):
        return None, None
    value, dash, count = checksum.rpartition("-")
    suffixed = bool(dash and value and count.isdigit())
    if response.get("ChecksumType") == "COMPOSITE" or suffixed:
        return None, (checksum if suffixed else None)
    return sha256_b64_to_hex(checksum), None

"""S3's per-part SHA-256 rules, which moto's server does not enforce, put in front of it
(tests/support/moto_server.py installs this on every moto server).

What S3 does and moto 5.2 does not (moto stores any part, records no part checksum, lists
none and ignores the checksums of CompleteMultipartUpload):

- UploadPart carrying ``x-amz-checksum-sha256``: refused with 400 ``InvalidRequest``
  ("Checksum Type mismatch …") when the upload was opened without ``ChecksumAlgorithm``;
  400 ``BadDigest`` when the body's SHA-256 differs; otherwise recorded with the part.
- A presigned request whose ``X-Amz-SignedHeaders`` names ``x-amz-checksum-sha256``:
  403 ``SignatureDoesNotMatch`` unless the request carries exactly the signed headers
  (the signature is recomputed with the tests' dummy credentials). Limited to such
  requests, so every other suite sees moto as before.
- ListParts answers each recorded part's ``ChecksumSHA256``.
- CompleteMultipartUpload of an upload opened with SHA-256: 400 ``InvalidRequest`` when a
  part's checksum is missing from the list, 400 ``InvalidPart`` when it differs; on
  success its answer carries the object's ``ChecksumSHA256`` and ``ChecksumType``.
- The object such an upload makes has a COMPOSITE checksum: SHA-256 over the parts' raw
  SHA-256 digests, in part order, answered as "<base64>-<part count>" with
  ``x-amz-checksum-type: COMPOSITE`` by HeadObject / GetObject with
  ``x-amz-checksum-mode: ENABLED`` (S3 User Guide, "Checking object integrity": SHA-256
  supports only the composite type for multipart uploads; the API reference's
  CompleteMultipartUpload and HeadObject name ChecksumType). moto 5.2 computes that value
  from the parts' bytes (``MultipartChecksumBuilder``) but HeadObject answers it without
  the part count or the type, and CompleteMultipartUpload without either field.

For tests it also counts object reads (``object_reads``: GetObject requests by key), so a
test can show the server completed an upload without reading the object back.

Only path-style S3 requests (the tests' clients and the app's client against an endpoint
use path style) are looked at; everything else passes through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeKey, FakeMultipart, s3_backends

from domain.ids import from_global_id

CHECKSUM_HEADER = "x-amz-checksum-sha256"
# GetObject requests seen, by "<bucket>/<key>" (ListParts and other sub-resources aside).
object_reads: Counter[str] = Counter()
_SUBRESOURCES = frozenset({"uploadId", "uploads", "tagging", "acl", "attributes", "retention"})
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class S3PartChecksums:
    """WSGI middleware: S3's part checksum rules in front of moto's app."""

    def __init__(self, app: WsgiApp, *, credentials: tuple[str, str, str], region: str) -> None:
        self._app = app
        self._credentials = Credentials(*credentials)
        self._region = region

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET"):
            return self._app(environ, start_response)  # DynamoDB, Cognito: JSON protocols
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        upload_id = query.get("uploadId", [""])[0]
        if not upload_id:
            if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not _SUBRESOURCES & set(query):
                return self._object(environ, start_response)
            return self._app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        multipart = _multipart(environ, upload_id)
        if multipart is None:
            return self._app(environ, start_response)
        if method == "PUT" and "partNumber" in query and "HTTP_X_AMZ_COPY_SOURCE" not in environ:
            return self._upload_part(environ, start_response, query, multipart)
        if method == "GET":
            return self._list_parts(environ, start_response, multipart)
        if method == "POST":
            return self._complete(environ, start_response, multipart)
        return self._app(environ, start_response)

    def _upload_part(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        query: dict[str, list[str]],
        multipart: FakeMultipart,
    ) -> Iterable[bytes]:
        signed = query.get("X-Amz-SignedHeaders", [""])[0].split(";")
        if CHECKSUM_HEADER in signed and not self._signature_holds(environ, signed):
            return _error(start_response, "403 Forbidden", "SignatureDoesNotMatch", "")
        sent = environ.get("HTTP_X_AMZ_CHECKSUM_SHA256")
        if sent is None:
            return self._app(environ, start_response)
        algorithm = multipart.metadata.get("x-amz-checksum-algorithm")
        if str(algorithm or "").upper() != "SHA256":
            message = (
                "Checksum Type mismatch occurred, expected checksum Type: "
                f"{str(algorithm).lower() if algorithm else 'null'}, actual checksum Type: sha256"
            )
            return _error(start_response, "400 Bad Request", "InvalidRequest", message)
        body = _read_body(environ)
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != sent:
            message = "The SHA256 you specified did not match the calculated checksum."
            return _error(start_response, "400 Bad Request", "BadDigest", message)
        answer = _collect(self._app, environ)
        if answer.status.startswith("200"):
            part = multipart.parts.get(int(query["partNumber"][0]))
            if part is not None:
                part.checksum_algorithm = "SHA256"
                part.checksum_value = sent
        return answer.replay(start_response)

    def _list_parts(
        self, environ: dict[str, Any], start_response: StartResponse, multipart: FakeMultipart
    ) -> Iterable[bytes]:
        answer = _collect(self._app, environ)
        if not answer.status.startswith("200"):
            return answer.replay(start_response)
        ET.register_namespace("", _NS)
        root = ET.fromstring(answer.body)
        for element in root.iter(f"{{{_NS}}}Part"):
            number = element.findtext(f"{{{_NS}}}PartNumber")
            part = multipart.parts.get(int(number or 0))
            checksum = getattr(part, "checksum_value", None)
            if part is not None and getattr(part, "checksum_algorithm", None) == "SHA256":
                ET.SubElement(element, f"{{{_NS}}}ChecksumSHA256").text = checksum
        answer.body = ET.tostring(root, xml_declaration=True, encoding="UTF-8")
        return answer.replay(start_response)

    def _complete(
        self, environ: dict[str, Any], start_response: StartResponse, multipart: FakeMultipart
    ) -> Iterable[bytes]:
        if str(multipart.metadata.get("x-amz-checksum-algorithm") or "").upper() != "SHA256":
            return self._app(environ, start_response)
        body = _read_body(environ)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return self._app(environ, start_response)
        for element in root.iter():
            if not element.tag.endswith("Part") or element.tag.endswith("MultipartUpload"):
                continue
            fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element}
            number = int(fields.get("PartNumber", "0"))
            given = fields.get("ChecksumSHA256")
            if given is None:
                message = (
                    "The upload was created using a sha256 checksum. The complete request "
                    f"must include the checksum for each part. It was missing for part "
                    f"{number} in the request."
                )
                return _error(start_response, "400 Bad Request", "InvalidRequest", message)
            part = multipart.parts.get(number)
            if part is None or getattr(part, "checksum_value", None) != given:
                message = "One or more of the specified parts could not be found."
                return _error(start_response, "400 Bad Request", "InvalidPart", message)
        path = environ.get("PATH_INFO", "").lstrip("/")
        answer = _collect(self._app, environ)
        key = _key(path)
        if answer.status.startswith("200") and key is not None and key.checksum_value:
            ET.register_namespace("", _NS)
            result = ET.fromstring(answer.body)
            ET.SubElement(result, f"{{{_NS}}}ChecksumSHA256").text = _qualified(key)
            ET.SubElement(result, f"{{{_NS}}}ChecksumType").text = "COMPOSITE"
            answer.body = ET.tostring(result, xml_declaration=True, encoding="UTF-8")
        return answer.replay(start_response)

    def _object(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """HeadObject / GetObject: counted (GET), and a composite checksum answered as S3
        does, with its part count and type."""
        path = environ.get("PATH_INFO", "").lstrip("/")
        if "/" not in path:
            return self._app(environ, start_response)  # ListObjects and other bucket calls
        if environ["REQUEST_METHOD"] == "GET":
            object_reads[path] += 1
        key = _key(path)
        if (
            key is None
            or getattr(key, "checksum_type", None) != "COMPOSITE"
            or environ.get("HTTP_X_AMZ_CHECKSUM_MODE") != "ENABLED"
            or "partNumber" in environ.get("QUERY_STRING", "")
        ):
            return self._app(environ, start_response)
        answer = _collect(self._app, environ)
        qualified = _qualified(key)
        headers = [(k, v) for k, v in answer.headers if not k.lower().startswith("x-amz-checksum")]
        if answer.status.startswith(("200", "206")):
            headers += [(CHECKSUM_HEADER, qualified), ("x-amz-checksum-type", "COMPOSITE")]
        answer.headers = headers
        if environ["REQUEST_METHOD"] == "HEAD":
            # No body, but the object's length, as moto answered it.
            start_response(answer.status, answer.headers)
            return [b""]
        return answer.replay(start_response)

    def _signature_holds(self, environ: dict[str, Any], signed: list[str]) -> bool:
        """Recompute the presigned URL's SigV4 signature over the headers it names, as S3
        does: a signed header that is missing or has another value voids it."""
        raw_query = environ.get("QUERY_STRING", "")
        pairs = [p for p in raw_query.split("&") if not p.startswith("X-Amz-Signature=")]
        given = parse_qs(raw_query).get("X-Amz-Signature", [""])[0]
        headers = {}
        for name in signed:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if name == "content-length":
                value = environ.get("CONTENT_LENGTH")
            if value is None:
                return False
            headers[name] = value
        url = f"http://{environ['HTTP_HOST']}{environ.get('PATH_INFO', '')}?{'&'.join(pairs)}"
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers)
        query = parse_qs(raw_query)
        request.context["timestamp"] = query.get("X-Amz-Date", [""])[0]
        auth = S3SigV4QueryAuth(self._credentials, "s3", self._region)
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        return hmac.compare_digest(expected, given)


def _multipart(environ: dict[str, Any], upload_id: str) -> FakeMultipart | None:
    bucket_name = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    bucket = backend.buckets.get(bucket_name)
    if bucket is None:
        return None
    multipart: FakeMultipart | None = bucket.multiparts.get(upload_id)
    return multipart


def _key(path: str) -> FakeKey | None:
    bucket_name, _, key_name = path.partition("/")
    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(bucket_name)
    if bucket is None:
        return None
    key: FakeKey | None = bucket.keys.get(unquote(key_name))
    return key


def _qualified(key: FakeKey) -> str:
    return f"{key.checksum_value}-{key.checksum_parts}"


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class _Answer:
    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def replay(self, start_response: StartResponse) -> list[bytes]:
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        start_response(self.status, [*headers, ("Content-Length", str(len(self.body)))])
        return [self.body]


def _collect(app: WsgiApp, environ: dict[str, Any]) -> _Answer:
    answer = _Answer()

    def start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
        answer.status, answer.headers = status, list(headers)
        return lambda data: None

    answer.body = b"".join(app(environ, start_response))
    return answer


def _error(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


# --- for tests: what moto's server holds, seen and changed from the test process ---------


def reads_of_file(file_id: str) -> int:
    """GetObject requests seen so far for any object of this file (files/<id>/...);
    ``file_id`` as the API spells it."""
    prefix = f"/files/{from_global_id(file_id)[1]}/"
    return sum(n for path, n in object_reads.items() if prefix in f"/{path}")


def _open_upload(file_id: str) -> tuple[str, FakeMultipart]:
    for name, bucket in s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.items():
        for multipart in bucket.multiparts.values():
            if multipart.key_name.startswith(f"files/{from_global_id(file_id)[1]}/"):
                return name, multipart
    raise AssertionError(f"no open upload for file {file_id}")


def assemble_behind_the_server(file_id: str) -> None:
    """Complete the file's open upload in S3 (moto) with every part it holds, as S3 does
    when the server's CompleteMultipartUpload ran on after its request timed out."""
    bucket_name, multipart = _open_upload(file_id)
    parts = [(number, multipart.parts[number].etag) for number in multipart.partlist]
    s3_backends[DEFAULT_ACCOUNT_ID]["aws"].complete_multipart_upload(
        bucket_name, multipart.id, iter(parts)
    )


def swap_recorded_part_checksums(file_id: str, first: int, second: int) -> None:
    """Swap the SHA-256 checksums recorded for two parts of the file's open upload, as a
    store whose part records went wrong would list them; the parts' bytes stay.
    ``file_id`` as the API spells it."""
    _, multipart = _open_upload(file_id)
    a, b = multipart.parts[first], multipart.parts[second]
    a.checksum_value, b.checksum_value = b.checksum_value, a.checksum_value

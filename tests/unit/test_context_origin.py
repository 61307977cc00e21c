"""The Context's base URL (api/context.py) is remembered per scheme, server, path and Host
header; it must equal what Starlette's ``request.url`` gives for each of them."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from api.context import _origin_of

SCOPES: list[dict[str, Any]] = [
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": "api.example.com"},
    {"scheme": "http", "server": ("127.0.0.1", 8000), "host": "127.0.0.1:8000"},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": None},
    {"scheme": "http", "server": ("10.0.0.1", 8080), "host": None},
    {"scheme": "http", "server": ["::1", 8000], "host": None},
    {"scheme": "http", "server": None, "host": None},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": "[::1]:8443"},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": "a.example.com:99999"},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": "evil.example/x?y#z"},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": "Ünïcode.example"},
    {"scheme": "https", "server": ("10.0.0.1", 443), "host": ""},
]


def _request(case: dict[str, Any], path: str) -> Request:
    headers = [] if case["host"] is None else [(b"host", case["host"].encode("latin-1"))]
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": case["scheme"],
        "server": case["server"],
        "path": path,
        "query_string": b"a=1",
        "headers": [(b"accept", b"*/*"), *headers],
    }
    return Request(scope)


@pytest.mark.parametrize("case", SCOPES)
@pytest.mark.parametrize("path", ["/graphql", "/rest/files", "//x", ""])
def test_the_remembered_origin_is_starlettes(case: dict[str, Any], path: str) -> None:
    for _ in range(2):  # computed, then remembered
        fresh = _request(case, path)
        assert _origin_of(fresh) == f"{fresh.url.scheme}://{fresh.url.netloc}"

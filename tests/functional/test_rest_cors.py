"""CORS: none by default; an allowed origin gets headers (and credentials), any other origin
none; preflights for /graphql, /rest/* and /blobs/* (browser PUT uploads); ``*`` never with
credentials."""

from pathlib import Path

import httpx

from tests.support.rest import open_rest

APP = "https://app.example"
OTHER = "https://evil.example"


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type"):
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_no_origins_configured_means_no_cors_headers(tmp_path: Path) -> None:
    async with open_rest(tmp_path) as rest:
        response = await rest.http.get("/rest/me", headers={"Origin": APP})
        assert response.status_code == 401 and cors_headers(response) == {}
        options = await rest.http.options("/graphql", headers=preflight(APP))
        assert cors_headers(options) == {}


async def test_allowed_origin_gets_headers_other_origin_none(tmp_path: Path) -> None:
    async with open_rest(tmp_path, cors_origins=f"{APP}, https://two.example") as rest:
        alice = await rest.auth("alice")
        allowed = await rest.http.get("/rest/me", headers={**alice, "Origin": APP})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "ETag" in allowed.headers["access-control-expose-headers"]
        assert "Retry-After" in allowed.headers["access-control-expose-headers"]
        assert "Origin" in allowed.headers["vary"]

        other = await rest.http.get("/rest/me", headers={**alice, "Origin": OTHER})
        assert other.status_code == 200 and cors_headers(other) == {}
        graphql = await rest.http.post(
            "/graphql", json={"query": "{ me { username } }"}, headers={**alice, "Origin": APP}
        )
        assert graphql.headers["access-control-allow-origin"] == APP


async def test_preflights_for_graphql_rest_and_blobs(tmp_path: Path) -> None:
    async with open_rest(tmp_path, cors_origins=APP) as rest:
        for path, method, headers in [
            ("/graphql", "POST", "authorization, content-type"),
            ("/rest/files/abc", "PATCH", "authorization, content-type, if-match"),
            ("/rest/files/abc", "DELETE", "authorization"),
            ("/rest/files/abc", "GET", "authorization, if-none-match"),
            ("/blobs/files/f-1/blob", "PUT", "content-type, x-amz-checksum-sha256"),
        ]:
            response = await rest.http.options(path, headers=preflight(APP, method, headers))
            assert response.status_code == 200, (path, response.text)
            assert response.headers["access-control-allow-origin"] == APP
            assert method in response.headers["access-control-allow-methods"]
            allowed_headers = response.headers["access-control-allow-headers"]
            for name in headers.split(", "):
                assert name in allowed_headers
            assert response.headers["access-control-allow-credentials"] == "true"
            assert int(response.headers["access-control-max-age"]) > 0

        refused = await rest.http.options("/graphql", headers=preflight(OTHER))
        assert refused.status_code == 403 and cors_headers(refused) == {}
        odd_header = await rest.http.options("/graphql", headers=preflight(APP, "POST", "x-evil"))
        assert odd_header.status_code == 403 and cors_headers(odd_header) == {}
        # Not a browser surface: health checks get no CORS treatment.
        health = await rest.http.get("/healthz", headers={"Origin": APP})
        assert cors_headers(health) == {}


async def test_wildcard_is_never_sent_with_credentials(tmp_path: Path) -> None:
    async with open_rest(tmp_path, cors_origins="*") as rest:
        simple = await rest.http.get("/rest/me", headers={"Origin": OTHER, "Cookie": "a=b"})
        assert simple.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in simple.headers
        options = await rest.http.options("/rest/me", headers=preflight(OTHER, "GET"))
        assert options.status_code == 200
        assert options.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in options.headers

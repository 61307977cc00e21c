"""The README's fetch() example, run as written in a real headless Chromium against the real
server: a page on another loopback origin uploads a 12 MiB file in parts (each with its
SHA-256, checked by the store), loses its connection in the middle of one, resumes with the
same functions, completes; then a share link made for the file is followed with no sign-in
at all and serves exactly those bytes.

The JavaScript is the README's own code blocks, extracted at test time: if the example
stops working, this test fails."""

import hashlib
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.support.browser import BrowserTab, in_ci, serve_in_thread
from tests.support.file_client import dev_idp_token
from tests.support.server_process import ROOT, running_server

try:
    from playwright.sync_api import Browser
except ImportError:
    if in_ci():
        raise
    pytest.skip(
        "playwright is not installed (pip install -e '.[dev]'); in CI this is a failure",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MIB = 1024 * 1024
SIZE = 12 * MIB + 321  # three parts of 5 MiB, the last one short

# The page's own script: the README's blocks, then a resume scenario around them. Part 2's
# first PUT is cut off (fetch rejects, as on a dropped connection); the second sendParts
# call is the resume.
SCENARIO = """
window.runScenario = async ({ api, token, size }) => {
  API_BASE.value = api;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 13)) & 255;
  const file = new File([bytes], "big.bin", { type: "application/octet-stream" });
  const upload = await startMultipart(file, token);
  const etags = {};
  const realFetch = window.fetch;
  const checksums = [];  // the x-amz-checksum-sha256 each part PUT carried
  const recording = (url, init) => {
    if (init && init.method === "PUT")
      checksums.push((init.headers || {})["x-amz-checksum-sha256"] || null);
    return realFetch(url, init);
  };
  let cut = false;
  window.fetch = (url, init) => {
    if (!cut && init && init.method === "PUT" && String(url).includes("partNumber=2")) {
      cut = true;
      return Promise.reject(new TypeError("Failed to fetch (connection dropped)"));
    }
    return recording(url, init);
  };
  let firstError = null;
  try { await sendParts(file, upload, etags, token); } catch (e) { firstError = String(e); }
  window.fetch = recording;
  const { file: seen } = await gql(`query($id: ID!) { file(id: $id) { uploadedParts } }`,
                                   { id: upload.id }, token);
  const done = await sendParts(file, upload, etags, token);
  window.fetch = realFetch;
  const { createShareLink } = await gql(
    `mutation($id: ID!) { createShareLink(fileId: $id) { url } }`, { id: upload.id }, token);
  return { plan: upload, firstError, afterDrop: seen.uploadedParts, done, checksums,
           sha256: await sha256Hex(file), link: createShareLink.url };
};
"""


def _readme_blocks() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### From a browser app")
    end = readme.index("### curl against the REST shim")
    blocks = re.findall(r"```js\n(.*?)```", readme[start:end], flags=re.DOTALL)
    assert len(blocks) == 2, "the README's fetch() example moved: update this test"
    code = "\n".join(blocks)
    # The example's first line names the API; the page points it at the test server.
    declared = 'const API = "http://127.0.0.1:8000";'
    assert declared in code
    return code.replace(declared, "const API_BASE = { value: '' };\nlet API = '';").replace(
        "${API}", "${API_BASE.value}"
    )


def _page_app() -> Starlette:
    html = f"<!doctype html><title>upload</title><script>{_readme_blocks()}{SCENARIO}</script>"

    async def page(_: object) -> HTMLResponse:
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", page)])


def test_the_readme_example_uploads_in_parts_resumes_and_shares(
    browser: Browser, browser_tab: BrowserTab, tmp_path: Path
) -> None:
    with serve_in_thread(_page_app()) as page_origin:
        env = {
            "DEMOBACKEND_CORS_ORIGINS": page_origin,
            "DEMOBACKEND_MULTIPART_PART_BYTES": str(5 * MIB),
            "DEMOBACKEND_LOG_LEVEL": "WARNING",
        }
        with running_server(tmp_path / "data", **env) as server:
            token = dev_idp_token(server.base_url, "browser-uploader")
            page = browser_tab.page
            page.goto(f"{page_origin}/", wait_until="load")
            result = page.evaluate(
                "(args) => window.runScenario(args)",
                {"api": server.base_url, "token": token, "size": SIZE},
            )

            assert (result["plan"]["partSize"], result["plan"]["partCount"]) == (5 * MIB, 3)
            assert "connection dropped" in (result["firstError"] or ""), browser_tab.summary()
            assert result["afterDrop"] == [1]  # part 2 never arrived, part 3 was not tried
            # Parts 1, 2 (again) and 3 went with their SHA-256, which the store checked.
            assert len(result["checksums"]) == 3 and all(result["checksums"])
            assert result["done"]["status"] == "READY"
            assert result["done"]["sha256"] == result["sha256"]
            assert browser_tab.page_errors == [] and browser_tab.aborted == []

            # Anyone with the link: a fresh context, no token, no cookie, no storage.
            anonymous = browser.new_context()
            try:
                followed = anonymous.request.get(result["link"], timeout=60_000)
                assert followed.status == 200, followed.status
                body = followed.body()
            finally:
                anonymous.close()
            assert len(body) == SIZE
            assert hashlib.sha256(body).hexdigest() == result["sha256"]
            # And without a browser at all: the link is a plain 302 to the bytes.
            plain = httpx.get(result["link"], timeout=30)
            assert plain.status_code == 302

"""GraphiQL at GET /graphql, proven in a real headless Chromium against the real server.

Every request that is not to 127.0.0.1 is aborted (and recorded): the page has to render
from the app's own copy of its assets, and the tests say so when it would have needed
the internet.
"""

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api.graphiql import GRAPHIQL_ASSETS_PATH, NOTICE_ID, render_graphiql_html
from api.graphiql_assets import cdn_assets
from api.graphiql_sign_in import EXAMPLE_QUERY, SESSION_KEY, SIGN_IN_ID
from tests.support.browser import (
    ACTION_TIMEOUT_MS,
    BrowserTab,
    in_ci,
    require_installed_assets,
    serve_in_thread,
)
from tests.support.server_process import running_server

try:
    from playwright.sync_api import Locator, Page, Response, expect
except ImportError:
    if in_ci():
        raise
    pytest.skip(
        "playwright is not installed (pip install -e '.[dev]'); in CI this is a failure",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.browser, pytest.mark.slow]

USERNAME = "alice"
PASSWORD = "correct horse battery"
ME_QUERY = "{ me { id username } }"
EXECUTE_BUTTON = ".graphiql-execute-button"


def _sign_up_and_get_token(base_url: str) -> str:
    """The ID token of a fresh user, through the dev identity provider's routes."""
    account = {"username": USERNAME, "password": PASSWORD}
    signup = httpx.post(
        f"{base_url}/auth/signup", json={**account, "email": "a@example.com"}, timeout=10
    )
    assert signup.status_code == 201, signup.text
    token = httpx.post(f"{base_url}/auth/token", json=account, timeout=10)
    assert token.status_code == 200, token.text
    return str(token.json()["idToken"])


def _open_graphiql(tab: BrowserTab, base_url: str) -> Page:
    """Load the page and wait until GraphiQL has settled: rendered and schema fetched.

    Typing before the schema arrives races GraphiQL's own start-up, which can put the
    example query back into the editor under the keystrokes.
    """
    page = tab.page
    with page.expect_response(
        lambda response: (
            response.request.method == "POST"
            and "IntrospectionQuery" in (response.request.post_data or "")
        ),
        timeout=ACTION_TIMEOUT_MS,
    ) as introspection:
        response = page.goto(f"{base_url}/graphql", wait_until="load")
    assert response is not None and response.status == 200
    assert introspection.value.status == 200
    expect(page.locator(EXECUTE_BUTTON)).to_be_visible(timeout=ACTION_TIMEOUT_MS)
    return page


def _editor_value(editor: Locator) -> str:
    return str(editor.evaluate("element => element.CodeMirror.getValue()"))


def _type_query(page: Page, query: str) -> None:
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    # GraphiQL puts the example into the editor once it has started; keystrokes sent
    # before that are overwritten or interleaved with it.
    page.wait_for_function(
        "example => document.querySelector('.graphiql-query-editor .CodeMirror')"
        ".CodeMirror.getValue() === example",
        arg=EXAMPLE_QUERY,
        timeout=ACTION_TIMEOUT_MS,
    )
    editor.click()
    expect(editor).to_have_class(re.compile(r"\bCodeMirror-focused\b"))
    page.keyboard.press("Control+A")
    # Typed key by key, as a person would; CodeMirror's bracket auto-closing types over
    # the closing braces, so the editor must end up holding exactly `query`.
    page.keyboard.type(query)
    page.keyboard.press("Escape")  # close an autocomplete popup, if one opened
    assert _editor_value(editor) == query


def _paste_headers(page: Page, headers: dict[str, str]) -> None:
    page.get_by_role("button", name="Headers", exact=True).click()
    editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    expect(editor).to_be_visible(timeout=ACTION_TIMEOUT_MS)
    editor.click()
    page.keyboard.press("Control+A")
    text = json.dumps(headers)
    page.keyboard.insert_text(text)  # one input event, like a paste
    assert json.loads(_editor_value(editor)) == headers


def _run(page: Page, query: str) -> tuple[Response, Locator]:
    """Click Run; the HTTP response to the POST it sent, and the response pane."""
    with page.expect_response(
        lambda response: (
            response.request.method == "POST" and query in (response.request.post_data or "")
        ),
        timeout=ACTION_TIMEOUT_MS,
    ) as answered:
        page.locator(EXECUTE_BUTTON).click()
    return answered.value, page.locator(".graphiql-response .result-window")


def _assert_rendered_from_own_assets(tab: BrowserTab, base_url: str) -> None:
    assert tab.aborted == [], f"the page needed the internet: {tab.aborted}"
    assert not [url for url in tab.requested if "unpkg.com" in url]
    own = {f"{base_url}{GRAPHIQL_ASSETS_PATH}/{asset.key}" for asset in cdn_assets()}
    assert own <= set(tab.requested), f"not loaded from the app: {own - set(tab.requested)}"
    # A file that failed its SRI check would be refused with a console error, and GraphiQL
    # would not have rendered at all; neither may happen.
    assert tab.console_errors == []
    assert tab.page_errors == []


def test_signed_in_me_query_runs_from_the_apps_own_assets(
    tmp_path: Path, browser_tab: BrowserTab
) -> None:
    require_installed_assets()
    with running_server(tmp_path) as server:
        token = _sign_up_and_get_token(server.base_url)
        # What the same call answers outside the browser: the pane must show exactly this.
        expected = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": ME_QUERY},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert expected["data"]["me"]["username"] == USERNAME
        page = _open_graphiql(browser_tab, server.base_url)

        _paste_headers(page, {"Authorization": f"Bearer {token}"})
        _type_query(page, ME_QUERY)
        response, result = _run(page, ME_QUERY)

        assert response.request.all_headers().get("authorization") == f"Bearer {token}"
        assert response.status == 200 and response.json() == expected
        expect(result).to_contain_text(f'"username": "{USERNAME}"', timeout=ACTION_TIMEOUT_MS)
        expect(result).to_contain_text(f'"id": "{expected["data"]["me"]["id"]}"')
        expect(result).not_to_contain_text("errors")
        _assert_rendered_from_own_assets(browser_tab, server.base_url)


def test_me_query_without_a_token_shows_unauthenticated(
    tmp_path: Path, browser_tab: BrowserTab
) -> None:
    require_installed_assets()
    with running_server(tmp_path) as server:
        page = _open_graphiql(browser_tab, server.base_url)
        _type_query(page, ME_QUERY)
        response, result = _run(page, ME_QUERY)

        assert "authorization" not in response.request.all_headers()

        expect(result).to_contain_text('"code": "UNAUTHENTICATED"', timeout=ACTION_TIMEOUT_MS)
        expect(result).not_to_contain_text(USERNAME)
        _assert_rendered_from_own_assets(browser_tab, server.base_url)


def test_page_without_installed_assets_shows_the_offline_notice(
    tmp_path: Path, browser_tab: BrowserTab
) -> None:
    # The app always serves api/static/vendor/graphiql; the renderer is what decides, so
    # it is served here from a tiny app pointed at an empty assets dir.
    empty = tmp_path / "no-assets"
    empty.mkdir()
    html = render_graphiql_html(assets_dir=empty)

    async def playground(request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    with serve_in_thread(Starlette(routes=[Route("/graphql", playground)])) as base_url:
        page = browser_tab.page
        response = page.goto(f"{base_url}/graphql", wait_until="load")
        assert response is not None and response.status == 200

        notice = page.locator(f"#{NOTICE_ID}")
        expect(notice).to_be_visible(timeout=ACTION_TIMEOUT_MS)
        expect(notice).to_contain_text("GraphiQL is loading from unpkg.com")
        expect(notice).to_contain_text("make assets")
        # It sits above the (never rendered) editor, not over it.
        box = notice.bounding_box()
        assert box is not None and box["y"] == 0 and box["height"] > 0
        # Every file went to the CDN, and the fence stopped each one.
        assert set(browser_tab.aborted) == {asset.url for asset in cdn_assets()}
        expect(page.locator(EXECUTE_BUTTON)).to_have_count(0)


def _sign_in_form(page: Page) -> Locator:
    return page.locator(f"#{SIGN_IN_ID}")


def _submit_account(page: Page, button: str, username: str, password: str) -> None:
    form = _sign_in_form(page)
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name=button, exact=True).click()


def test_sign_up_sign_in_and_run_the_example_from_the_page(
    tmp_path: Path, browser_tab: BrowserTab
) -> None:
    require_installed_assets()
    with running_server(tmp_path) as server:
        page = _open_graphiql(browser_tab, server.base_url)
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        assert _editor_value(editor) == EXAMPLE_QUERY  # not GraphiQL's welcome text
        form = _sign_in_form(page)

        _submit_account(page, "Sign up", "dave", PASSWORD)
        expect(form).to_contain_text("Signed in as dave until", timeout=ACTION_TIMEOUT_MS)
        form.get_by_role("button", name="Sign out").click()
        expect(form.get_by_role("button", name="Sign in")).to_be_visible()
        _submit_account(page, "Sign in", "dave", PASSWORD)
        who = form.locator("[data-who]")
        expect(who).to_contain_text("Signed in as dave until", timeout=ACTION_TIMEOUT_MS)

        response, result = _run(page, "myFiles(first: 5)")
        token = page.evaluate(f"JSON.parse(sessionStorage.getItem('{SESSION_KEY}')).token")
        assert response.request.all_headers().get("authorization") == f"Bearer {token}"
        assert response.status == 200
        assert response.json() == {"data": {"me": {"username": "dave"}, "myFiles": {"edges": []}}}
        expect(result).to_contain_text('"username": "dave"', timeout=ACTION_TIMEOUT_MS)
        # The expiry shown is the token's own.
        exp = page.evaluate(
            "t => JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp",
            token,
        )
        shown = page.evaluate(f"new Date({exp} * 1000).toLocaleString()")
        expect(who).to_contain_text(shown)
        # The token lives in this tab's sessionStorage only: not in the URL GraphiQL keeps
        # rewriting, not in localStorage (where GraphiQL persists its Headers tab).
        assert token not in page.url
        assert token not in page.evaluate("JSON.stringify(Object.entries(localStorage))")
        assert all(token not in url for url in browser_tab.requested)

        form.get_by_role("button", name="Sign out").click()
        response, result = _run(page, "myFiles(first: 5)")
        assert "authorization" not in response.request.all_headers()
        expect(result).to_contain_text('"code": "UNAUTHENTICATED"', timeout=ACTION_TIMEOUT_MS)
        assert page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") is None
        _assert_rendered_from_own_assets(browser_tab, server.base_url)


def test_a_wrong_password_shows_the_error_and_signs_nobody_in(
    tmp_path: Path, browser_tab: BrowserTab
) -> None:
    require_installed_assets()
    with running_server(tmp_path) as server:
        _sign_up_and_get_token(server.base_url)
        page = _open_graphiql(browser_tab, server.base_url)
        _submit_account(page, "Sign in", USERNAME, "not the password")
        error = _sign_in_form(page).locator("[data-error]")
        expect(error).not_to_be_empty(timeout=ACTION_TIMEOUT_MS)
        expect(_sign_in_form(page).get_by_role("button", name="Sign in")).to_be_visible()
        assert page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") is None
        assert browser_tab.aborted == []

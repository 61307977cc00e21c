"""A headless Chromium per module and a fresh, offline-fenced tab per test.

Playwright is imported inside the fixtures: this file is loaded for every pytest run, and
a missing driver must skip (or, in CI, fail) the browser tests, not break collection.
"""

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import (
    ACTION_TIMEOUT_MS,
    CHROMIUM_ARGS,
    LAUNCH_TIMEOUT_MS,
    BrowserTab,
    chromium_executable,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_tab(browser: "Browser") -> Iterator[BrowserTab]:
    # A new context per test: GraphiQL persists headers in localStorage, so a shared one
    # would carry one test's token into the next.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        tab = BrowserTab(page)
        context.route("**/*", tab.route)
        page.on("request", tab.on_request)
        page.on("console", tab.on_console)
        page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
        yield tab
    finally:
        context.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "browser"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Save a screenshot of every browser test as an artifact (.artifacts/browser/, kept
    by CI), and on failure attach its path and what the page did to the report."""
    report = yield
    tab = getattr(item, "funcargs", {}).get("browser_tab")
    if report.when == "call" and isinstance(tab, BrowserTab):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{item.name}.png"
        try:
            tab.page.screenshot(path=shot, full_page=True, timeout=5_000)
            where = str(shot)
        except Exception as error:  # never hide the test's own failure behind this one
            where = f"no screenshot ({error})"
        if report.failed:
            report.sections.append(("browser", f"screenshot: {where}\n{tab.summary()}"))
    return report

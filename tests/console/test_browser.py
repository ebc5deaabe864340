"""The console in a real browser (Playwright driving the Debian Chromium) against a running gateway.

Every figure on a page carries its path in `tierwise report --json` (data-key); each view's figures must equal
the command's for the same period. Screenshots of each view are saved under tests/artifacts/console/.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import SESSIONS, Site

playwright_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(os.environ.get("TIERWISE_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts")) / "console"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
# Each view, and at least how many figures it must show for this traffic (so an empty page cannot pass).
VIEWS = {"overview": 60, "tiers": 8, "quality": 10, "sessions": 4, "keys": 12}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class Tab:
    """A browser tab that records every console error and uncaught exception."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, site: Site, key: str, target: str = "/console/overview") -> Any:
        self.page.goto(site.url + target)
        self.page.fill("input[name=key]", key)
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        return self.page

    def figures(self) -> dict[str, str]:
        pairs = self.page.eval_on_selector_all("[data-key]", "els => els.map(e => [e.dataset.key, e.textContent])")
        return dict(pairs)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.context.close()


def resolve(document: Any, path: str) -> Any:
    for part in json.loads(path):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def shown(value: Any) -> str:
    return "-" if value is None else str(value)


def api(site: Site, path: str) -> dict[str, Any]:
    request = urllib.request.Request(site.url + path, headers={"authorization": f"Bearer {site.admin_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        found: dict[str, Any] = json.loads(response.read())
        return found


def screenshot(tab: Tab, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_in_sets_an_httponly_cookie_and_refuses_api_keys(tab: Tab, site: Site) -> None:
    tab.page.goto(site.url + "/console/keys?period=7d")
    assert "/console/signin" in tab.page.url and tab.page.is_visible("input[name=key]")
    screenshot(tab, "signin")
    refused = tab.sign_in(site, site.plain_key, "/console/keys?period=7d")
    assert "is an API key" in refused.inner_text("form")
    page = tab.sign_in(site, site.admin_key, "/console/keys?period=7d")
    assert page.url.endswith("/console/keys?period=7d") and page.inner_text("h1") == "Keys"
    (cookie,) = tab.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    page.click("text=Sign out")
    page.goto(site.url + "/console/overview")
    assert "/console/signin" in page.url
    # The only console errors allowed: the browser's own note on the refused (403) sign-in.
    assert all("403" in error for error in tab.errors), tab.errors


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_shows_the_figures_of_report_json(tab: Tab, site: Site, view: str) -> None:
    page = tab.sign_in(site, site.admin_key, f"/console/{view}?period=7d")
    assert page.url.endswith(f"/console/{view}?period=7d")
    report = site.report("--period", "7d")
    figures = tab.figures()
    assert len(figures) >= VIEWS[view], figures
    for key, text in figures.items():
        assert text == shown(resolve(report, key)), key
    assert tab.errors == []
    screenshot(tab, view)


def test_overview_reads_without_the_docs(tab: Tab, site: Site) -> None:
    page = tab.sign_in(site, site.admin_key, "/console/overview?period=7d")
    text = page.text_content("main") or ""
    for phrase in ("Saved vs baseline", "Saved vs all-escalation", "Savings count only requests that routing decided",
                   "Judged quality", "95% interval", "what runs without routing"):  # fmt: skip
        assert phrase in text, phrase
    report = site.report("--period", "7d")
    premium = report["savings"][1]["quality"]
    assert premium["n"] >= 5 and premium["interval_95"] is not None
    low, high = premium["interval_95"]
    assert f"{premium['relative_quality']} (95% interval {low}-{high}, n={premium['n']})" in text
    assert report["routes"]["routed"]["requests"] >= 8 and report["routes"]["fallback"]["requests"] == 1
    page.click("text=All time")
    assert page.url.endswith("period=all") and tab.figures()['["requests"]'] == str(site.report()["requests"])
    assert tab.errors == []


def test_from_a_session_to_its_requests(tab: Tab, site: Site) -> None:
    page = tab.sign_in(site, site.admin_key, "/console/sessions?period=7d")
    page.click('a[data-session="alpha"]')
    assert re.search(r"/console/sessions/alpha\?key=tw-", page.url)
    assert "session moved up from default to escalation" in page.inner_text("main")
    listed = page.eval_on_selector_all(
        "table:last-of-type a[href^='/console/requests/']", "els => els.map(e => e.textContent)"
    )
    expected = site.session_request_ids("alpha")
    assert len(expected) == len(SESSIONS["alpha"]) and listed == expected
    screenshot(tab, "session")
    page.click(f"text={expected[1]}")
    assert page.url.endswith(f"/console/requests/{expected[1]}")
    detail = api(site, f"/console/api/requests/{expected[1]}")
    figures = tab.figures()
    assert len(figures) >= 6
    for key, text in figures.items():
        assert text == shown(resolve(detail, key)), key
    assert detail["request"]["tier"] == "escalation" and "hard reasoning" in page.inner_text("main")
    assert tab.errors == []
    screenshot(tab, "request")


def test_requests_view_lists_the_latest_requests(tab: Tab, site: Site) -> None:
    page = tab.sign_in(site, site.admin_key, "/console/requests?period=7d")
    listing = api(site, "/console/api/requests?period=7d")
    figures = tab.figures()
    assert len(figures) >= 4 * len(listing["requests"]) > 0
    for key, text in figures.items():
        assert text == shown(resolve(listing, key)), key
    assert page.is_visible("a[href^='/console/requests/']") and tab.errors == []
    screenshot(tab, "requests")

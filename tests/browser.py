"""Headless Debian Chromium driven by Playwright, for the few end-to-end page tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine has no network beyond the registries: keep Chromium from calling home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: `make test` installs it (apt)")
    return path


@contextmanager
def chromium(*extra_flags: str) -> Iterator[Browser]:
    # Playwright gives each launch a fresh, empty profile of its own.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=[*CHROMIUM_FLAGS, *extra_flags]
        )
        try:
            yield browser
        finally:
            browser.close()


# Every page a browser test opens is watched: a Content-Security-Policy violation (reported to the
# page as a securitypolicyviolation event, or logged by Chromium) or a failed request (a missing
# favicon, a 404 script) fails the test, so "the pages pass the CSP" is checked, not assumed.
_REPORT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
    + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


class PageWatch:
    """What went wrong on a page while a test used it: CSP violations, console errors, HTTP errors."""

    def __init__(self, page: Page, allowed_statuses: tuple[int, ...] = ()) -> None:
        self.page = page
        self.problems: list[str] = []
        self.allowed_statuses = allowed_statuses
        page.add_init_script(_REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.allowed_statuses:
            self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def violations(self) -> list[str]:
        """CSP violations the current document reported (the init script runs on every load)."""
        try:
            return list(self.page.evaluate("window.__cspViolations || []"))
        except PlaywrightError:  # the page is navigating: its next document reports its own
            return []

    def check(self) -> None:
        problems = self.problems + self.violations()
        assert problems == [], "\n".join(problems)


def watch(page: Page, allowed_statuses: tuple[int, ...] = ()) -> PageWatch:
    return PageWatch(page, allowed_statuses)


def assert_accessible(page: Page, name: str) -> None:
    """axe-core finds no WCAG 2.1 A or AA violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"


def log_in_with_form(page: Page, brand: str, email: str, password: str, button: str, landing: str) -> None:
    """Staff log in through the log-in form on the page (brand code, email, password) and land."""
    page.fill("input[name=brand]", brand)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name=button).click()
    page.wait_for_url(landing)

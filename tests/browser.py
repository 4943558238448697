"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class PageLog:
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def sync_playwright_or_skip(what: str) -> Any:
    """Playwright's sync API; skips where the browser is missing, except in CI where it fails."""
    have = Path(CHROMIUM).exists()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if have and sync_playwright is not None:
        return sync_playwright
    missing = "Chromium at /usr/bin/chromium" if not have else "the playwright package"
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is required in CI for {what}")
    pytest.skip(f"{missing} is not installed (apt-get install chromium; pip install playwright)")


@contextmanager
def chromium_page(
    route: Callable[[Any], None], what: str, **context_options: Any
) -> Iterator[tuple[Any, PageLog]]:
    """A fresh page whose every request goes through `route`, with its console, page errors,
    dialogs (dismissed) and requests logged; `context_options` go to Playwright's new_context
    (e.g. bypass_csp). The page's context is `page.context`."""
    sync_playwright = sync_playwright_or_skip(what)
    log = PageLog()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: log.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: log.errors.append(str(e)))
            page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: log.requests.append(r.url))
            yield page, log
        finally:
            browser.close()

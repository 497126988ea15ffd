"""Serve the built site on localhost and drive it with Debian's Chromium through Playwright."""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

# KX_SITE: test another built site (e.g. a private build in a scratch folder)
SITE = Path(os.environ.get("KX_SITE") or Path(__file__).resolve().parents[1] / "_build" / "html")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic",
                 "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path = SITE):
    """Yield the base URL of a static server for ``directory`` (a free port on 127.0.0.1)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class PageLog:
    """Console errors, uncaught exceptions, every request a page makes, the ones answered with
    an error status (a missing file), and what finished (for the bytes a visit transfers)."""

    def __init__(self, page, origin: str):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.missing: list[str] = []
        self.finished: list = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("response", lambda r: r.status >= 400 and self.missing.append(f"{r.status} {r.url}"))
        page.on("requestfinished", lambda r: self.finished.append(r))

        def route(r):
            url = r.request.url
            self.requests.append(url)
            if url.startswith(origin) or url.startswith(("data:", "blob:", "about:")):
                r.continue_()
            else:  # the site must not need it: record it, and never let it out
                self.outside.append(url)
                r.abort()

        # On the context: in a check with this Playwright and Chromium, page.route() saw no
        # request at all, while the context's route sees every one.
        page.context.route("**/*", route)

    def transferred(self) -> int:
        """Bytes of every response body the page received (the server sends no compression)."""
        return sum(r.sizes()["responseBodySize"] for r in self.finished)



def require_site(site: Path = SITE) -> None:
    """Fail (not skip) when the site to test is missing: a browser test must never pass vacuously."""
    import pytest

    if not (site / "index.html").exists():
        pytest.fail("the site is not built: run `make html` (or `make test`, which builds it)")


def open_page(url: str, b, path: str, viewport: dict | None = None):
    """``path`` of the site at ``url`` in its own browser context (a cold cache, as on a reader's
    first visit), loaded; returns the page and its :class:`PageLog`."""
    page = b.new_context(**({"viewport": viewport} if viewport else {})).new_page()
    log = PageLog(page, url)
    page.goto(f"{url}/{path}", wait_until="load")
    return page, log

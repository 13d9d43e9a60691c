"""Helpers for browser tests: a live ``kehu serve`` on a free port, Debian's Chromium, no internet.

Browser tests skip, saying why, when Chromium, Playwright or the vendored scripts are missing;
with ``CI`` set they fail instead, so a CI machine cannot pass them by skipping.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from server import assets

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = [
    "CHROMIUM",
    "LiveServer",
    "block_other_hosts",
    "chromium",
    "free_port",
    "live_server",
    "new_page",
    "record_csp_violations",
    "require",
    "require_browser",
    "require_vendor",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
KEHU = Path(sys.executable).parent / "kehu"
HOST = "127.0.0.1"


def require(condition: bool, reason: str) -> None:
    """Skip the test with ``reason`` unless ``condition``; under CI, fail with it."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so browser tests are required)")
    pytest.skip(reason)


def require_browser() -> None:
    """Chromium at /usr/bin/chromium and the playwright package."""
    require(CHROMIUM.exists(), f"no Chromium at {CHROMIUM}; install it with `apt-get install chromium`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "the playwright package is not installed; `pip install -e '.[test]'`")


def require_vendor(*names: str) -> None:
    """The named ``server.assets`` files are in static/vendor/ and match their pins."""
    missing = [name for name in names if assets.vendor_url(name) is None]
    require(not missing, f"static/vendor/ lacks {', '.join(missing)}; run `python -m server.assets`")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    """A ``kehu serve`` subprocess on its own SQLite file."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def graphql(self, query: str, token: str | None = None, variables: dict | None = None) -> dict:
        """The ``data`` of an operation that must succeed, sent over HTTP (as a bearer of ``token``)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(self.url("/graphql"), json={"query": query, "variables": variables or {}}, headers=headers, timeout=30).json()
        assert "errors" not in answer, answer
        return answer["data"]


def _wait_until_healthy(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"kehu serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url("/healthz"), timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"kehu serve did not answer /healthz within {timeout} s:\n{server.log()}")


@contextlib.contextmanager
def live_server(
    directory: Path, env: dict[str, str] | None = None, timeout: float = 30, migrate: bool = True
) -> Iterator[LiveServer]:
    """Migrate a fresh SQLite database in ``directory`` (or the ``env``'s), serve it, stop the server after."""
    env = {**os.environ, "KEHU_DATABASE_URL": f"sqlite://{directory / 't.sqlite3'}", **(env or {})}
    if migrate:
        migrated = subprocess.run([KEHU, "migrate"], env=env, capture_output=True, text=True, timeout=120)
        if migrated.returncode != 0:
            raise RuntimeError(f"kehu migrate failed:\n{migrated.stdout}{migrated.stderr}")
    port = free_port()
    log_path = directory / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [KEHU, "serve", "--host", HOST, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://{HOST}:{port}", process, log_path, env)
    try:
        _wait_until_healthy(server, timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def create_admin(server: LiveServer, password: str, email: str = "admin@example.com") -> None:
    """A superuser on ``server``'s database, made as an operator would: ``kehu createadmin``."""
    made = subprocess.run(
        [str(KEHU), "createadmin", "--email", email, "--password", password],
        env=server.env, capture_output=True, text=True, timeout=60,
    )
    assert made.returncode == 0, made.stderr


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (no Playwright browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser: Browser, width: int = 1280, height: int = 800) -> Iterator[Page]:
    """A page in a fresh context (its own cookies), in English, closed after."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-US",
        extra_http_headers={"accept-language": "en-US,en;q=0.9"},  # for page.context.request too
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()


def block_other_hosts(page: Page, host: str = HOST) -> list[tuple[str, str]]:
    """Abort every request to a host other than ``host``; returns the (resource type, URL) tried."""
    attempted: list[tuple[str, str]] = []

    def route(route) -> None:
        request = route.request
        if urlsplit(request.url).hostname == host:
            route.continue_()
        else:
            attempted.append((request.resource_type, request.url))
            route.abort("internetdisconnected")

    page.route("**/*", route)
    return attempted


def record_csp_violations(page: Page) -> list[str]:
    """Content-Security-Policy violations the page reports, as ``directive blocked-uri``."""
    violations: list[str] = []
    page.expose_function("__kehuCspViolation", lambda violation: violations.append(violation))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__kehuCspViolation(e.violatedDirective + ' ' + e.blockedURI))"
    )
    return violations

"""A minimal W3C WebDriver client for headless Chromium (system chromedriver), on urllib alone.

Enough for the report tests: open a page, run JavaScript, click, type, take a screenshot and read
the browser console. ``browser()`` skips the test when chromium or chromedriver is not installed.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fteval_testutil import wait_until

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """One WebDriver session."""

    def __init__(self, url: str, session: str) -> None:
        self.url, self.session = url, session

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/session/{self.session}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"webdriver {method} {path}: {exc.read().decode()[:500]}") from None

    def get(self, url: str) -> None:
        """Open ``url`` and wait for the load event."""
        self._call("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``) and return its value."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> dict[str, str]:
        """The first element matching a CSS selector."""
        found: dict[str, str] = self._call("POST", "/element", {"using": "css selector", "value": css})
        return found

    def click(self, css: str) -> None:
        """Click the element matching ``css``."""
        self._call("POST", f"/element/{self.find(css)[ELEMENT]}/click", {})

    def type(self, css: str, text: str) -> None:
        """Type ``text`` into the element matching ``css``."""
        self._call("POST", f"/element/{self.find(css)[ELEMENT]}/value", {"text": text})

    def choose(self, select_css: str, value: str) -> None:
        """Pick an option of a <select> by value, as a user would (fires ``change``)."""
        self.click(f"{select_css} option[value='{value}']")

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        return base64.b64decode(self._call("GET", "/screenshot"))

    def console(self) -> list[dict[str, Any]]:
        """Browser console entries since the last call (chromedriver's log extension)."""
        entries: list[dict[str, Any]] = self._call("POST", "/se/log", {"type": "browser"})
        return entries


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed."""
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (chrome, driver) if chrome and driver else None


@contextmanager
def browser(width: int = 1300, height: int = 1000, downloads: Path | None = None) -> Iterator[Browser]:
    """A headless Chromium session; skips the test when chromium or chromedriver is missing.

    ``downloads``: the folder files the page downloads are saved in, without asking.
    """
    paths = chromium_paths()
    if paths is None:
        pytest.skip("needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")
    chrome, driver = paths
    port = _free_port()
    proc = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        caps = {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chrome,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         f"--window-size={width},{height}"],
            },
        }  # fmt: skip
        if downloads is not None:
            caps["goog:chromeOptions"]["prefs"] = {
                "download.default_directory": str(downloads), "download.prompt_for_download": False,
            }  # fmt: skip
        body = json.dumps({"capabilities": {"alwaysMatch": caps}}).encode()

        def new_session() -> str | None:
            request = urllib.request.Request(
                f"{url}/session", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    started: str = json.loads(response.read())["value"]["sessionId"]
                    return started
            except (urllib.error.URLError, ConnectionError):
                return None  # chromedriver is not listening yet

        session = wait_until(new_session, 20, interval=0.1, what="chromedriver to start a session")
        b = Browser(url, session)
        try:
            yield b
        finally:
            try:
                b._call("DELETE", "")
            except (AssertionError, OSError):
                pass
    finally:
        proc.terminate()
        proc.wait(timeout=10)

"""What the browser tests share: real county and node processes, and numbered screenshots.

Playwright (from PyPI) drives Debian's chromium (``/usr/bin/chromium``); no browser is
downloaded. Without chromium a browser test module is skipped, unless
``TONGBAN_TEST_REQUIRE_BROWSER`` is set, when it fails instead.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
CLERK = "clerk"
CLERK_PASSWORD = "窗口-浏览器-2026"
TOWNSHIP_ID = "zhen-shifan"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make setup installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def skip_without_browser() -> None:
    """Skip the calling test module when chromium or Playwright is missing.

    With ``TONGBAN_TEST_REQUIRE_BROWSER`` set nothing is skipped, so the missing piece fails
    the run instead of hiding it.
    """
    missing = browser_missing()
    if missing and not os.environ.get("TONGBAN_TEST_REQUIRE_BROWSER"):
        pytest.skip(missing, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tongban(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tongban", *args],
        check=True,
        input=stdin,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"port {port} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Hall:
    """A county and a township, each a real process, plus the township's worker.

    ``prefix`` names this test's logs and screenshots in ``test-artifacts/screenshots/``.
    """

    root: Path
    prefix: str
    county_port: int
    township_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def county_dir(self) -> Path:
        return self.root / "central"

    @property
    def township_dir(self) -> Path:
        return self.root / "township"

    @property
    def county_url(self) -> str:
        return f"http://127.0.0.1:{self.county_port}"

    @property
    def township_url(self) -> str:
        return f"http://127.0.0.1:{self.township_port}"

    def log(self, name: str) -> int:
        """A log file for one process, kept beside the screenshots (the child owns the fd).

        Appended to, so a county started twice keeps both runs' lines.
        """
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.prefix}-{name}.log"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        fd = self.log(name)
        try:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "tongban", *args],
                env=env,
                stdout=fd,
                stderr=subprocess.STDOUT,
            )
        finally:
            os.close(fd)

    def start_county(self) -> None:
        self.spawn(
            "county",
            ["central", "serve", "--data", str(self.county_dir), "--port", str(self.county_port)],
        )
        wait_healthy(self.county_port)

    def stop_county(self) -> None:
        stop(self.processes.pop("county"))

    def add_county_user(self, username: str, name: str, roles: str, password: str) -> None:
        """A county staff account of the whole county (not of a township subtree)."""
        tongban(
            "central", "add-user", username, "--data", str(self.county_dir), "--name", name,
            "--roles", roles, "--password-stdin", stdin=password + "\n",
        )  # fmt: skip

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)


class Shots:
    """Numbered full-page screenshots of each step, named ``{prefix}-NN-{name}.png``."""

    def __init__(self, page: Any, prefix: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob(f"{prefix}-*.png"):
            old.unlink()
        self.page = page
        self.prefix = prefix
        self.count = 0

    def __call__(self, name: str, page: Any = None) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


def log_in(page: Any, base: str, username: str, password: str, then: str) -> None:
    """Log in through the form of the county or a node and land on ``then``."""
    page.goto(f"{base}/login?next={then}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(rf".*{re.escape(then)}$"))

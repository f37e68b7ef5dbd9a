"""A clerk at a township window with the county unreachable, in a real browser.

A county and a township run as real processes (the township also runs its worker). The county is
stopped; a clerk logs in, issues a one-time correction notice for an application missing a
material, accepts a complete one, prints its receipt and decides it. The county is started again,
the clerk presses "立即同步", and the decided case is at the county. Every step leaves a
screenshot in ``test-artifacts/screenshots/``.

Playwright (from PyPI) drives Debian's chromium (``/usr/bin/chromium``); no browser is
downloaded. Without chromium the test is skipped, unless ``TONGBAN_TEST_REQUIRE_BROWSER`` is set.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
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
USER = "clerk"
PASSWORD = "窗口-浏览器-2026"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make setup installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


_MISSING = _browser_missing()
if _MISSING and not os.environ.get("TONGBAN_TEST_REQUIRE_BROWSER"):
    pytest.skip(_MISSING, allow_module_level=True)


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
    """A county and a township, each a real process, plus the township's worker."""

    root: Path
    county_port: int
    township_port: int
    processes: dict[str, subprocess.Popen[bytes]]

    @property
    def county_dir(self) -> Path:
        return self.root / "central"

    @property
    def township_dir(self) -> Path:
        return self.root / "township"

    @property
    def township_url(self) -> str:
        return f"http://127.0.0.1:{self.township_port}"

    def log(self, name: str) -> int:
        """A log file for one process, kept beside the screenshots (the child owns the fd)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"offline-{name}.log"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
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
        self.processes["county"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tongban",
                "central",
                "serve",
                "--data",
                str(self.county_dir),
                "--port",
                str(self.county_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_healthy(self.county_port)

    def stop_county(self) -> None:
        stop(self.processes.pop("county"))


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    hall = Hall(tmp_path, free_port(), free_port(), {})
    catalog = Path(str(files("tongban") / "demo_catalog.json"))
    tongban("central", "init", "--data", str(hall.county_dir))
    data = ("--data", str(hall.county_dir))
    tongban("central", "import-catalog", str(catalog), "--by", "test", *data)
    try:
        hall.start_county()
        token = tongban(
            "central", "enroll-token", "--data", str(hall.county_dir), "--node-id", "zhen-shifan",
            "--name", "示范镇便民服务中心", "--tier", "township", "--parent", "county",
            "--code", "SFZ", "--by", "test",
        ).splitlines()[0]  # fmt: skip
        tongban(
            "node", "init", "--data", str(hall.township_dir),
            "--parent", f"http://127.0.0.1:{hall.county_port}", "--token", token,
        )  # fmt: skip
        tongban(
            "node", "add-user", "--data", str(hall.township_dir), "--username", USER,
            "--name", "李窗口", "--role", "clerk", "--role", "reviewer", "--role", "approver",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        env = {**os.environ, "NODE_SYNC_INTERVAL": "60"}
        hall.spawn(
            "township",
            ["node", "serve", "--data", str(hall.township_dir), "--port", str(hall.township_port)],
            env,
        )
        wait_healthy(hall.township_port)
        hall.spawn("worker", ["node", "worker", "--data", str(hall.township_dir)], env)
        yield hall
    finally:
        for process in hall.processes.values():
            stop(process)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Shots:
    """Numbered full-page screenshots of each step."""

    def __init__(self, page: Any) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob("offline-*.png"):
            old.unlink()
        self.page = page
        self.count = 0

    def __call__(self, name: str, page: Any = None) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"offline-{self.count:02d}-{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


def fill_application(
    page: Any, base: str, *, name: str, id_number: str, all_materials: bool
) -> None:
    page.goto(f"{base}/window/new?item=X05")
    page.fill("input[name=name]", name)
    page.fill("input[name=id_number]", id_number)
    page.fill("input[name=phone]", "13800000000")
    boxes = page.locator("input[name=materials]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if all_materials or index > 0:
            box.check()
        else:
            box.uncheck()


def test_clerk_works_offline_and_the_case_reaches_the_county(hall: Hall, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    shot = Shots(page)
    try:
        window_work(hall, page, shot)
    except BaseException:
        shot("failure")  # what the clerk saw when it went wrong
        raise
    finally:
        context.close()


def window_work(hall: Hall, page: Any, shot: Shots) -> None:
    base = hall.township_url
    hall.stop_county()

    # Log in; the banner says the county cannot be reached once a sync has been tried.
    page.goto(f"{base}/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/desk.*"))
    page.click("form.banner-sync button")
    page.wait_for_url(re.compile(r".*synced=1.*"))
    banner = page.locator("[data-banner=status]")
    assert "无法连接" in banner.inner_text()
    assert "同步未成功" in banner.inner_text()
    shot("desk-offline")

    # An application missing a required material: a one-time correction notice.
    fill_application(page, base, name="王秀英", id_number="110101194501011230", all_materials=False)
    page.check("input[name=decision][value=correction]")
    shot("correction-form")
    page.click("button.wide[type=submit]")
    page.wait_for_url(re.compile(r".*/window/done/.*"))
    assert "一次性告知" in page.inner_text("main") or "补正" in page.inner_text("main")
    shot("correction-result")
    correction_link = page.locator("a.button", has_text="告知")
    if correction_link.count():
        notice = page.context.new_page()
        notice.goto(base + correction_link.first.get_attribute("href"))
        assert "告知" in notice.inner_text("body")
        shot("correction-notice", notice)
        notice.close()

    # A complete application: accepted, with a receipt number and a query code.
    fill_application(page, base, name="张建国", id_number="110105198003120024", all_materials=True)
    page.check("input[name=decision][value=accept]")
    page.click("button.wide[type=submit]")
    page.wait_for_url(re.compile(r".*/window/done/.*"))
    case_id = page.url.rsplit("/", 1)[1].split("?")[0]
    receipt_no = page.locator("strong.code").first.inner_text()
    assert re.fullmatch(r"SFZ-\d{8}-\d{4}-[0-9A-Z]", receipt_no), receipt_no
    shot("accepted")

    # Print the receipt: the print page renders, on A4 in print media.
    links = page.locator("ul.doc-links a")
    assert links.count() >= 1
    printed = page.context.new_page()
    printed.goto(base + links.first.get_attribute("href"))
    printed.emulate_media(media="print")
    assert receipt_no in printed.inner_text("body")
    shot("receipt-print", printed)
    printed.close()

    # Decide it on the case page.
    page.goto(f"{base}/cases/{case_id}")
    shot("case-before-decision")
    decide = page.locator("details.action", has=page.locator("summary", has_text="作出决定"))
    assert decide.count() == 1, page.inner_text("#actions")
    decide.locator("summary").click()
    decide.locator("input[name=outcome][value=approve]").check()
    reason = decide.locator("textarea[name=reason]")
    if reason.count():
        reason.fill("材料齐全，符合条件，准予办理。")
    decide.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*done=.*"))
    shot("decided")
    assert "审批通过" in page.inner_text("main") or "准予" in page.inner_text("main")

    # The reminders page opens from the banner; fresh cases call for none yet.
    page.click("a.reminders-link")
    page.wait_for_url(re.compile(r".*/reminders$"))
    assert page.locator("[data-field=no-reminders]").count() == 1
    shot("reminders")
    page.goto(f"{base}/cases/{case_id}")

    # Records are waiting; the county comes back; "sync now" sends them up.
    waiting = page.locator("[data-field=banner-waiting] strong").inner_text()
    assert int(waiting) >= 2
    hall.start_county()
    page.click("form.banner-sync button")
    page.wait_for_url(re.compile(r".*synced=1.*"))
    banner = page.locator("[data-banner=status]")
    assert "同步完成" in banner.inner_text(), banner.inner_text()
    assert page.locator("[data-field=banner-waiting] strong").inner_text() == "0"
    shot("synced")

    hall.stop_county()
    conn = sqlite3.connect(hall.county_dir / "central.sqlite")
    try:
        row = conn.execute(
            "SELECT status, receipt_no FROM case_row WHERE case_id = ?", (case_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, "the case did not reach the county"
    assert row[1] == receipt_no
    assert row[0] in {"approved", "decided"}, row

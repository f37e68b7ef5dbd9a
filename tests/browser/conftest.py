"""Fixtures of the browser tests: the processes of a county hall and Debian's chromium.

Each test module names its artifacts by overriding ``artifact_prefix``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import (
    CHROMIUM,
    CLERK,
    CLERK_PASSWORD,
    LAUNCH_ARGS,
    SCREENSHOTS,
    TOWNSHIP_ID,
    Hall,
    free_port,
    tongban,
    wait_healthy,
)


@pytest.fixture
def artifact_prefix() -> str:
    """How this module's screenshots and process logs begin (overridden per module)."""
    return "browser"


@pytest.fixture
def hall(tmp_path: Path, artifact_prefix: str) -> Iterator[Hall]:
    """A county with the demo catalog and an enrolled township with a clerk, all running."""
    hall = Hall(tmp_path, artifact_prefix, free_port(), free_port())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"{artifact_prefix}-*.log"):
        old.unlink()
    catalog = Path(str(files("tongban") / "demo_catalog.json"))
    tongban("central", "init", "--data", str(hall.county_dir))
    data = ("--data", str(hall.county_dir))
    tongban("central", "import-catalog", str(catalog), "--by", "test", *data)
    try:
        hall.start_county()
        token = tongban(
            "central", "enroll-token", "--data", str(hall.county_dir), "--node-id", TOWNSHIP_ID,
            "--name", "示范镇便民服务中心", "--tier", "township", "--parent", "county",
            "--code", "SFZ", "--by", "test",
        ).splitlines()[0]  # fmt: skip
        tongban(
            "node", "init", "--data", str(hall.township_dir),
            "--parent", hall.county_url, "--token", token,
        )  # fmt: skip
        tongban(
            "node", "add-user", "--data", str(hall.township_dir), "--username", CLERK,
            "--name", "李窗口", "--role", "clerk", "--role", "reviewer", "--role", "approver",
            "--password-stdin", stdin=CLERK_PASSWORD + "\n",
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
        hall.stop_all()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()

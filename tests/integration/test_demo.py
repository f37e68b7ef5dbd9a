"""``make demo`` end to end: three processes, three home pages, the catalog down the tree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def free_base_port() -> int:
    """A base port with base, base+10 and base+20 all free."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + 20 < 65000 and all(_free(base + offset) for offset in (0, 10, 20)):
            return base
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(url: str, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


def wait_until_synced(url: str, timeout: float = 60.0) -> dict[str, object]:
    """A node's health once its background sync has succeeded at least once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = wait_for(url).json()
        if health["sync"]["last_success"] is not None:
            return dict(health)
        time.sleep(0.5)
    raise AssertionError(f"{url} never synced with its parent")


def test_demo_serves_three_home_pages_and_stops_cleanly(tmp_path: Path) -> None:
    base = free_base_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tongban",
            "demo",
            "--data",
            str(tmp_path / "demo"),
            "--port",
            str(base),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    announced = threading.Event()

    def collect() -> None:
        # Read as it comes: the demo prints its URLs only once it has seen all three healthy,
        # which can be after this test has already reached them.
        assert demo.stdout is not None
        for raw in demo.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if "通办演示已启动" in line:
                announced.set()

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        assert announced.wait(timeout=90), "".join(lines)
        community = wait_for(f"http://127.0.0.1:{base + 20}/healthz").json()
        assert community["parent"]["reachable"] is True
        # Release 1 is the catalog; each enrollment republishes the registry (2, 3).
        assert community["catalog_version"] == 3
        township = wait_until_synced(f"http://127.0.0.1:{base + 10}/healthz")
        assert township["catalog_version"] == 3
        pages = {
            "县政务服务中心": httpx.get(f"http://127.0.0.1:{base}/").text,
            "示范镇便民服务中心": httpx.get(f"http://127.0.0.1:{base + 10}/").text,
            "东村社区便民服务站": httpx.get(f"http://127.0.0.1:{base + 20}/").text,
        }
        for name, page in pages.items():
            assert name in page
            assert "办事指南" in page and "目录版本：3" in page
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        reader.join(timeout=10)
        if demo.stdout is not None:
            demo.stdout.close()
    output = "".join(lines)
    assert demo.returncode == 0, output
    assert "通办演示已启动" in output
    for port in (base, base + 10, base + 20):
        assert _free(port), f"port {port} still in use after the demo stopped"

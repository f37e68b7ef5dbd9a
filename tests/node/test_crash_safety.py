"""kill -9 during writes loses nothing a clerk was shown as saved.

A real ``tongban node serve`` process takes applications through the API in a loop and is
killed with SIGKILL at random moments, several times, then restarted on the same folder. Every
case the API answered 201 for must be there with its events; a request that was in flight when
the process died is either absent or there once (sending it again gives the same case); and the
node's signed hash chain, its head and the projected cases agree with the envelope log.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.settings import NodeSettings
from shared.catalog import Catalog
from shared.signing import SigningKey
from sync.casedoc import events_of
from sync.envelope import Envelope, open_body, verify_envelope
from sync.keys import load_private_key
from sync.store import LogEntry
from tests.factories import make_node
from tests.node.test_auth_pages import PASSWORD, add_staff

pytestmark = pytest.mark.slow

KILLS = 4
UNREACHABLE = "http://127.0.0.1:9"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(settings: NodeSettings, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tongban",
            "node",
            "serve",
            "--data",
            str(settings.data_dir),
            "--port",
            str(port),
        ],
        env={**os.environ, "NODE_SYNC_INTERVAL": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_up(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} did not come up")


def logged_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10.0)
    page = client.get("/login").text
    token = page.split('name="_csrf_token" value="')[1].split('"')[0]
    answer = client.post(
        "/login", data={"username": "clerk1", "password": PASSWORD, "_csrf_token": token}
    )
    assert answer.status_code in {200, 303}, answer.text
    return client


def application(request_id: str) -> dict[str, Any]:
    return {
        "item_code": "X05",
        "applicant": {
            "name": "王秀英",
            "id_type": "resident_id",
            "id_number": "110101194501011234",
            "phone": "13800000000",
        },
        "materials": ["M01"],
        "decision": "accept",
        "request_id": request_id,
    }


def submit(client: httpx.Client, request_id: str) -> httpx.Response:
    token = client.cookies.get("tongban_csrf") or ""
    return client.post(
        "/api/v1/cases", json=application(request_id), headers={"x-csrftoken": token}
    )


@pytest.fixture
def node(tmp_path: Path, county_key: SigningKey, demo_catalog: Catalog) -> NodeSettings:
    settings = make_node(
        tmp_path / "township", "zhen-shifan", county_key, demo_catalog, parent_url=UNREACHABLE
    )
    add_staff(settings, "clerk1", "clerk")
    return settings


def test_sigkill_during_writes_loses_nothing_shown_as_saved(node: NodeSettings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(20260302)
    answered: dict[str, str] = {}  # request id -> case id, for every 201 seen
    sent: list[str] = []
    for _ in range(KILLS):
        process = start(node, port)
        try:
            wait_up(base)
            client = logged_in(base)
            stop = threading.Event()

            def writer(client: httpx.Client = client, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    request_id = str(uuid.uuid4())
                    sent.append(request_id)
                    try:
                        response = submit(client, request_id)
                    except httpx.HTTPError:
                        return  # the process died under this request
                    if response.status_code == 201:
                        answered[request_id] = response.json()["case_id"]

            thread = threading.Thread(target=writer)
            thread.start()
            time.sleep(rng.uniform(0.4, 1.6))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            stop.set()
            thread.join(timeout=15)
            client.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert len(answered) >= KILLS, "the node answered too few requests to test anything"

    process = start(node, port)
    try:
        wait_up(base)
        client = logged_in(base)
        for case_id in answered.values():
            detail = client.get(f"/api/v1/cases/{case_id}")
            assert detail.status_code == 200, (case_id, detail.text)
            kinds = [entry["kind"] for entry in detail.json()["timeline"]]
            assert kinds == ["received", "accepted"], kinds
        # Every request sent again names the same case: answered ones their first answer,
        # the one in flight at a kill either the case it made or a new one, never a second.
        again = {request_id: submit(client, request_id) for request_id in sent}
        for request_id, response in again.items():
            assert response.status_code == 201, response.text
            if request_id in answered:
                assert response.json()["case_id"] == answered[request_id]
        client.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    check_store(node, expected_cases={r.json()["case_id"] for r in again.values()})


def check_store(settings: NodeSettings, expected_cases: set[str]) -> None:
    """The log is one unbroken signed chain, the head is its end, and every case is projected
    from exactly the events of its envelopes."""
    public = load_private_key(settings.key_path).public_key
    conn = sqlite3.connect(settings.database_path)
    try:
        rows = conn.execute(
            "SELECT seq, hash, prev, body, sig, case_id FROM sync_log"
            " WHERE origin = 'zhen-shifan' ORDER BY seq"
        ).fetchall()
        head = conn.execute(
            "SELECT seq, hash FROM sync_head WHERE origin = 'zhen-shifan'"
        ).fetchone()
        cases = conn.execute("SELECT case_id, events_count FROM case_row").fetchall()
        states = dict(conn.execute("SELECT case_id, state FROM case_state").fetchall())
        watermark = conn.execute("SELECT watermark FROM sync_meta").fetchone()[0]
        log_end = conn.execute("SELECT max(pos) FROM sync_log").fetchone()[0]
    finally:
        conn.close()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    previous = None
    for seq, digest, prev, body, sig, _ in rows:
        envelope = Envelope(body=body, sig=sig)
        verify_envelope(envelope, public)
        entry = LogEntry.of(envelope, open_body(envelope))
        assert entry.hash == digest
        if previous is not None:
            assert prev == previous, f"chain broken at seq {seq}"
        previous = digest
    assert head == (rows[-1][0], rows[-1][1])
    assert watermark == log_end
    # One envelope per case (received + accepted together), each case once.
    assert {r[5] for r in rows} == {c[0] for c in cases} == expected_cases
    assert len(rows) == len(cases)
    for case_id, events_count in cases:
        assert len(events_of(states[case_id])) == events_count == 2

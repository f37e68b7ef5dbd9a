"""Working offline at the window: the status banner, "sync now", the reminders pages and API,
and how the worker gets the web process to sync."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import stat
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from node.api.auth import CSRF_COOKIE
from node.app import create_app
from node.commands import opened
from node.services.replication import INTERNAL_HEADER, INTERNAL_LINK, WRITER_LOCK
from node.settings import NodeSettings
from node.storage.sync_store import WriterLock
from node.tasks import reconcile, register
from node.worker import make_huey
from shared.calendar import official_calendar
from shared.catalog import Catalog
from shared.errors import PlatformError
from shared.registry import COUNTY_NODE_ID
from shared.signing import SigningKey
from sync.auth import HEADER
from sync.keys import load_private_key
from sync.memory_store import MemoryStore
from sync.replica import Replica
from sync.server import serve_sync
from tests.conftest import FIXED_NOW
from tests.factories import registry_for
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, csrf_token, log_in
from tests.sync.tree import accepted, received
from web.problems import status_for

Client = TestClient[Litestar]


class County:
    """An in-memory county the township syncs with through the real server code."""

    def __init__(self, county_key: SigningKey, township_key: SigningKey, catalog: Catalog) -> None:
        registry = registry_for({COUNTY_NODE_ID: county_key, "zhen-shifan": township_key})
        calendar = official_calendar()
        self.replica = Replica(
            MemoryStore(),
            node_id=COUNTY_NODE_ID,
            key=county_key,
            registry=lambda: registry,
            catalog_for=lambda version: catalog if version == 1 else None,
            calendar=lambda: calendar,
            clock=lambda: FIXED_NOW,
        )
        self.up = True

    def transport(self) -> httpx.MockTransport:
        async def handle(request: httpx.Request) -> httpx.Response:
            if not self.up:
                raise httpx.ConnectError("link down", request=request)
            try:
                body = await serve_sync(
                    self.replica,
                    request.content,
                    request.headers.get(HEADER),
                    now_ms=int(FIXED_NOW.timestamp() * 1000),
                    release_newer_than=lambda version: None,
                )
            except PlatformError as exc:
                return httpx.Response(status_for(exc), json={"detail": exc.message})
            return httpx.Response(200, content=body)

        return httpx.MockTransport(handle)


@pytest.fixture
def county(township: NodeSettings, county_key: SigningKey, demo_catalog: Catalog) -> County:
    return County(county_key, load_private_key(township.key_path), demo_catalog)


@pytest.fixture
def client(township: NodeSettings, county: County) -> Iterator[Client]:
    add_staff(township, "clerk1", "clerk")
    add_staff(township, "admin1", "admin")
    app = create_app(
        township, clock=lambda: FIXED_NOW, prober=parent_down, parent_transport=county.transport()
    )
    with TestClient(app) as test_client:
        yield test_client


def post_api(client: Client, path: str) -> Any:
    token = client.cookies.get(CSRF_COOKIE) or csrf_token(client)
    return client.post(path, headers={"x-csrftoken": token})


async def make_case(settings: NodeSettings, receipt: str = "SFZ-20260302-0001-X") -> str:
    case_id = str(uuid.uuid4())
    async with opened(settings) as replication:
        replication.replica._clock = lambda: FIXED_NOW
        await replication.replica.record(
            case_id,
            lambda tick: [
                received(case_id, "zhen-shifan")(tick()),
                accepted(case_id, "zhen-shifan", receipt)(tick()),
            ],
        )
    return case_id


# -- the banner ------------------------------------------------------------------------------


def test_every_staff_page_shows_the_banner_and_anonymous_pages_do_not(client: Client) -> None:
    assert 'data-banner="status"' not in client.get("/").text
    assert log_in(client, "clerk1").status_code == 303
    for path in ("/desk", "/reminders", "/"):
        text = client.get(path).text
        assert 'data-banner="status"' in text, path
        assert "尚未检测" in text and "尚未同步" in text
        assert 'href="/reminders"' in text and 'action="/sync-now"' in text
        assert "offline.css" in text


@pytest.mark.anyio
async def test_banner_counts_waiting_records_and_open_reminders(
    township: NodeSettings, county: County
) -> None:
    add_staff(township, "clerk1", "clerk")
    await make_case(township)
    await make_case(township, "SFZ-20260302-0002-X")
    # The promised day of X19 accepted on Monday 2 March is Thursday 5 March: red on the 9th.
    from tests.node.test_reminders import Clock, beijing

    await reconcile(township, clock=Clock(beijing(date(2026, 3, 9))))
    app = create_app(
        township, clock=lambda: FIXED_NOW, prober=parent_down, parent_transport=county.transport()
    )
    with TestClient(app) as client:
        log_in(client, "clerk1")
        text = client.get("/desk").text
        assert 'data-field="banner-waiting">待上报：<strong>2</strong>' in text
        assert "红灯 2" in text and "黄灯 0" in text


def test_sync_now_button_reports_in_chinese_and_clears_the_waiting_count(
    client: Client, township: NodeSettings, county: County
) -> None:
    log_in(client, "clerk1")
    token = csrf_token(client, "/desk")
    county.up = False
    answer = client.post(
        "/sync-now", data={"_csrf_token": token, "next": "/reminders"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/reminders?synced=1"
    text = client.get("/reminders?synced=1").text
    assert "同步未成功" in text and "联网后会自动上报" in text
    assert "● 无法连接" in text

    county.up = True
    answer = client.post("/sync-now", data={"_csrf_token": token, "next": "https://evil.example"})
    assert answer.status_code == 200  # followed to the safe default page
    assert "同步完成：上报 0 条，下载 0 条。" in answer.text
    assert "● 可连接" in answer.text


def test_sync_now_needs_a_login_and_a_csrf_token(client: Client) -> None:
    assert client.post("/api/v1/sync-now").status_code in {401, 403}
    page = client.post("/sync-now", data={"next": "/desk"}, follow_redirects=False)
    assert page.status_code in {303, 403}
    log_in(client, "clerk1")
    assert client.post("/api/v1/sync-now").status_code == 403  # no CSRF header


@pytest.mark.anyio
async def test_sync_now_api_pushes_and_reports(township: NodeSettings, county: County) -> None:
    add_staff(township, "admin1", "admin")
    case_id = await make_case(township)
    app = create_app(
        township, clock=lambda: FIXED_NOW, prober=parent_down, parent_transport=county.transport()
    )
    with TestClient(app) as client:
        log_in(client, "admin1")  # any member of staff may sync
        county.up = False
        down = post_api(client, "/api/v1/sync-now")
        assert down.status_code == 200, down.text
        assert down.json()["ok"] is False and down.json()["parent_reachable"] is False
        assert down.json()["waiting"] == 1
        county.up = True
        up = post_api(client, "/api/v1/sync-now").json()
        assert up["ok"] is True and up["pushed"] == 1 and up["waiting"] == 0
        assert up["message"] == "同步完成：上报 1 条，下载 0 条。"
    assert case_id in await county.replica.store.case_rows([case_id])


# -- reminders pages and API -------------------------------------------------------------------


async def reminders_client(township: NodeSettings, county: County) -> Client:
    add_staff(township, "clerk1", "clerk")
    add_staff(township, "admin1", "admin")
    await make_case(township)
    from tests.node.test_reminders import Clock, beijing

    await reconcile(township, clock=Clock(beijing(date(2026, 3, 9))))
    app = create_app(
        township, clock=lambda: FIXED_NOW, prober=parent_down, parent_transport=county.transport()
    )
    return TestClient(app)


@pytest.mark.anyio
async def test_reminders_page_and_acknowledgement(township: NodeSettings, county: County) -> None:
    with await reminders_client(township, county) as client:
        assert client.get("/reminders", follow_redirects=False).status_code in {302, 303}
        log_in(client, "clerk1")
        text = client.get("/reminders").text
        assert "已超期" in text and "SFZ-20260302-0001-X" in text
        assert "王*英" in text and "王秀英" not in text
        found = [line for line in text.splitlines() if "data-reminder=" in line]
        reminder_id = int(found[0].split('data-reminder="')[1].split('"')[0])
        token = csrf_token(client, "/reminders")
        answer = client.post(
            f"/reminders/{reminder_id}/ack", data={"_csrf_token": token}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/reminders"
        assert "当前没有待处理的提醒" in client.get("/reminders").text
        handled = client.get("/reminders?show=all").text
        assert "已知悉（clerk1" in handled


@pytest.mark.anyio
async def test_reminders_api_roles(township: NodeSettings, county: County) -> None:
    with await reminders_client(township, county) as client:
        assert client.get("/api/v1/reminders").status_code == 401
        log_in(client, "admin1")
        listed = client.get("/api/v1/reminders").json()
        assert [(r["kind"], r["level"], r["kind_label"]) for r in listed] == [
            ("overdue", "red", "超期")
        ]
        assert listed[0]["applicant_name"] == "王*英"
        reminder_id = listed[0]["id"]
        # The technical admin sees reminders but does not acknowledge them for the clerks.
        assert post_api(client, f"/api/v1/reminders/{reminder_id}/ack").status_code == 403
        client.post("/logout", headers={"x-csrftoken": client.cookies.get(CSRF_COOKIE) or ""})
        client.cookies.clear()
        log_in(client, "clerk1")
        assert post_api(client, "/api/v1/reminders/424242/ack").status_code == 404
        acked = post_api(client, f"/api/v1/reminders/{reminder_id}/ack")
        assert acked.status_code == 200
        assert acked.json()["acknowledged_by"] == "clerk1"
        assert client.get("/api/v1/reminders").json() == []
        assert len(client.get("/api/v1/reminders?show=all").json()) == 1
        schema = client.get("/schema/openapi.json").json()["paths"]
        assert "/api/v1/reminders" in schema and "/api/v1/sync-now" in schema
        assert "/internal/sync" not in schema and "/reminders" not in schema


# -- the worker and the web process ------------------------------------------------------------


def test_web_process_holds_the_writer_lock_and_publishes_its_internal_link(
    client: Client, township: NodeSettings
) -> None:
    assert WriterLock(township.data_dir / WRITER_LOCK).held_elsewhere()
    link = township.data_dir / INTERNAL_LINK
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    data = json.loads(link.read_text())
    assert data["url"] == f"http://127.0.0.1:{township.port}"
    wrong = client.post("/internal/sync", headers={INTERNAL_HEADER: "guess"})
    assert wrong.status_code == 403
    assert client.post("/internal/sync").status_code == 403
    right = client.post("/internal/sync", headers={INTERNAL_HEADER: data["token"]})
    assert right.status_code == 200 and right.json()["ok"] is True


def test_writer_lock_is_released_when_the_web_process_stops(
    township: NodeSettings, county: County
) -> None:
    app = create_app(township, clock=lambda: FIXED_NOW, parent_transport=county.transport())
    with TestClient(app):
        assert WriterLock(township.data_dir / WRITER_LOCK).held_elsewhere()
    lock = WriterLock(township.data_dir / WRITER_LOCK)
    assert lock.try_acquire()
    lock.release()


def test_worker_asks_the_running_web_process_to_sync(
    client: Client,
    township: NodeSettings,
    county: County,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def post(url: str, *, headers: dict[str, str], timeout: float) -> Any:
        calls.append(url)
        return client.post("/internal/sync", headers=headers)

    monkeypatch.setattr("node.tasks.httpx.post", post)
    settings = dataclasses.replace(township, sync_interval=60.0)
    queue = make_huey(settings, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        tasks = register(queue, settings)
        county.up = False
        with caplog.at_level(logging.INFO, logger="node.tasks"):
            tasks["sync_with_parent"].call_local()
        assert calls == [f"http://127.0.0.1:{township.port}/internal/sync"]
        messages = [r.getMessage() for r in caplog.records if r.name == "node.tasks"]
        assert messages and messages[0].startswith("暂时无法与上级同步，下一分钟重试：")
        # The web process's own status now says what the worker's tick found.
        log_in(client, "clerk1")
        assert "● 无法连接" in client.get("/desk").text
    finally:
        queue.storage.flush_all()


def test_worker_syncs_alone_only_when_no_web_process_runs(
    township: NodeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("must not ask a web process that is not running")

    monkeypatch.setattr("node.tasks.httpx.post", refuse)
    settings = dataclasses.replace(township, sync_interval=60.0)
    queue = make_huey(settings, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        tasks = register(queue, settings)
        tasks["sync_with_parent"].call_local()  # parent.invalid: logged, not raised
    finally:
        queue.storage.flush_all()
    # It released the writer lock afterwards.
    lock = WriterLock(township.data_dir / WRITER_LOCK)
    assert lock.try_acquire()
    lock.release()


def test_reconcile_task_is_due_every_five_minutes_off_the_minute(township: NodeSettings) -> None:
    from datetime import datetime

    queue = make_huey(township, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        register(queue, township)
        due = [
            minute
            for minute in range(60)
            if "reconcile_deadlines"
            in [t.name for t in queue.read_periodic(datetime(2026, 3, 2, 2, minute))]
        ]
        assert due == list(range(2, 60, 5))
    finally:
        queue.storage.flush_all()


def test_a_second_worker_on_the_same_folder_is_refused(
    township: NodeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    from node.services.replication import WORKER_LOCK
    from tongban.cli import main

    running = WriterLock(township.data_dir / WORKER_LOCK)
    assert running.try_acquire()
    try:
        assert main(["node", "worker", "--data", str(township.data_dir)]) == 1
        assert "后台任务已在运行" in capsys.readouterr().err
    finally:
        running.release()


def test_cli_sync_and_rebuild_refuse_while_the_web_process_writes(
    client: Client, township: NodeSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    from tongban.cli import main

    for command in ("sync", "rebuild"):
        assert main(["node", command, "--data", str(township.data_dir)]) == 1
        assert "立即同步" in capsys.readouterr().err


@pytest.mark.anyio
async def test_web_loop_stands_back_while_a_worker_schedules(township: NodeSettings) -> None:
    import asyncio

    async with opened(township) as replication:
        calls: list[int] = []

        async def counted() -> Any:
            calls.append(1)
            return None

        replication.sync_now = counted  # type: ignore[method-assign]
        worker_alive = True
        loop = asyncio.create_task(replication.run_forever(0.01, stand_back=lambda: worker_alive))
        await asyncio.sleep(0.1)
        assert calls == [1]  # the first round only, to know the status at start
        worker_alive = False
        await asyncio.sleep(0.1)
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        assert len(calls) > 3

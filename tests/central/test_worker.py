"""The county worker: queue storage, the periodic catch-up projection, one consumer step."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from huey import RedisHuey, SqliteHuey

from central.commands import init_central
from central.settings import CentralSettings
from central.tasks import register
from central.worker import make_huey
from tests.conftest import REDIS_URL


def _settings(tmp_path: Path, redis_url: str | None) -> CentralSettings:
    return CentralSettings(data_dir=tmp_path / "county", redis_url=redis_url)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def county(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CentralSettings, Any]]:
    """An initialised county and a queue of its own, flushed afterwards."""
    settings = _settings(tmp_path, REDIS_URL if request.param == "redis" else None)
    asyncio.run(init_central(settings))
    queue = make_huey(settings, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        yield settings, queue
    finally:
        queue.storage.flush_all()


def test_make_huey_uses_sqlite_in_the_data_folder_without_redis(tmp_path: Path) -> None:
    queue = make_huey(_settings(tmp_path, None))
    assert isinstance(queue, SqliteHuey)
    assert queue.name == "tongban-central"
    assert queue.storage.filename == str(tmp_path / "county" / "huey.sqlite")
    assert (tmp_path / "county" / "huey.sqlite").exists()
    assert queue.results is False


def test_make_huey_uses_redis_when_a_url_is_set(tmp_path: Path) -> None:
    # Building the client does not connect, so this needs no server.
    queue = make_huey(_settings(tmp_path, "redis://127.0.0.1:6379/0"))
    assert isinstance(queue, RedisHuey)
    assert queue.name == "tongban-central"
    assert queue.results is False
    assert not (tmp_path / "county" / "huey.sqlite").exists()


def test_project_backlog_is_due_every_minute(tmp_path: Path) -> None:
    queue = make_huey(_settings(tmp_path, None))
    register(queue, _settings(tmp_path, None))
    for moment in (datetime(2026, 3, 2, 2, 0), datetime(2026, 3, 2, 2, 37)):
        assert "project_backlog" in [task.name for task in queue.read_periodic(moment)]


def test_supervision_is_reconciled_every_five_minutes(tmp_path: Path) -> None:
    queue = make_huey(_settings(tmp_path, None))
    register(queue, _settings(tmp_path, None))
    due = {
        minute: [task.name for task in queue.read_periodic(datetime(2026, 3, 2, 2, minute))]
        for minute in (0, 5, 37)
    }
    assert "reconcile_supervision" in due[0]
    assert "reconcile_supervision" in due[5]
    assert "reconcile_supervision" not in due[37]


def test_project_backlog_runs_from_the_queue(county: tuple[CentralSettings, Any]) -> None:
    settings, queue = county
    tasks = register(queue, settings)
    tasks["project_backlog"]()
    assert queue.pending_count() == 1

    errors: list[BaseException] = []
    queue.signal("error")(lambda signal, task, exc=None: errors.append(exc))
    completed: list[str] = []
    queue.signal("complete")(lambda signal, task: completed.append(task.name))

    task = queue.dequeue()
    assert task is not None and task.name == "project_backlog"
    assert queue.execute(task) is None

    assert errors == []
    assert completed == ["project_backlog"]
    assert queue.pending_count() == 0
    assert queue.result_count() == 0


def test_reconcile_supervision_runs_from_the_queue(county: tuple[CentralSettings, Any]) -> None:
    settings, queue = county
    tasks = register(queue, settings)
    tasks["reconcile_supervision"]()
    errors: list[BaseException] = []
    queue.signal("error")(lambda signal, task, exc=None: errors.append(exc))
    task = queue.dequeue()
    assert task is not None and task.name == "reconcile_supervision"
    assert queue.execute(task) is None
    assert errors == []
    assert queue.pending_count() == 0


def test_cli_central_worker_stops_gracefully_on_sigint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRAL_")}
    command = [sys.executable, "-m", "tongban", "central", "worker", "--data", str(tmp_path / "c")]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        assert "县中心后台任务已启动" in process.stderr.readline()
        # The scheduler enqueues the catch-up at start; once it has run, the handlers are set.
        seen = ""
        while "project_backlog" not in seen or "executed in" not in seen:
            line = process.stderr.readline()
            assert line, f"worker ended early: {seen}"
            seen = line
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Shutting down gracefully" in err and "Consumer exiting" in err

"""The node worker: queue storage, the periodic sync, a parent that cannot be reached."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from huey import SqliteHuey

from node.settings import NodeSettings
from node.tasks import register
from node.worker import make_huey
from shared.catalog import Catalog
from shared.signing import SigningKey
from tests.factories import make_node
from tongban.cli import main

# Port 9 (discard) on loopback: refused at once, no DNS and no waiting for a timeout.
UNREACHABLE = "http://127.0.0.1:9"


def test_make_huey_uses_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    queue = make_huey(NodeSettings(data_dir=tmp_path / "node"))
    assert isinstance(queue, SqliteHuey)
    assert queue.name == "tongban-node"
    assert queue.storage.filename == str(tmp_path / "node" / "huey.sqlite")
    assert queue.results is False


def test_sync_with_parent_is_due_every_minute(tmp_path: Path) -> None:
    settings = NodeSettings(data_dir=tmp_path / "node")
    queue = make_huey(settings)
    register(queue, settings)
    for moment in (datetime(2026, 3, 2, 2, 0), datetime(2026, 3, 2, 2, 59)):
        assert [task.name for task in queue.read_periodic(moment)] == ["sync_with_parent"]


def test_sync_with_an_unreachable_parent_logs_and_does_not_fail(
    tmp_path: Path,
    county_key: SigningKey,
    demo_catalog: Catalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = make_node(
        tmp_path / "township", "zhen-shifan", county_key, demo_catalog, parent_url=UNREACHABLE
    )
    settings = dataclasses.replace(made, sync_interval=60.0)
    queue = make_huey(settings, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        tasks = register(queue, settings)
        errors: list[object] = []
        queue.signal("error")(lambda signal, task, exc=None: errors.append(exc))
        tasks["sync_with_parent"]()
        assert queue.pending_count() == 1

        with caplog.at_level(logging.INFO, logger="node.tasks"):
            task = queue.dequeue()
            assert task is not None and task.name == "sync_with_parent"
            assert queue.execute(task) is None

        assert errors == []
        assert queue.pending_count() == 0
        lines = [r for r in caplog.records if r.name == "node.tasks"]
        assert [r.levelno for r in lines] == [logging.INFO]
        assert lines[0].getMessage().startswith("暂时无法与上级同步，下一分钟重试：无法连接上级")
    finally:
        queue.storage.flush_all()


def test_sync_with_parent_is_off_when_the_interval_is_zero(
    tmp_path: Path, county_key: SigningKey, demo_catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_node(
        tmp_path / "township", "zhen-shifan", county_key, demo_catalog, parent_url=UNREACHABLE
    )
    assert settings.sync_interval == 0
    queue = make_huey(settings, name=f"tongban-test-{uuid.uuid4().hex[:12]}")
    try:
        tasks = register(queue, settings)
        with caplog.at_level(logging.DEBUG, logger="node.tasks"):
            tasks["sync_with_parent"].call_local()
        messages = [r.getMessage() for r in caplog.records if r.name == "node.tasks"]
        assert messages == ["已关闭与上级的后台同步（sync_interval = 0）。"]
    finally:
        queue.storage.flush_all()


def test_cli_node_worker_refuses_a_folder_that_is_not_a_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["node", "worker", "--data", str(tmp_path / "empty")]) == 1
    assert "数据目录尚未初始化" in capsys.readouterr().err

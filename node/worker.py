"""The node's background worker: a Huey queue in SQLite in the node's data folder."""

from __future__ import annotations

import huey

from node.services.replication import WORKER_LOCK
from node.settings import NodeSettings
from node.storage.sync_store import WriterLock
from node.tasks import register
from shared.errors import ConflictError

QUEUE_NAME = "tongban-node"


def make_huey(settings: NodeSettings, *, name: str = QUEUE_NAME) -> huey.Huey:
    """The node's queue, ``huey.sqlite`` in the data folder (a node runs no Redis).

    Tasks return nothing, so no results are stored.

    Args:
        settings: the node's settings.
        name: queue name; tests pass their own.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    filename = str(settings.data_dir / "huey.sqlite")
    return huey.SqliteHuey(name, filename=filename, results=False, store_none=False)


def run_worker(settings: NodeSettings) -> None:
    """Run the consumer in the foreground until SIGINT (graceful) or SIGTERM.

    The worker holds ``worker.lock`` while it runs, which tells the web process that the worker
    schedules the syncs; a second worker on the same folder is refused. The sync and the
    deadline reconciliation also run once at start. Two threads, so a long sync does not hold
    the reminders back.

    Raises:
        ConflictError: a worker already runs on this data folder.
    """
    alive = WriterLock(settings.data_dir / WORKER_LOCK)
    if not alive.try_acquire():
        raise ConflictError(
            f"本节点的后台任务已在运行（{settings.data_dir}），无需再启动一个。",
            code="worker_running",
        )
    try:
        queue = make_huey(settings)
        tasks = register(queue, settings)
        for name in ("sync_with_parent", "reconcile_deadlines"):
            tasks[name]()
        queue.create_consumer(workers=2, worker_type="thread", graceful_signal="INT").run()
    finally:
        alive.release()

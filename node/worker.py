"""The node's background worker: a Huey queue in SQLite in the node's data folder."""

from __future__ import annotations

import huey

from node.settings import NodeSettings
from node.tasks import register

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
    """Run the consumer in the foreground until SIGINT (graceful) or SIGTERM."""
    queue = make_huey(settings)
    register(queue, settings)
    queue.create_consumer(workers=1, worker_type="thread", graceful_signal="INT").run()

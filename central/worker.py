"""The county's background worker: a Huey queue in Redis or, without Redis, in the data folder."""

from __future__ import annotations

import huey

from central.settings import CentralSettings
from central.tasks import register

QUEUE_NAME = "tongban-central"


def make_huey(settings: CentralSettings, *, name: str = QUEUE_NAME) -> huey.Huey:
    """The county's queue: Redis when ``redis_url`` is set, else SQLite in the data folder.

    Tasks return nothing, so no results are stored.

    Args:
        settings: the county's settings.
        name: queue name; tests pass their own so they never touch a real queue.
    """
    if settings.redis_url:
        return huey.RedisHuey(name, url=settings.redis_url, results=False, store_none=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    filename = str(settings.data_dir / "huey.sqlite")
    return huey.SqliteHuey(name, filename=filename, results=False, store_none=False)


def run_worker(settings: CentralSettings) -> None:
    """Run the consumer in the foreground until SIGINT (graceful) or SIGTERM."""
    queue = make_huey(settings)
    register(queue, settings)
    # One thread is enough: the only task is a periodic catch-up, and two projections at once
    # would only contend for the same database.
    queue.create_consumer(workers=1, worker_type="thread", graceful_signal="INT").run()

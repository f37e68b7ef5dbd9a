"""The node's SQLite database: one file, one writer, WAL.

Every write goes through :meth:`NodeDatabase.write`, which serialises writers with a lock and
runs the function inside one transaction, so a crash leaves either all of a change or none of it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database

from node.storage.migrations import migrate

T = TypeVar("T")


class NodeDatabase:
    """Owns the connection to the node's SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # The connection is shared by the event loop and worker threads; the lock below
        # is what makes that safe, so SQLite's own same-thread check is switched off.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL with WAL survives a process kill; only power loss can drop the last commits.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.RLock()
        self.db = Database(self._conn)
        with self._lock:
            migrate(self.db)

    def read(self, fn: Callable[[Database], T]) -> T:
        """Run a read; WAL readers never block the writer for long."""
        with self._lock:
            return fn(self.db)

    def write(self, fn: Callable[[Database], T]) -> T:
        """Run ``fn`` as one immediate transaction under the single-writer lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self.db)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def ping(self) -> bool:
        """Whether a trivial query succeeds."""
        try:
            with self._lock:
                row = self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return bool(row == (1,))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

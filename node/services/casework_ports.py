"""The node's stores as the coroutine ports :mod:`casework` asks for.

The node's SQLite stores answer at once, so each port simply calls the synchronous store.
"""

from __future__ import annotations

from datetime import date, datetime

from node.storage.handling_store import HandlingStore
from node.storage.intake_store import IntakeStore


class NodeIntakeLedger:
    """:class:`casework.ports.IntakeLedger` over the node's intake store."""

    def __init__(self, store: IntakeStore) -> None:
        self._store = store

    async def next_serial(self, day: date) -> int:
        """The day's next receipt serial."""
        return self._store.next_serial(day)

    async def query_secret(self) -> bytes:
        """The node's query-code secret."""
        return self._store.query_secret()

    async def request_result(self, request_id: str) -> bytes | None:
        """The answer first given to ``request_id``."""
        return self._store.request_result(request_id)

    async def remember_request(
        self, request_id: str, case_id: str, result: bytes, at: datetime
    ) -> None:
        """Remember the answer given to ``request_id``."""
        self._store.remember_request(request_id, case_id, result, at)


class NodeCertificateSerials:
    """:class:`casework.ports.CertificateSerials` over the node's handling store."""

    def __init__(self, store: HandlingStore) -> None:
        self._store = store

    async def next_certificate_serial(self, year: int) -> int:
        """The year's next certificate serial."""
        return self._store.next_certificate_serial(year)

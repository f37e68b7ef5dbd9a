"""What the case-work services need from the app that runs them.

Each app (a node on sqlite-utils, the county on Piccolo) implements these with its own storage;
the services never see a database or a framework. Storage calls are coroutines, so the county
can answer them from its database without blocking; the node wraps its synchronous stores.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from shared.catalog import Catalog
from shared.delegation import Tier


class Identity(Protocol):
    """Who records the events: the node id signs them, the short code starts receipt numbers."""

    @property
    def node_id(self) -> str:
        """The recording node's id ("county" at the county)."""
        ...

    @property
    def tier(self) -> Tier:
        """The recording node's tier."""
        ...

    @property
    def short_code(self) -> str:
        """The code receipt and certificate numbers start with."""
        ...


class HeldCatalog(Protocol):
    """A release held here: its catalog and version."""

    @property
    def version(self) -> int:
        """The release version."""
        ...

    @property
    def catalog(self) -> Catalog:
        """The release's catalog."""
        ...


class CatalogSource(Protocol):
    """The catalogs this node holds, by release version."""

    def catalog_for(self, version: int) -> Catalog | None:
        """The catalog of a release version, or None when it is not held."""
        ...


class CatalogInForce(CatalogSource, Protocol):
    """The release in force here, and the older ones still held."""

    def current(self) -> HeldCatalog | None:
        """The release in force, or None before the first one arrives."""
        ...


class Serials(Protocol):
    """Receipt serial numbers and the secret query codes are made from."""

    async def next_serial(self, day: date) -> int:
        """The next receipt serial of ``day`` (1, 2, ...), never handed out twice."""
        ...

    async def query_secret(self) -> bytes:
        """The secret this node makes query codes with."""
        ...


class IntakeLedger(Serials, Protocol):
    """Serials plus the memory of answered request ids (double submissions)."""

    async def request_result(self, request_id: str) -> bytes | None:
        """The encoded answer first given to ``request_id``, if any."""
        ...

    async def remember_request(
        self, request_id: str, case_id: str, result: bytes, at: datetime
    ) -> None:
        """Remember the answer given to ``request_id``."""
        ...


class CertificateSerials(Protocol):
    """Certificate serial numbers, per year."""

    async def next_certificate_serial(self, year: int) -> int:
        """The next certificate serial of ``year``, never handed out twice."""
        ...

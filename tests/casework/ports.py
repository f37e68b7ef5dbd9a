"""In-memory stand-ins for the case-work ports, for tests that need no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from shared.catalog import Catalog
from shared.delegation import Tier


@dataclass(frozen=True)
class Identity:
    node_id: str
    tier: Tier
    short_code: str


@dataclass(frozen=True)
class Held:
    version: int
    catalog: Catalog


@dataclass
class Catalogs:
    catalog: Catalog
    version: int = 1

    def current(self) -> Held:
        return Held(self.version, self.catalog)

    def catalog_for(self, version: int) -> Catalog | None:
        return self.catalog if version == self.version else None


@dataclass
class Ledger:
    """Receipt and certificate serials, the query secret and remembered requests."""

    serials: dict[str, int] = field(default_factory=dict)
    requests: dict[str, bytes] = field(default_factory=dict)
    secret: bytes = b"test-secret-0123456789abcdef0123"

    def _next(self, key: str) -> int:
        self.serials[key] = self.serials.get(key, 0) + 1
        return self.serials[key]

    async def next_serial(self, day: date) -> int:
        return self._next(f"receipt:{day.isoformat()}")

    async def query_secret(self) -> bytes:
        return self.secret

    async def request_result(self, request_id: str) -> bytes | None:
        return self.requests.get(request_id)

    async def remember_request(
        self, request_id: str, case_id: str, result: bytes, at: datetime
    ) -> None:
        self.requests[request_id] = result

    async def next_certificate_serial(self, year: int) -> int:
        return self._next(f"certificate:{year}")

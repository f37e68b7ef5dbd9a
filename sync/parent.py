"""Is the parent reachable? A short, bounded probe of its ``/healthz``.

A node must stay fast with its parent down for days, so the probe has a tight timeout and
callers cache its answer instead of probing on every request.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import msgspec

PROBE_TIMEOUT_SECONDS = 1.5


class ParentProbe(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of one probe."""

    url: str
    reachable: bool
    checked_at: datetime
    version: str | None = None
    error: str | None = None


async def probe_parent(
    url: str,
    now: datetime,
    *,
    timeout: float = PROBE_TIMEOUT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ParentProbe:
    """GET ``{url}/healthz``; never raises, reports what went wrong instead."""
    try:
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
            response = await client.get(url.rstrip("/") + "/healthz")
    except httpx.HTTPError as exc:
        return ParentProbe(url=url, reachable=False, checked_at=now, error=type(exc).__name__)
    if response.status_code != 200:
        return ParentProbe(
            url=url, reachable=False, checked_at=now, error=f"HTTP {response.status_code}"
        )
    try:
        version = str(response.json().get("version"))
    except ValueError:
        version = None
    return ParentProbe(url=url, reachable=True, checked_at=now, version=version)

"""Relaying a child's enrollment to the county (children only ever talk to their parent)."""

from __future__ import annotations

import contextlib

import httpx
import msgspec

from node.services.catalog import NodeCatalogService
from shared.errors import PlatformError
from sync.enrollment import EnrollResponse, relay_enrollment


class EnrollmentRelay:
    """Forwards enrollment requests to the parent and learns the new registry on the way back."""

    def __init__(
        self,
        parent_url: str,
        releases: NodeCatalogService,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._parent_url = parent_url
        self._releases = releases
        self._transport = transport

    async def relay(self, body: bytes) -> tuple[int, bytes, str]:
        """Forward the request; install the release in a successful answer (new child known)."""
        status, answer, media_type = await relay_enrollment(
            self._parent_url, body, transport=self._transport
        )
        if status == 200:
            # The answer carries a release with the new child; installing it now lets the
            # child sync with us immediately instead of after our next sync with the county.
            with contextlib.suppress(PlatformError, msgspec.DecodeError):
                response = msgspec.json.decode(answer, type=EnrollResponse)
                self._releases.install(response.release, source=self._parent_url)
        return status, answer, media_type

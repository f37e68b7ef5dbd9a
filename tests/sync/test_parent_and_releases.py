"""Reaching the parent: the health probe, against a fake transport."""

from __future__ import annotations

import httpx
import pytest

from sync.parent import probe_parent
from tests.conftest import FIXED_NOW

pytestmark = pytest.mark.anyio


def transport(handler):  # type: ignore[no-untyped-def]
    return httpx.MockTransport(handler)


async def test_probe_reports_reachable_parent_with_version() -> None:
    probe = await probe_parent(
        "http://county:8700",
        FIXED_NOW,
        transport=transport(lambda r: httpx.Response(200, json={"version": "9.9"})),
    )
    assert probe.reachable and probe.version == "9.9" and probe.error is None


async def test_probe_never_raises_for_a_down_or_failing_parent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    down = await probe_parent("http://county:8700", FIXED_NOW, transport=transport(refuse))
    assert not down.reachable and down.error == "ConnectError"
    failing = await probe_parent(
        "http://county:8700", FIXED_NOW, transport=transport(lambda r: httpx.Response(503))
    )
    assert not failing.reachable and failing.error == "HTTP 503"

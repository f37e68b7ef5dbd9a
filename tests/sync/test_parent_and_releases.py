"""Reaching the parent: health probe and release fetch, against a fake transport."""

from __future__ import annotations

import httpx
import pytest

from shared.digest import sha256_hex
from shared.errors import InvalidError, UnavailableError
from sync.parent import probe_parent
from sync.releases import ReleaseDocument, fetch_release
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


async def test_fetch_release_decodes_and_checks_the_hash() -> None:
    body = '{"format":1}'
    document = ReleaseDocument(
        version=4, content_hash=sha256_hex(body.encode()), published_at=FIXED_NOW, body=body
    )
    import msgspec

    fetched = await fetch_release(
        "http://county:8700/",
        transport=transport(lambda r: httpx.Response(200, content=msgspec.json.encode(document))),
    )
    assert fetched == document
    assert fetched is not None and fetched.checked_body() == body.encode()


async def test_fetch_release_distinguishes_none_yet_down_and_garbage() -> None:
    assert (
        await fetch_release("http://p", transport=transport(lambda r: httpx.Response(404))) is None
    )
    with pytest.raises(UnavailableError):
        await fetch_release("http://p", transport=transport(lambda r: httpx.Response(500)))
    with pytest.raises(InvalidError):
        await fetch_release(
            "http://p", transport=transport(lambda r: httpx.Response(200, content=b"[]"))
        )


def test_release_of_an_unknown_format_is_refused() -> None:
    document = ReleaseDocument(
        format=2, version=1, content_hash=sha256_hex(b"{}"), published_at=FIXED_NOW, body="{}"
    )
    with pytest.raises(InvalidError) as caught:
        document.checked_body()
    assert caught.value.code == "release_format"

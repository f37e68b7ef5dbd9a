"""The child's rounds: the next batch is prepared while a request is out, and sent only if the
answer left it valid (same pull cursor, same release)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from shared.hlc import Hlc
from sync.client import PULL_CURSOR, PUSH_CURSOR, SyncClient
from sync.envelope import open_body
from sync.messages import (
    PROTOCOL_VERSION,
    EnvelopeResult,
    SyncRequest,
    SyncResponse,
    decode_request,
    decode_response,
    encode,
)
from sync.reasons import Outcome
from tests.sync.tree import NOW, Tree, accepted, build_tree, new_case_id, received, urged

pytestmark = pytest.mark.anyio

TOWN = "zhen-shifan"


async def cases(tree: Tree, count: int) -> list[str]:
    made = []
    for _ in range(count):
        case_id = new_case_id()
        await tree.township.record(case_id, received(case_id, TOWN, "X17"), accepted(case_id, TOWN))
        made.append(case_id)
    return made


class Recording(httpx.AsyncBaseTransport):
    """Passes requests on and keeps every exchange, decoded."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[SyncRequest, SyncResponse]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append((decode_request(request.content), decode_response(body)))
        return response


async def test_client_rounds_carry_the_pull_cursor_of_the_previous_answer() -> None:
    tree = build_tree(batch_size=3)
    first = await cases(tree, 7)
    await tree.township.sync()
    for case_id in first:
        await tree.county.record(case_id, urged(case_id, "county", f"u-{case_id[:4]}"))
    await cases(tree, 8)
    client = tree.township.client
    assert client is not None
    recording = Recording(client._transport)  # type: ignore[arg-type]
    client._transport = recording
    report = await client.sync_once()
    exchanges = recording.exchanges
    assert len(exchanges) >= 3
    for (_, answer), (request, _) in itertools.pairwise(exchanges):
        assert request.pull_after == answer.pull_next
    assert report.pushed == report.accepted == 8 and report.pulled == len(first)
    assert [r.final for r, _ in exchanges].count(True) >= 1
    pushed = [open_body(e).seq for r, _ in exchanges for e in r.envelopes]
    assert pushed == sorted(set(pushed)) and len(pushed) == 8
    assert await tree.township.store.cursor(PULL_CURSOR) == exchanges[-1][1].pull_next
    rows = await tree.township.store.case_rows(first)
    assert sorted(row.events_count for row in rows.values()) == [3] * len(first)


class Parent:
    """A parent that accepts everything and offers release 2 in its first answer; after that,
    it moves the pull cursor on by 5 each round (without sending anything)."""

    def __init__(self) -> None:
        self.requests: list[SyncRequest] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        asked = decode_request(request.content)
        self.requests.append(asked)
        results = tuple(
            EnvelopeResult(body.origin, body.seq, Outcome.ACCEPTED)
            for body in (open_body(e) for e in asked.envelopes)
        )
        answer = SyncResponse(
            protocol=PROTOCOL_VERSION,
            results=results,
            heads={},
            envelopes=(),
            pull_next=asked.pull_after + (5 if len(self.requests) > 1 else 0),
            more=False,
            server_hlc=Hlc(int(NOW.timestamp() * 1000), 0),
            release=b"release-2" if len(self.requests) == 1 else None,
        )
        return httpx.Response(200, content=encode(answer))


async def test_client_builds_the_prepared_request_again_after_a_new_release() -> None:
    tree = build_tree()
    await cases(tree, 14)
    parent = Parent()
    installed: list[bytes] = []
    member = tree.township

    def install(raw: bytes) -> int:
        installed.append(raw)
        return 2

    client = SyncClient(
        member.replica,
        parent_url="http://county.test",
        key=member.key,
        clock=lambda: NOW,
        release_version=lambda: 2 if installed else None,
        install_release=install,
        transport=httpx.MockTransport(parent),
        batch_size=4,
        pull_limit=4,
    )
    report = await client.sync_once()
    versions = [r.release_version for r in parent.requests]
    assert versions == [None, *[2] * (len(parent.requests) - 1)] and len(versions) >= 4
    assert [r.pull_after for r in parent.requests] == [
        0,
        *(5 * i for i in range(len(versions) - 1)),
    ]
    assert report.pushed == report.accepted == 14 and report.release_installed == 2
    pushed: list[Any] = [open_body(e).seq for r in parent.requests for e in r.envelopes]
    assert pushed == list(range(1, 15))
    assert await member.store.cursor(PUSH_CURSOR) == await member.store.log_end()
    assert await member.store.cursor(PULL_CURSOR) == 5 * (len(versions) - 1)

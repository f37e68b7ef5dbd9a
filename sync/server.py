"""The parent half of the sync protocol, the same on every tier.

The web layers decode the body, authenticate the caller (:mod:`sync.auth`) and call
:func:`handle_sync`; the county and a township answer their children with the same code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from shared.errors import PermissionDeniedError
from shared.registry import NodeRecord
from sync.auth import authenticate
from sync.messages import (
    MAX_PULL,
    PROTOCOL_VERSION,
    SyncRequest,
    SyncResponse,
    decode_request,
    encode,
)
from sync.replica import Replica


async def handle_sync(
    replica: Replica,
    request: SyncRequest,
    caller: NodeRecord,
    *,
    release_newer_than: Callable[[int | None], bytes | None],
) -> SyncResponse:
    """Take the pushed batch, then answer with results, heads, the next feed page and release.

    The batch is logged and acknowledged first; its cases are projected (and the feed for the
    children extended) when the child marks the batch ``final``, so a long backlog is projected
    once per case instead of once per batch. A large backlog is projected in the background
    after the answer: the records are already durable, and the child need not wait for the
    county's case tables.
    """
    results = await replica.receive(request.envelopes, project=False)
    if request.final:
        await replica.project_after_ingest()
    else:
        await replica.project_while_ingesting()
    store = replica.store
    subtree = replica.registry.subtree(caller.node_id)
    heads = await store.heads(subtree)
    limit = max(0, min(request.pull_limit, MAX_PULL))
    page = await store.feed_after(caller.node_id, request.pull_after, limit) if limit else []
    quarantined = {o: why for o, why in (await store.quarantined()).items() if o in subtree}
    return SyncResponse(
        protocol=PROTOCOL_VERSION,
        results=tuple(results),
        heads={origin: head.seq for origin, head in heads.items()},
        envelopes=tuple(entry.envelope for _, entry in page),
        pull_next=page[-1][0] if page else request.pull_after,
        more=len(page) == limit and limit > 0,
        server_hlc=replica.now_hlc(),
        release=release_newer_than(request.release_version),
        quarantined=quarantined,
    )


async def serve_sync(
    replica: Replica,
    body: bytes,
    auth_header: str | None,
    *,
    now_ms: int,
    release_newer_than: Callable[[int | None], bytes | None],
    on_served: Callable[[NodeRecord, SyncRequest, SyncResponse], Awaitable[None]] | None = None,
) -> bytes:
    """Decode, authenticate, handle and encode one sync call (the web layers' whole job).

    ``on_served`` learns who called and what was exchanged once the call succeeded (the county
    records each node's last contact, version and backlog with it).

    Raises:
        InvalidError: malformed, oversized or wrong-version request (nothing was changed).
        AuthenticationError / PermissionDeniedError: the caller is not an active child.
    """
    async with replica.answering():
        registry = replica.registry
        caller = authenticate(auth_header, body, registry, replica.node_id, now_ms)
        request = decode_request(body)
        if request.node_id != caller.node_id:
            raise PermissionDeniedError("请求中的节点与签名节点不一致。", code="node_mismatch")
        response = await handle_sync(
            replica, request, caller, release_newer_than=release_newer_than
        )
        if on_served is not None:
            await on_served(caller, request, response)
        return encode(response)

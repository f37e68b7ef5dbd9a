"""``POST /api/v1/sync``: the parent side of replication, identical at the county and a township.

The handler only moves bytes: :func:`sync.server.serve_sync` authenticates, checks, stores and
answers. Protocol problems become RFC 9457 problem details through the common error mapping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from sync.auth import HEADER
from sync.messages import MAX_BODY_BYTES, MEDIA_TYPE

SyncServe = Callable[[bytes, str | None], Awaitable[bytes]]


@post(
    "/api/v1/sync",
    summary="节点同步（推送记录、拉取下发记录）",
    description=(
        "Body: gzip-compressed msgpack SyncRequest signed in the X-Tongban-Node header. "
        "Answer: gzip-compressed msgpack SyncResponse."
    ),
    request_max_body_size=MAX_BODY_BYTES,
    status_code=200,
)
async def sync_endpoint(
    request: Request[Any, Any, Any], sync_serve: NamedDependency[SyncServe]
) -> Response[bytes]:
    """Take a child's batch and answer with results, its feed and any newer release."""
    body = await request.body()
    answer = await sync_serve(body, request.headers.get(HEADER))
    return Response(content=answer, media_type=MEDIA_TYPE)

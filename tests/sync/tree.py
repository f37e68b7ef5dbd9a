"""An in-process county → township → community tree for replication tests.

Each tier has its own store, key and Replica; children reach parents through an httpx
MockTransport that calls the real server code (auth, decode, handle, encode), so the only thing
missing compared with production is the socket. Links can be cut.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import httpx

from shared.calendar import official_calendar
from shared.catalog import Catalog, decode_catalog
from shared.delegation import Tier
from shared.errors import PlatformError
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    Decided,
    Forwarded,
    ForwardMode,
    IdType,
    Outcome,
    ReceiptChannel,
    Received,
    Urged,
    UrgeLevel,
)
from shared.hlc import Hlc
from shared.registry import COUNTY_NODE_ID, NodeRecord, Registry
from shared.signing import SigningKey
from sync.auth import HEADER
from sync.client import SyncClient
from sync.memory_store import MemoryStore
from sync.replica import Replica
from sync.server import serve_sync
from sync.store import SyncStore
from web.problems import status_for

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CATALOG: Catalog = decode_catalog((files("tongban") / "demo_catalog.json").read_bytes())

LAYOUT = (
    (COUNTY_NODE_ID, "示范县政务服务中心", Tier.COUNTY, None, "XZX"),
    ("zhen-shifan", "示范镇便民服务中心", Tier.TOWNSHIP, COUNTY_NODE_ID, "SFZ"),
    ("she-dongcun", "东村社区便民服务站", Tier.COMMUNITY, "zhen-shifan", "DCS"),
)


@dataclass
class Member:
    """One tier of the tree."""

    node_id: str
    key: SigningKey
    store: SyncStore
    replica: Replica
    parent: Member | None = None
    client: SyncClient | None = None
    link_up: bool = True
    counter: int = 0

    async def sync(self) -> Any:
        assert self.client is not None
        return await self.client.sync_once()

    async def record(self, case_id: str, *drafts: Callable[[Hlc], CaseEvent]) -> Any:
        return await self.replica.record(case_id, lambda tick: [d(tick()) for d in drafts])

    async def rows(self) -> dict[str, Any]:
        log = await self.store.log_after(0, 1_000_000)
        return await self.store.case_rows({e.case_id for e in log})


@dataclass
class Tree:
    members: dict[str, Member] = field(default_factory=dict)
    registry: Registry | None = None

    def __getitem__(self, node_id: str) -> Member:
        return self.members[node_id]

    @property
    def county(self) -> Member:
        return self.members[COUNTY_NODE_ID]

    @property
    def township(self) -> Member:
        return self.members["zhen-shifan"]

    @property
    def community(self) -> Member:
        return self.members["she-dongcun"]


def build_tree(
    store_factory: Callable[[str], SyncStore] = lambda _: MemoryStore(),
    *,
    clock: Callable[[], datetime] = lambda: NOW,
    layout: Sequence[tuple[str, str, Tier, str | None, str]] = LAYOUT,
    batch_size: int = 1_000,
) -> Tree:
    keys = {node_id: SigningKey.generate() for node_id, *_ in layout}
    registry = Registry(
        nodes=tuple(
            NodeRecord(
                node_id=node_id,
                name=name,
                tier=tier,
                parent=parent,
                short_code=code,
                public_key=keys[node_id].public_key.to_text(),
            )
            for node_id, name, tier, parent, code in layout
        )
    )
    tree = Tree(registry=registry)
    calendar = official_calendar()
    for node_id, *_ in layout:
        store = store_factory(node_id)
        replica = Replica(
            store,
            node_id=node_id,
            key=keys[node_id],
            registry=lambda: registry,
            catalog_for=lambda version: CATALOG if version == 1 else None,
            calendar=lambda: calendar,
            clock=clock,
        )
        tree.members[node_id] = Member(node_id, keys[node_id], store, replica)
    for node_id, _, _, parent, _ in layout:
        if parent is None:
            continue
        member, parent_member = tree.members[node_id], tree.members[parent]
        member.parent = parent_member
        member.client = SyncClient(
            member.replica,
            parent_url=f"http://{parent}.test",
            key=member.key,
            clock=clock,
            release_version=lambda: None,
            install_release=lambda raw: None,
            transport=transport_to(member, parent_member, clock),
            batch_size=batch_size,
            pull_limit=batch_size,
        )
    return tree


def transport_to(
    child: Member, parent: Member, clock: Callable[[], datetime]
) -> httpx.MockTransport:
    async def handle(request: httpx.Request) -> httpx.Response:
        if not child.link_up:
            raise httpx.ConnectError("link down", request=request)
        try:
            body = await serve_sync(
                parent.replica,
                request.content,
                request.headers.get(HEADER),
                now_ms=int(clock().timestamp() * 1000),
                release_newer_than=lambda version: None,
            )
        except PlatformError as exc:
            return httpx.Response(status_for(exc), json={"code": exc.code, "detail": exc.message})
        return httpx.Response(200, content=body)

    return httpx.MockTransport(handle)


# -- event drafts: each takes the HLC the replica issues -------------------------------------


def new_case_id() -> str:
    return str(uuid.uuid4())


def _base(case_id: str, node_id: str, hlc: Hlc) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "node_id": node_id,
        "actor": "clerk",
        "hlc": hlc,
    }


def received(case_id: str, node_id: str, item: str = "X19") -> Callable[[Hlc], CaseEvent]:
    def draft(hlc: Hlc) -> CaseEvent:
        return Received(
            **_base(case_id, node_id, hlc),
            item_code=item,
            catalog_version=1,
            applicant=Applicant(
                name="王秀英", id_type=IdType.RESIDENT_ID, id_number="110101194501011234"
            ),
            materials=("M01", "M02"),
            channel=ReceiptChannel.WINDOW,
        )

    return draft


def accepted(
    case_id: str, node_id: str, receipt_no: str = "DCS-20260302-0001-X"
) -> Callable[[Hlc], CaseEvent]:
    return lambda hlc: Accepted(**_base(case_id, node_id, hlc), receipt_no=receipt_no)


def forwarded(case_id: str, node_id: str, to_node: str, to_tier: str) -> Callable[[Hlc], CaseEvent]:
    return lambda hlc: Forwarded(
        **_base(case_id, node_id, hlc),
        to_node=to_node,
        to_tier=to_tier,
        mode=ForwardMode.FORWARD,
        reason="转办",
    )


def decided(
    case_id: str, node_id: str, outcome: Outcome = Outcome.APPROVE
) -> Callable[[Hlc], CaseEvent]:
    return lambda hlc: Decided(**_base(case_id, node_id, hlc), outcome=outcome, reason="")


def urged(case_id: str, node_id: str, urge_id: str = "u1") -> Callable[[Hlc], CaseEvent]:
    from datetime import date

    return lambda hlc: Urged(
        **_base(case_id, node_id, hlc),
        urge_id=urge_id,
        level=UrgeLevel.FORMAL,
        content="请于3个工作日内办结并反馈",
        feedback_due=date(2026, 3, 5),
        by_unit="县政务服务中心",
    )

"""Node registry administration: the tree, tokens, status changes, and contact from real syncs."""

# ruff: noqa: F811 - fixtures imported from test_auth are requested by parameter name

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from central.app import create_app as create_central
from central.commands import county_key_path, import_catalog, issue_token
from central.db.engine import close_database, make_engine, open_database
from central.db.node_contact_tables import record_call
from central.db.reconcile_sql import run
from central.services.node_contact import NodeContactService
from central.services.signals import SignalService
from central.settings import CentralSettings
from node.commands import init_node
from node.commands import opened as node_opened
from node.settings import NodeSettings
from shared.delegation import Tier
from shared.hlc import Hlc
from shared.registry import NodeRecord, NodeStatus
from shared.version import VERSION
from sync.keys import load_private_key
from sync.messages import EnvelopeResult, SyncRequest, SyncResponse
from sync.reasons import Outcome
from sync.releases import decode_release, open_release
from tests.central.test_auth import (  # noqa: F401 - fixtures used by name
    Client,
    client,
    clock,
    county,
    login,
    one_hash_per_password,
    post_form,
    send_json,
    settings,
)
from tests.central.test_reconcile_support import County
from tests.central.test_reconcile_support import county as supervision_county
from tests.integration.test_enrollment import forward_to
from tests.sync.tree import accepted, new_case_id, received

NEW_NODE = {
    "node_id": "zhen-nanshan",
    "name": "南山镇便民服务中心",
    "tier": "township",
    "parent": "county",
    "short_code": "NSZ",
    "hours": 24,
}


def test_roles_on_the_registry(client: Client) -> None:
    assert client.get("/api/v1/admin/nodes").status_code == 401
    assert client.get("/admin/nodes", follow_redirects=False).status_code == 303
    for username in ("clerk", "catalog"):
        login(client, username)
        assert client.get("/api/v1/admin/nodes").status_code == 403
        assert client.get("/admin/nodes", headers={"accept": "text/html"}).status_code == 403
    login(client, "supervisor")
    assert client.get("/api/v1/admin/nodes").status_code == 200
    assert send_json(client, "POST", "/api/v1/admin/nodes", NEW_NODE).status_code == 403
    change = {"status": "revoked", "reason": "测试"}
    refused = send_json(client, "POST", "/api/v1/admin/nodes/zhen-shifan/status", change)
    assert refused.status_code == 403
    page = client.get("/admin/nodes")
    assert (
        "登记与更改状态需要系统管理员角色" in page.text and 'action="/admin/nodes"' not in page.text
    )


def test_tree_order_and_subtree(client: Client) -> None:
    login(client, "admin")
    nodes = client.get("/api/v1/admin/nodes").json()["nodes"]
    order = [(n["node_id"], n["depth"]) for n in nodes]
    assert order == [
        ("county", 0),
        ("zhen-shifan", 1),
        ("she-dongcun", 2),
        ("zhen-beishan", 1),
        ("she-beicun", 2),
    ]
    shifan = nodes[1]
    assert shifan["tier_label"] == "乡镇（街道）级" and shifan["parent"] == "county"
    assert shifan["fingerprint"] is None and shifan["status"] == "active"
    assert shifan["last_contact"] is None and shifan["held"] == 0
    assert shifan["feed_waiting"] == 0 and nodes[2]["feed_waiting"] is None
    assert nodes[0]["fingerprint"]  # the county's own key

    login(client, "shifan-jiancha")
    mine = [n["node_id"] for n in client.get("/api/v1/admin/nodes").json()["nodes"]]
    assert mine == ["zhen-shifan", "she-dongcun"]
    outside = client.get("/api/v1/admin/nodes/zhen-beishan")
    assert outside.status_code == 403 and outside.json()["code"] == "outside_subtree"
    assert client.get("/api/v1/admin/nodes/she-dongcun").status_code == 200
    page = client.get("/admin/nodes")
    assert "she-dongcun" in page.text and "zhen-beishan" not in page.text


def test_issue_token_once_and_refuse_bad_or_repeated_input(client: Client) -> None:
    login(client, "admin")
    issued = send_json(client, "POST", "/api/v1/admin/nodes", NEW_NODE)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["node_id"] == "zhen-nanshan" and len(body["token"]) > 20
    again = send_json(client, "POST", "/api/v1/admin/nodes", NEW_NODE)
    assert again.status_code == 409
    bad = send_json(
        client,
        "POST",
        "/api/v1/admin/nodes",
        {"node_id": "", "name": "", "tier": "county", "parent": "", "short_code": "?", "hours": 0},
    )
    assert bad.status_code == 422
    for expected in ("节点标识", "节点名称", "层级只能是", "上级节点", "简码", "有效期"):
        assert expected in bad.text
    wrong_parent = dict(
        NEW_NODE, node_id="she-x", tier="community", short_code="SX", parent="she-dongcun"
    )
    assert send_json(client, "POST", "/api/v1/admin/nodes", wrong_parent).status_code == 400
    listed = [n["node_id"] for n in client.get("/api/v1/admin/nodes").json()["nodes"]]
    assert "zhen-nanshan" in listed and "she-x" not in listed

    form = dict(NEW_NODE, node_id="zhen-xishan", short_code="XSZ", hours="48")
    shown = post_form(client, "/admin/nodes", form)
    assert shown.status_code == 201 and "注册令牌只显示这一次" in shown.text
    twice = post_form(client, "/admin/nodes", form)
    assert twice.status_code == 409 and 'value="zhen-xishan"' in twice.text
    typed = post_form(client, "/admin/nodes", dict(form, node_id="zhen-k", short_code=""))
    assert typed.status_code == 422 and 'value="zhen-k"' in typed.text and "简码" in typed.text


def test_status_change_needs_a_reason_and_publishes_a_release(client: Client) -> None:
    login(client, "admin")
    before = client.get("/healthz").json()["catalog_version"]
    path = "/api/v1/admin/nodes/she-beicun/status"
    no_reason = send_json(client, "POST", path, {"status": "quarantined", "reason": "  "})
    assert no_reason.status_code == 422 and "原因" in no_reason.text
    wrong = send_json(client, "POST", path, {"status": "gone", "reason": "x"})
    assert wrong.status_code == 422
    assert client.get("/healthz").json()["catalog_version"] == before

    done = send_json(client, "POST", path, {"status": "quarantined", "reason": "记录分叉"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["release_version"] == before + 1
    assert body["node"]["status"] == "quarantined" and body["node"]["status_reason"] == "记录分叉"
    repeated = send_json(client, "POST", path, {"status": "quarantined", "reason": "记录分叉"})
    assert repeated.json()["release_version"] == before + 1  # no second release

    form = post_form(client, "/admin/nodes/she-beicun/status", {"status": "revoked", "reason": ""})
    assert form.status_code == 422 and "请填写更改节点状态的原因" in form.text
    revoked = post_form(
        client, "/admin/nodes/she-beicun/status", {"status": "revoked", "reason": "撤并"}
    )
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/admin/nodes/she-beicun?changed={before + 2}"
    assert "已发布第" in client.get(revoked.headers["location"]).text
    county_change = send_json(
        client, "POST", "/api/v1/admin/nodes/county/status", {"status": "revoked", "reason": "x"}
    )
    assert county_change.status_code == 409
    # The release in force carries the new registry.
    assert client.get("/healthz").json()["catalog_version"] == before + 2
    node = client.get("/api/v1/admin/nodes/she-beicun").json()
    assert node["status"] == "revoked" and node["status_label"] == "已吊销"


# Contact recorded by real syncs


@pytest.fixture
async def synced(
    tmp_path: Path, demo_catalog_bytes: bytes, central_database_url: str | None
) -> AsyncIterator[tuple[CentralSettings, AsyncTestClient[Any], NodeSettings]]:
    central = CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(demo_catalog_bytes)
    await import_catalog(central, catalog, by="test")
    token = (
        await issue_token(
            central,
            node_id="zhen-shifan",
            name="示范镇便民服务中心",
            tier=Tier.TOWNSHIP,
            parent="county",
            short_code="SFZ",
            hours=1,
            by="test",
        )
    ).token
    async with AsyncTestClient(create_central(central)) as app_client:
        township = NodeSettings(data_dir=tmp_path / "township", sync_interval=0)
        await init_node(
            township, parent_url="http://county", token=token, transport=forward_to(app_client)
        )
        yield central, app_client, township


async def contact_of(central: CentralSettings, node_id: str) -> Any:
    engine = make_engine(central.database_url, central.sqlite_path)
    await open_database(engine)
    try:
        return await NodeContactService(engine, lambda: datetime.now(UTC)).node(node_id)
    finally:
        await close_database(engine)


@pytest.mark.anyio
async def test_a_real_sync_records_contact_version_and_backlog(synced: Any) -> None:
    central, app_client, township = synced
    assert (await contact_of(central, "zhen-shifan")).last_contact is None
    async with node_opened(township) as replication:
        replication.client._transport = forward_to(app_client)
        for _ in range(3):
            case = new_case_id()
            drafts = [received(case, "zhen-shifan", "X17"), accepted(case, "zhen-shifan")]

            def build(tick: Callable[[], Hlc], drafts: list[Any] = drafts) -> list[Any]:
                return [draft(tick()) for draft in drafts]

            await replication.replica.record(case, build)
        await replication.sync_now()
    node = await contact_of(central, "zhen-shifan")
    assert node.last_contact is not None and node.contact_kind == "direct"
    assert node.software == VERSION and node.calls >= 1
    assert node.reported_waiting == 0 and node.held == 0
    assert node.last_relayed is not None and node.relayed_by == "zhen-shifan"
    assert node.last_record_at is not None
    assert node.fingerprint and ":" in node.fingerprint
    calls = node.calls
    async with node_opened(township) as replication:
        replication.client._transport = forward_to(app_client)
        await replication.sync_now()
    assert (await contact_of(central, "zhen-shifan")).calls == calls + 1


@pytest.mark.anyio
async def test_relayed_records_of_a_community_and_old_clients(
    tmp_path: Path, central_database_url: str | None
) -> None:
    now = datetime(2026, 3, 10, 2, tzinfo=UTC)
    async with supervision_county(tmp_path, central_database_url) as c:
        service = NodeContactService(c.engine, lambda: now)
        township = NodeRecord(
            node_id="zhen-a", name="a", tier=Tier.TOWNSHIP, parent="county", short_code="ZA"
        )
        # An older child sends neither version nor backlog: both stay unknown, nothing fails.
        old = SyncRequest(protocol=1, node_id="zhen-a")
        response = SyncResponse(
            protocol=1,
            results=(
                EnvelopeResult("she-b", 1, Outcome.ACCEPTED),
                EnvelopeResult("she-c", 4, Outcome.REJECTED),
            ),
            heads={},
            envelopes=(),
            pull_next=0,
            more=False,
            server_hlc=Hlc(1, 0),
        )
        await service.on_served(township, old, response)
        rows = {
            r["node_id"]: r for r in await c.rows("SELECT * FROM node_contact ORDER BY node_id")
        }
        assert set(rows) == {"zhen-a", "she-b"}  # a rejected record is no sign of life
        assert rows["zhen-a"]["software"] == "" and rows["zhen-a"]["reported_waiting"] is None
        assert rows["she-b"]["relayed_by"] == "zhen-a" and rows["she-b"]["last_contact"] is None


async def _node(c: County, node_id: str, enrolled: datetime, code: str) -> None:
    await run(
        c.engine,
        "INSERT INTO node_entry (node_id, name, tier, parent, short_code, public_key, status, "
        "status_reason, created_at, enrolled_at) "
        "VALUES ({}, {}, 'township', 'county', {}, 'k', 'active', '', {}, {})",
        [node_id, node_id, code, enrolled, enrolled],
    )


@pytest.mark.anyio
async def test_silent_node_signal_uses_the_recorded_contact(
    tmp_path: Path, central_database_url: str | None
) -> None:
    now = datetime(2026, 3, 10, 2, tzinfo=UTC)
    async with supervision_county(tmp_path, central_database_url) as c:
        await _node(c, "zhen-calls", now - timedelta(days=5), "ZC")
        await _node(c, "zhen-mute", now - timedelta(days=5), "ZM")
        # Syncs (with nothing new to push) an hour ago: alive, though it never sent a record.
        await record_call(
            c.engine,
            "zhen-calls",
            now - timedelta(hours=1),
            software=VERSION,
            reported_waiting=0,
            pull_after=0,
        )
        signals = SignalService(c.engine, c.rules, lambda: now)
        await signals.refresh()
        assert {s.node for s in await signals.signals(kind="silent_node")} == {"zhen-mute"}


def test_the_registry_travels_in_the_release(client: Client, settings: CentralSettings) -> None:
    login(client, "admin")
    change = {"status": "revoked", "reason": "撤并"}
    done = send_json(client, "POST", "/api/v1/admin/nodes/she-dongcun/status", change)
    assert done.status_code == 200
    release = decode_release(client.get("/api/v1/catalog/release").content)
    county_key = load_private_key(county_key_path(settings)).public_key
    content = open_release(release, county_key, current_version=None)
    assert release.version == done.json()["release_version"]
    node = content.registry.get("she-dongcun")
    assert node is not None and node.status is NodeStatus.REVOKED and node.status_reason == "撤并"

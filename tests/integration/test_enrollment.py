"""Enrollment, sync and revocation with the real apps: county ← township ← community.

The apps run in process (AsyncTestClient, lifespans included); each child reaches its parent
through a transport that forwards to the parent's test client, so every byte goes through the
real HTTP handlers, stores (Piccolo on SQLite at the county, sqlite-utils at the nodes) and
release checks.
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from central.app import create_app as create_central
from central.commands import county_key_path, import_catalog, issue_token, set_node_status
from central.settings import CentralSettings
from node.app import create_app as create_node
from node.commands import init_node
from node.identity import read_identity
from node.settings import NodeSettings
from shared.delegation import Tier
from shared.errors import InvalidError, PermissionDeniedError
from shared.registry import NodeStatus
from sync.keys import load_private_key

pytestmark = pytest.mark.anyio


def forward_to(client: AsyncTestClient[Any]) -> httpx.MockTransport:
    """An httpx transport that hands each request to an in-process app."""

    async def handle(request: httpx.Request) -> httpx.Response:
        answer = await client.request(
            request.method, request.url.path, content=request.content, headers=dict(request.headers)
        )
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx.MockTransport(handle)


async def token_for(
    central: CentralSettings, node_id: str, tier: Tier, parent: str, code: str, **kw: Any
) -> str:
    names = {"zhen-shifan": "示范镇便民服务中心", "she-dongcun": "东村社区便民服务站"}
    issued = await issue_token(
        central,
        node_id=node_id,
        name=names[node_id],
        tier=tier,
        parent=parent,
        short_code=code,
        hours=kw.get("hours", 72),
        by="test",
    )
    return issued.token


@pytest.fixture
async def county(
    tmp_path: Path, demo_catalog_bytes: bytes
) -> AsyncIterator[tuple[CentralSettings, AsyncTestClient[Any]]]:
    settings = CentralSettings(data_dir=tmp_path / "central")
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(demo_catalog_bytes)
    await import_catalog(settings, catalog, by="test")
    async with AsyncTestClient(create_central(settings)) as client:
        yield settings, client


async def test_enroll_sync_and_revoke_through_the_tree(
    tmp_path: Path, county: tuple[CentralSettings, AsyncTestClient[Any]]
) -> None:
    central, county_client = county
    to_county = forward_to(county_client)
    township = NodeSettings(data_dir=tmp_path / "township", sync_interval=0)
    identity = await init_node(
        township,
        parent_url="http://county",
        token=await token_for(central, "zhen-shifan", Tier.TOWNSHIP, "county", "SFZ"),
        transport=to_county,
    )
    assert identity.node_id == "zhen-shifan" and identity.tier is Tier.TOWNSHIP
    county_key = load_private_key(county_key_path(central)).public_key
    assert identity.county_key == county_key.to_text()
    assert stat.S_IMODE(township.key_path.stat().st_mode) == 0o600

    async with AsyncExitStack() as stack:
        township_client = await stack.enter_async_context(
            AsyncTestClient(create_node(township, parent_transport=to_county))
        )
        community = NodeSettings(data_dir=tmp_path / "community", sync_interval=0)
        community_token = await token_for(
            central, "she-dongcun", Tier.COMMUNITY, "zhen-shifan", "DCS"
        )
        await init_node(
            community,
            parent_url="http://township",
            token=community_token,
            transport=forward_to(township_client),
        )
        assert (await township_client.get("/healthz")).json()["catalog_version"] == 3

        # The community's first sync reaches the township, which already knows it (the relay
        # installed the release that names it).
        community_client = await stack.enter_async_context(
            AsyncTestClient(create_node(community, parent_transport=forward_to(township_client)))
        )
        assert (await community_client.get("/healthz")).json()["catalog_version"] == 3

        # A used token cannot enroll again.
        with pytest.raises(PermissionDeniedError) as used:
            await init_node(
                NodeSettings(data_dir=tmp_path / "clone", sync_interval=0),
                parent_url="http://county",
                token=community_token,
                transport=to_county,
            )
        assert used.value.code == "token_used"

        # Revocation at the county reaches the township with its next sync, and the township
        # then refuses the revoked community.
        release = await set_node_status(
            central, "she-dongcun", NodeStatus.REVOKED, reason="设备丢失", by="test"
        )
        assert release.version == 4
    # Re-open the apps so each picks up the stores fresh, as after a restart.
    await sync_once_with(township, to_county)
    assert read_identity(township.config_path).node_id == "zhen-shifan"
    async with AsyncTestClient(
        create_node(township, parent_transport=to_county)
    ) as township_client:
        assert (await township_client.get("/healthz")).json()["catalog_version"] == 4
        with pytest.raises(PermissionDeniedError) as revoked:
            await sync_once_with(community, forward_to(township_client))
        assert revoked.value.code == "node_revoked"


async def sync_once_with(settings: NodeSettings, transport: httpx.AsyncBaseTransport) -> Any:
    from node.commands import opened

    async with opened(settings) as replication:
        replication.client._transport = transport
        return await replication.sync_now()


async def test_token_from_another_county_or_malformed_is_refused(
    tmp_path: Path, county: tuple[CentralSettings, AsyncTestClient[Any]]
) -> None:
    _, county_client = county
    node = NodeSettings(data_dir=tmp_path / "n", sync_interval=0)
    with pytest.raises(InvalidError):
        await init_node(
            node,
            parent_url="http://county",
            token="not-a-token",
            transport=forward_to(county_client),
        )
    foreign = "abcdefghijklmnopqrstuvwxyz012345." + "0" * 16
    with pytest.raises(Exception) as caught:
        await init_node(
            node, parent_url="http://county", token=foreign, transport=forward_to(county_client)
        )
    assert getattr(caught.value, "code", "") == "token_foreign"
    assert not node.config_path.exists()


async def test_expired_token_is_refused(
    tmp_path: Path, county: tuple[CentralSettings, AsyncTestClient[Any]]
) -> None:
    central, county_client = county
    token = await token_for(central, "zhen-shifan", Tier.TOWNSHIP, "county", "SFZ", hours=-1)
    node = NodeSettings(data_dir=tmp_path / "n", sync_interval=0)
    with pytest.raises(Exception) as caught:
        await init_node(
            node, parent_url="http://county", token=token, transport=forward_to(county_client)
        )
    assert getattr(caught.value, "code", "") == "token_expired"

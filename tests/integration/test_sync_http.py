"""The sync endpoint refuses bad input with problem details and changes nothing."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from central.app import create_app as create_central
from central.commands import import_catalog, issue_token, opened, rebuild
from central.settings import CentralSettings
from node.commands import init_node
from node.settings import NodeSettings
from shared.delegation import Tier
from shared.hlc import Hlc
from shared.signing import SigningKey
from sync.auth import HEADER, sign_request
from sync.keys import load_private_key
from sync.messages import MEDIA_TYPE, PROTOCOL_VERSION, SyncRequest, encode
from tests.integration.test_enrollment import forward_to
from tests.sync.tree import accepted, new_case_id, received

pytestmark = pytest.mark.anyio


@pytest.fixture
async def county(
    tmp_path: Path, demo_catalog_bytes: bytes
) -> AsyncIterator[tuple[CentralSettings, AsyncTestClient[Any], NodeSettings]]:
    settings = CentralSettings(data_dir=tmp_path / "central")
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(demo_catalog_bytes)
    await import_catalog(settings, catalog, by="test")
    token = (
        await issue_token(
            settings,
            node_id="zhen-shifan",
            name="示范镇便民服务中心",
            tier=Tier.TOWNSHIP,
            parent="county",
            short_code="SFZ",
            hours=1,
            by="test",
        )
    ).token
    async with AsyncTestClient(create_central(settings)) as client:
        township = NodeSettings(data_dir=tmp_path / "township", sync_interval=0)
        await init_node(
            township, parent_url="http://county", token=token, transport=forward_to(client)
        )
        yield settings, client, township


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


async def post(
    client: AsyncTestClient[Any], body: bytes, key: SigningKey | None, node_id: str = "zhen-shifan"
) -> Any:
    headers = {"Content-Type": MEDIA_TYPE}
    if key is not None:
        headers[HEADER] = sign_request(key, node_id, body, now_ms())
    return await client.post("/api/v1/sync", content=body, headers=headers)


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["detail"]


async def test_bad_batches_get_problem_details_and_change_nothing(county: Any) -> None:
    settings, client, township = county
    key = load_private_key(township.key_path)
    async with opened(settings) as before:
        end_before = await before.replica.store.log_end()

    assert_problem(await post(client, b"", key), 400, "sync_malformed")
    assert_problem(await post(client, gzip.compress(b"\x93garbage"), key), 400, "sync_malformed")
    assert_problem(await post(client, b"\x1f\x8b\x08\x00broken", key), 400, "sync_malformed")
    future = encode(SyncRequest(protocol=PROTOCOL_VERSION + 1, node_id="zhen-shifan"))
    problem = await post(client, future, key)
    assert_problem(problem, 400, "protocol_version")
    assert "版本" in problem.json()["detail"]
    assert_problem(
        await post(client, encode(SyncRequest(protocol=1, node_id="zhen-shifan")), None),
        401,
        "sync_unsigned",
    )
    impostor = SigningKey.generate()
    assert_problem(
        await post(client, encode(SyncRequest(protocol=1, node_id="zhen-shifan")), impostor),
        401,
        "sync_bad_signature",
    )
    # A known node that is not a child of the county may not call it.
    assert_problem(
        await post(
            client,
            encode(SyncRequest(protocol=1, node_id="county")),
            load_private_key(settings.data_dir / "keys" / "county.key"),
            node_id="county",
        ),
        403,
        "not_a_child",
    )
    empty = msgspec.msgpack.encode(SyncRequest(protocol=1, node_id="zhen-shifan"))
    assert (await post(client, empty, key)).status_code == 200  # uncompressed and empty is fine

    async with opened(settings) as after:
        assert await after.replica.store.log_end() == end_before


async def test_oversized_body_is_refused_before_parsing(county: Any) -> None:
    _, client, township = county
    key = load_private_key(township.key_path)
    bomb = gzip.compress(b"\x00" * (70 * 1024 * 1024))
    assert_problem(await post(client, bomb, key), 400, "sync_too_large")


async def test_rebuild_reproduces_the_materialized_tables(county: Any) -> None:
    settings, client, township = county
    from node.commands import opened as node_opened

    async with node_opened(township) as replication:
        replication.client._transport = forward_to(client)
        for _ in range(5):
            case = new_case_id()
            drafts = [received(case, "zhen-shifan", "X17"), accepted(case, "zhen-shifan")]

            def build(tick: Callable[[], Hlc], drafts: list[Any] = drafts) -> list[Any]:
                return [draft(tick()) for draft in drafts]

            await replication.replica.record(case, build)
        await replication.sync_now()
    async with opened(settings) as county_services:
        store = county_services.replica.store
        log = await store.log_after(0, 10_000)
        cases = {e.case_id for e in log}
        before = await store.case_rows(cases)
    report = await rebuild(settings)
    assert report.cases == len(cases) == 5
    async with opened(settings) as county_services:
        after = await county_services.replica.store.case_rows(cases)
    assert {k: msgspec.json.encode(v) for k, v in after.items()} == {
        k: msgspec.json.encode(v) for k, v in before.items()
    }

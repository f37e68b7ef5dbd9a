"""A node's walking skeleton: health with its parent, the guide it may offer, releases."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from node.app import create_app
from node.settings import NodeSettings
from shared.catalog import Catalog
from shared.delegation import Tier
from shared.errors import NotFoundError
from shared.signing import SigningKey
from sync.releases import decode_release, open_release
from tests.conftest import FIXED_NOW
from tests.factories import make_node
from tests.node.conftest import parent_down


def test_healthz_names_the_node_and_its_unreachable_parent(township_client: TestClient) -> None:  # type: ignore[type-arg]
    body = township_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert (body["node_id"], body["tier"], body["name"]) == (
        "zhen-shifan",
        "township",
        "示范镇便民服务中心",
    )
    assert body["parent"]["url"] == "http://parent.invalid:8700"
    assert body["parent"]["reachable"] is False
    assert body["catalog_version"] == 1


def test_home_lists_only_what_the_township_may_take(
    township_client: TestClient,
    demo_catalog: Catalog,  # type: ignore[type-arg]
) -> None:
    page = township_client.get("/").text
    on = FIXED_NOW.date()
    offered = [i for i in demo_catalog.items if i.can_accept_at(Tier.TOWNSHIP, "zhen-shifan", on)]
    refused = [
        i for i in demo_catalog.items if not i.can_accept_at(Tier.TOWNSHIP, "zhen-shifan", on)
    ]
    assert offered and refused
    for item in offered:
        assert item.name in page
    for item in refused:
        assert f'/items/{item.code}"' not in page
    assert "示范镇便民服务中心" in page


def test_forwarded_items_are_marked_as_decided_above(
    township_client: TestClient,
    demo_catalog: Catalog,  # type: ignore[type-arg]
) -> None:
    entries = township_client.get("/api/v1/catalog/items").json()["entries"]
    on = FIXED_NOW.date()
    for entry in entries:
        item = demo_catalog.item(entry["code"])
        decides = item.handling_tier_for(Tier.TOWNSHIP, "zhen-shifan", on) is Tier.TOWNSHIP
        assert entry["decided_here"] is decides
    assert any(not e["decided_here"] for e in entries)


def test_item_not_offered_here_is_a_404(township_client: TestClient, demo_catalog: Catalog) -> None:  # type: ignore[type-arg]
    on = FIXED_NOW.date()
    not_here = next(
        i for i in demo_catalog.items if not i.can_accept_at(Tier.TOWNSHIP, "zhen-shifan", on)
    )
    response = township_client.get(f"/api/v1/catalog/items/{not_here.code}")
    assert response.status_code == 404
    assert response.json()["code"] == "item_not_offered"


def test_community_sees_fewer_items_than_the_township(
    township: NodeSettings, community: NodeSettings, demo_catalog_bytes: bytes
) -> None:
    counts = {}
    for settings in (township, community):
        with TestClient(
            create_app(settings, clock=lambda: FIXED_NOW, prober=parent_down)
        ) as client:
            counts[settings.data_dir.name] = len(
                client.get("/api/v1/catalog/items").json()["entries"]
            )
    assert 0 < counts["community"] < counts["township"]


def test_node_relays_its_release_byte_for_byte(
    township_client: TestClient,  # type: ignore[type-arg]
    county_key: SigningKey,
    demo_catalog: Catalog,
) -> None:
    release = decode_release(township_client.get("/api/v1/catalog/release").content)
    content = open_release(release, county_key.public_key, current_version=None)
    assert content.catalog == demo_catalog
    assert content.registry.get("zhen-shifan") is not None


def test_node_without_catalog_says_so(tmp_path, county_key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    bare = make_node(tmp_path / "bare", "zhen-shifan", county_key, None)
    with TestClient(create_app(bare, clock=lambda: FIXED_NOW, prober=parent_down)) as client:
        assert "尚未收到事项目录" in client.get("/").text
        assert client.get("/healthz").json()["catalog_version"] is None
        assert client.get("/api/v1/catalog/release").status_code == 404


def test_uninitialised_folder_is_refused_with_guidance(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match="tongban node init"):
        create_app(NodeSettings(data_dir=tmp_path / "empty"))

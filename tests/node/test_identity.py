"""The node identity file and ``node init``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.identity import NodeIdentity, read_identity, write_identity
from shared.delegation import Tier
from shared.errors import InvalidError, NotFoundError
from shared.signing import SigningKey

COUNTY_KEY = SigningKey.generate().public_key.to_text()


def identity(**changes: object) -> NodeIdentity:
    values: dict[str, object] = {
        "node_id": "zhen-shifan",
        "name": "示范镇便民服务中心",
        "tier": Tier.TOWNSHIP,
        "short_code": "SFZ",
        "parent_url": "http://county:8700",
        "county_key": COUNTY_KEY,
        "created_at": datetime(2026, 11, 1, tzinfo=UTC),
    }
    values.update(changes)
    return NodeIdentity(**values)  # type: ignore[arg-type]


def test_valid_identity_has_no_problems() -> None:
    assert identity().problems() == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"node_id": "Zhen Shifan"}, "节点标识"),
        ({"short_code": "s"}, "节点简码"),
        ({"tier": Tier.COUNTY}, "节点层级"),
        ({"name": "  "}, "节点名称"),
        ({"parent_url": "county:8700"}, "上级地址"),
    ],
)
def test_each_identity_problem_is_named(changes: dict[str, object], fragment: str) -> None:
    problems = identity(**changes).problems()
    assert len(problems) == 1 and fragment in problems[0]


def test_identity_round_trips_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    write_identity(path, identity())
    assert read_identity(path) == identity()
    with pytest.raises(InvalidError):
        write_identity(path, identity(name="另一个节点"))
    assert read_identity(path).name == "示范镇便民服务中心"


def test_damaged_or_missing_identity_is_explained(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="tongban node init"):
        read_identity(tmp_path / "node.json")
    (tmp_path / "node.json").write_text("{", encoding="utf-8")
    with pytest.raises(InvalidError, match="损坏"):
        read_identity(tmp_path / "node.json")

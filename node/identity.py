"""The node's identity file (``node.json``): who this node is in the county tree."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import msgspec

from shared.delegation import Tier
from shared.errors import InvalidError, NotFoundError

IDENTITY_FORMAT = 1
_NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_SHORT_CODE = re.compile(r"^[A-Z0-9]{2,8}$")


class NodeIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Written once at ``tongban node init``; never edited by the running node.

    ``county_key`` is pinned at enrollment: every release is checked against it.
    """

    format: int = IDENTITY_FORMAT
    node_id: str
    name: str
    tier: Tier
    short_code: str
    parent_url: str
    county_key: str
    created_at: datetime

    def problems(self) -> list[str]:
        """Every reason this identity cannot be used, in Chinese."""
        found: list[str] = []
        if not _NODE_ID.match(self.node_id):
            found.append(f"节点标识“{self.node_id}”无效：只能使用小写字母、数字和连字符，2–63 位。")
        if not _SHORT_CODE.match(self.short_code):
            found.append(
                f"节点简码“{self.short_code}”无效：应为 2–8 位大写字母或数字（用于受理编号）。"
            )
        if self.tier is Tier.COUNTY:
            found.append("节点层级只能是乡镇（township）或村社区（community）；县级由县中心承担。")
        if not self.name.strip():
            found.append("节点名称不能为空。")
        if not self.parent_url.startswith(("http://", "https://")):
            found.append(f"上级地址“{self.parent_url}”无效：应以 http:// 或 https:// 开头。")
        return found


def write_identity(path: Path, identity: NodeIdentity) -> None:
    """Write ``node.json`` atomically; an existing identity is never replaced.

    Raises:
        InvalidError: the identity is invalid or the folder already belongs to a node.
    """
    problems = identity.problems()
    if problems:
        raise InvalidError("；".join(problems), code="node_identity_invalid")
    if path.exists():
        raise InvalidError(f"该数据目录已初始化为节点，不会覆盖：{path}", code="node_exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(msgspec.json.format(msgspec.json.encode(identity)))
    temporary.replace(path)


def read_identity(path: Path) -> NodeIdentity:
    """Read ``node.json``.

    Raises:
        NotFoundError: the folder has not been initialised.
        InvalidError: the file is damaged.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"数据目录尚未初始化：{path.parent}。请先运行 tongban node init。"
        ) from exc
    try:
        return msgspec.json.decode(raw, type=NodeIdentity)
    except msgspec.DecodeError as exc:
        raise InvalidError(
            f"节点身份文件已损坏：{path}（{exc}）", code="node_identity_invalid"
        ) from exc

"""Service tiers and how an item is pushed down from the tier that owns it.

A catalog item belongs to a home tier, whose body decides it. Delegations let nodes of a lower
tier take the item too: some modes hand over the decision (直接下放, 委托, 下放实质性审核权),
others only move the counter closer to the resident (窗口前移, 村级代办). The functions here
answer, for one node on one day, whether it may accept an item and which tier then decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

import msgspec


class Tier(StrEnum):
    """行使层级 of the county service network (GB/T 39046 A.2 codes 4/5/6)."""

    COUNTY = "county"
    TOWNSHIP = "township"
    COMMUNITY = "community"

    @property
    def label(self) -> str:
        """Chinese name of the tier."""
        return _TIER_LABELS[self]

    @property
    def national_code(self) -> str:
        """GB/T 39046 A.2 行使层级代码."""
        return _TIER_CODES[self]

    def is_below(self, other: Tier) -> bool:
        """Whether this tier is further from the county centre than ``other``."""
        return int(self.national_code) > int(other.national_code)


_TIER_LABELS = {
    Tier.COUNTY: "县级",
    Tier.TOWNSHIP: "乡镇（街道）级",
    Tier.COMMUNITY: "村（社区）级",
}
_TIER_CODES = {Tier.COUNTY: "4", Tier.TOWNSHIP: "5", Tier.COMMUNITY: "6"}


class DelegationMode(StrEnum):
    """How an item reaches a lower tier."""

    DIRECT = "direct"  # 直接下放: the lower tier decides in its own name
    ENTRUST = "entrust"  # 委托: decides in the delegating body's name and seal (art. 24)
    REVIEW_POWER = "review_power"  # 下放实质性审核权: lower tier reviews, upper tier seals
    WINDOW_FORWARD = "window_forward"  # 窗口前移: receive and forward only
    PROXY = "proxy"  # 代办/帮办: a village or community agent applies for the resident

    @property
    def label(self) -> str:
        """Chinese name of the mode."""
        return _MODE_LABELS[self]

    @property
    def decides(self) -> bool:
        """Whether a node holding this delegation decides the case itself."""
        return self in _DECIDING_MODES


_MODE_LABELS = {
    DelegationMode.DIRECT: "直接下放",
    DelegationMode.ENTRUST: "委托",
    DelegationMode.REVIEW_POWER: "下放实质性审核权",
    DelegationMode.WINDOW_FORWARD: "窗口前移",
    DelegationMode.PROXY: "代办/帮办",
}
_DECIDING_MODES = frozenset(
    {DelegationMode.DIRECT, DelegationMode.ENTRUST, DelegationMode.REVIEW_POWER}
)


class Delegation(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """One way an item is pushed down to a lower tier.

    Attributes:
        mode: how the lower tier takes part.
        tier: the tier the item is delegated to.
        node_ids: the service points covered; empty means every node of ``tier``.
        effective_from: first day the delegation applies; None means it always has.
        note: free text, e.g. the 委托协议 number.
    """

    mode: DelegationMode
    tier: Tier
    node_ids: tuple[str, ...] = ()
    effective_from: date | None = None
    note: str = ""

    def applies_to(self, tier: Tier, node_id: str, on: date) -> bool:
        """Whether this delegation covers ``node_id`` of ``tier`` on day ``on``."""
        if tier is not self.tier:
            return False
        if self.node_ids and node_id not in self.node_ids:
            return False
        return self.effective_from is None or self.effective_from <= on


def _precedence(d: Delegation) -> tuple[bool, date, bool]:
    # A delegation naming the node beats a tier-wide one; then the newest one wins, because a
    # county usually widens a delegation over time (e.g. 窗口前移 first, 审核权 later); a tie
    # goes to the mode that decides.
    return (bool(d.node_ids), d.effective_from or date.min, d.mode.decides)


def delegation_in_force(
    delegations: Iterable[Delegation], tier: Tier, node_id: str, on: date
) -> Delegation | None:
    """The delegation that governs ``node_id`` of ``tier`` on ``on``, if any.

    Args:
        delegations: the item's delegations.
        tier: tier of the receiving node.
        node_id: id of the receiving node.
        on: the day of acceptance.

    Returns:
        The most specific, most recent matching delegation, or None.
    """
    matching = [d for d in delegations if d.applies_to(tier, node_id, on)]
    return max(matching, key=_precedence) if matching else None


def handling_tier(
    home_tier: Tier, delegations: Iterable[Delegation], tier: Tier, node_id: str, on: date
) -> Tier | None:
    """The tier that decides a case accepted at ``node_id`` of ``tier`` on ``on``.

    A forward-only node hands the case to the nearest tier above it that decides the item for
    every one of its nodes, else to the home tier. Node-specific deciding delegations are not
    followed upward: the node tree (which township a community hangs under) lives in the
    replication layer, not in the catalog.

    Returns:
        The deciding tier, or None when the node may not accept the item at all.
    """
    delegations = tuple(delegations)
    if tier is home_tier:
        return home_tier
    if not tier.is_below(home_tier):
        return None
    own = delegation_in_force(delegations, tier, node_id, on)
    if own is None:
        return None
    if own.mode.decides:
        return tier
    for upper in (Tier.TOWNSHIP, Tier.COUNTY):  # nearest first
        if not (tier.is_below(upper) and upper.is_below(home_tier)):
            continue
        if any(
            d.mode.decides and not d.node_ids and d.applies_to(upper, "", on) for d in delegations
        ):
            return upper
    return home_tier


def delegation_problems(
    item_code: str, home_tier: Tier, delegations: tuple[Delegation, ...], *, is_licence: bool
) -> list[str]:
    """Rule problems in an item's delegations, in Chinese.

    Args:
        item_code: the item's key, named in every message.
        home_tier: the tier that owns the item.
        delegations: the item's delegations.
        is_licence: whether the item is a 行政许可 (art. 24 limits who may decide it).

    Returns:
        One message per problem; empty when the delegations are sound.
    """
    problems: list[str] = []
    where = f"事项 {item_code} 的下放方式（delegations）"
    seen: set[tuple[Tier, tuple[str, ...], date | None]] = set()
    for n, d in enumerate(delegations, start=1):
        head = f"{where}第 {n} 项"
        if d.tier is home_tier:
            problems.append(f"{head}下放到本事项的实施层级（{d.tier.label}），没有意义")
        elif not d.tier.is_below(home_tier):
            problems.append(f"{head}下放到{d.tier.label}，但只能下放到低于{home_tier.label}的层级")
        if is_licence and d.tier is Tier.COMMUNITY and d.mode.decides:
            problems.append(
                f"{head}以“{d.mode.label}”方式把行政许可交给村（社区），"
                "村（社区）不是行政机关（行政许可法第二十四条），只能代办或窗口前移受理"
            )
        if any(not node for node in d.node_ids):
            problems.append(f"{head}的服务点编号（node_ids）含空值")
        if len(set(d.node_ids)) != len(d.node_ids):
            problems.append(f"{head}的服务点编号（node_ids）有重复")
        key = (d.tier, tuple(sorted(d.node_ids)), d.effective_from)
        if key in seen:
            problems.append(f"{head}与前面一项的层级、服务点和生效日期都相同，无法判断以哪一项为准")
        seen.add(key)
    return problems

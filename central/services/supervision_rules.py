"""Configurable rules of electronic supervision, stored in ``supervision_rule`` with defaults.

Each rule is a whole number with a name (GB/T 39046 treats monitoring rules as first-class
objects with ids; the name is that id here). ``warning_days`` may also be set per item: it then
replaces the item's own warning window from the catalog for supervision lights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from central.db.reconcile_sql import run
from shared.errors import InvalidError, ValidationError


@dataclass(frozen=True)
class RuleSpec:
    """What a rule means, its default and its allowed range."""

    name: str
    label: str
    default: int
    low: int
    high: int
    per_item: bool = False


RULE_SPECS: tuple[RuleSpec, ...] = (
    RuleSpec("warning_days", "预警窗口（剩余工作日不超过此数即亮黄灯）", 1, 0, 60, per_item=True),
    RuleSpec("yellow_card_after", "超期超过此工作日数发黄牌", 0, 0, 365),
    RuleSpec("red_card_after", "超期超过此工作日数发红牌", 5, 0, 365),
    RuleSpec("silent_hours", "节点失联告警（小时）", 72, 1, 24 * 90),
    RuleSpec(
        "backdate_hours", "倒签告警：记录时间早于县中心收到时间超过此小时数", 168, 1, 24 * 365
    ),
    RuleSpec("backlog_min_open", "积压告警：在办件不少于此数", 20, 1, 1_000_000),
    RuleSpec("backlog_growth_percent", "积压告警：较窗口首日增长百分比", 50, 1, 10_000),
    RuleSpec("backlog_window_days", "积压比较窗口（自然日）", 7, 1, 90),
)
SPECS = {spec.name: spec for spec in RULE_SPECS}


@dataclass(frozen=True)
class SupervisionRules:
    """The rules in force.

    ``warning_days`` is the fallback for cases whose catalog item is unknown here;
    ``item_warning_days`` holds the per-item overrides.
    """

    values: dict[str, int]
    item_warning_days: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        return self.values[name]


class RuleService:
    """Reads and changes the supervision rules."""

    def __init__(self, engine: Any, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def rules(self) -> SupervisionRules:
        """The rules in force: stored values over the defaults."""
        values = {spec.name: spec.default for spec in RULE_SPECS}
        per_item: dict[str, int] = {}
        for row in await run(self._engine, "SELECT name, item_code, value FROM supervision_rule"):
            name, item, value = row["name"], row["item_code"], int(row["value"])
            if name not in SPECS:
                continue
            if item:
                per_item[item] = value
            else:
                values[name] = value
        return SupervisionRules(values=values, item_warning_days=per_item)

    async def describe(self) -> list[dict[str, Any]]:
        """Every rule with its label, range, default and value, for the admin API."""
        current = await self.rules()
        return [
            {
                "name": spec.name,
                "label": spec.label,
                "default": spec.default,
                "min": spec.low,
                "max": spec.high,
                "value": current[spec.name],
                "per_item": current.item_warning_days if spec.per_item else {},
            }
            for spec in RULE_SPECS
        ]

    async def set(self, name: str, value: int, *, by: str, item_code: str = "") -> None:
        """Change one rule (for every item, or one item's warning window).

        Raises:
            InvalidError: no such rule, or a per-item value for a rule that has none.
            ValidationError: the value is outside the rule's range, or red cards would come
                before yellow ones.
        """
        spec = SPECS.get(name)
        if spec is None:
            raise InvalidError(f"没有名为 {name} 的监察规则。", code="rule_unknown")
        if item_code and not spec.per_item:
            raise InvalidError(f"规则“{spec.label}”不能按事项单独设置。", code="rule_not_per_item")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError([f"规则“{spec.label}”的值必须是整数。"])
        if not spec.low <= value <= spec.high:
            raise ValidationError([f"规则“{spec.label}”的值应在 {spec.low} 至 {spec.high} 之间。"])
        current = await self.rules()
        yellow = value if name == "yellow_card_after" else current["yellow_card_after"]
        red = value if name == "red_card_after" else current["red_card_after"]
        if red < yellow:
            raise ValidationError(["发红牌的超期天数不能少于发黄牌的超期天数。"])
        await run(
            self._engine,
            "INSERT INTO supervision_rule (name, item_code, value, changed_by, changed_at) "
            "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (name, item_code) DO UPDATE SET "
            "value = excluded.value, changed_by = excluded.changed_by, "
            "changed_at = excluded.changed_at",
            [name, item_code, value, by, self._clock()],
        )

    async def reset(self, name: str, *, item_code: str = "") -> None:
        """Go back to the default (or, for one item, to the catalog's warning window)."""
        if name not in SPECS:
            raise InvalidError(f"没有名为 {name} 的监察规则。", code="rule_unknown")
        await run(
            self._engine,
            "DELETE FROM supervision_rule WHERE name = {} AND item_code = {}",
            [name, item_code],
        )

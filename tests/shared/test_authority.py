"""Which node may take which action on a case (shared.authority)."""

from __future__ import annotations

import uuid
from datetime import date
from importlib.resources import files
from typing import Any

import pytest

from shared.authority import unauthorized_reason
from shared.catalog import Catalog, Item, decode_catalog
from shared.delegation import Tier
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    ClockPaused,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    DeferredSupplied,
    Delivered,
    DeliveryMethod,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    ForwardMode,
    IdType,
    MissingMaterial,
    Opinion,
    Outcome,
    ProcedureKind,
    Rated,
    RatingChannel,
    ReceiptChannel,
    Received,
    Refused,
    Satisfaction,
    UrgeAnswered,
    Urged,
    UrgeLevel,
    Withdrawn,
)
from shared.hlc import Hlc
from shared.registry import NodeRecord, Registry

DAY = date(2026, 3, 2)
HLC = Hlc(wall_ms=1_772_416_800_000)  # 2026-03-02 10:00 China time

CATALOG: Catalog = decode_catalog((files("tongban") / "demo_catalog.json").read_bytes())


def _node(node_id: str, tier: Tier, parent: str | None, code: str, name: str) -> NodeRecord:
    return NodeRecord(node_id=node_id, name=name, tier=tier, parent=parent, short_code=code)


REGISTRY = Registry(
    nodes=(
        _node("county", Tier.COUNTY, None, "X", "示范县政务服务中心"),
        _node("zhen-shifan", Tier.TOWNSHIP, "county", "S", "示范镇便民服务中心"),
        _node("zhen-beishan", Tier.TOWNSHIP, "county", "B", "北山镇便民服务中心"),
        _node("she-dongcun", Tier.COMMUNITY, "zhen-shifan", "SD", "东村社区便民服务站"),
        _node("she-xicun", Tier.COMMUNITY, "zhen-shifan", "SX", "西村社区便民服务站"),
    )
)


def item(code: str) -> Item:
    return CATALOG.item(code)


def make(cls: type[Any], node_id: str, *, actor: str = "clerk", **fields: Any) -> CaseEvent:
    event: CaseEvent = cls(
        id=str(uuid.uuid4()), case_id="case-1", node_id=node_id, actor=actor, hlc=HLC, **fields
    )
    event.validate()  # the rules under test never see an event that breaks its own rules
    return event


def check(
    event: CaseEvent,
    item_code: str | None = "X08",
    *,
    handling: str | None = None,
    received_by: str | None = None,
    on: date = DAY,
) -> str | None:
    return unauthorized_reason(
        event,
        node=REGISTRY.get(event.node_id),
        item=item(item_code) if item_code else None,
        registry=REGISTRY,
        handling_node=handling,
        on=on,
        received_by=received_by,
    )


def received(node_id: str) -> CaseEvent:
    applicant = Applicant(name="张三", id_type=IdType.RESIDENT_ID, id_number="110101199001011234")
    return make(
        Received,
        node_id,
        item_code="X",
        catalog_version=1,
        applicant=applicant,
        materials=(),
        channel=ReceiptChannel.WINDOW,
    )


def decided(node_id: str) -> CaseEvent:
    return make(Decided, node_id, outcome=Outcome.APPROVE)


def delivered(node_id: str) -> CaseEvent:
    return make(Delivered, node_id, method=DeliveryMethod.WINDOW)


def urged(node_id: str) -> CaseEvent:
    return make(
        Urged,
        node_id,
        urge_id="u1",
        level=UrgeLevel.REMINDER,
        content="请加快办理",
        feedback_due=DAY,
        by_unit="县政务服务中心",
    )


def reviewed(node_id: str, department: str) -> CaseEvent:
    return make(DepartmentReviewed, node_id, department=department, opinion=Opinion.AGREE)


def answered(node_id: str) -> CaseEvent:
    return make(ComplaintAnswered, node_id, complaint_id="k1", answer="已核实处理")


# --- registration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        received("she-ghost"),
        decided("she-ghost"),
        make(Rated, "she-ghost", level=Satisfaction.SATISFIED, channel=RatingChannel.PAPER),
    ],
)
def test_authority_refuses_an_unregistered_node_anything(event: CaseEvent) -> None:
    reason = check(event, handling="she-dongcun")
    assert reason is not None and "she-ghost" in reason and "未在节点登记表中" in reason


def test_authority_refuses_a_record_that_is_not_the_events_node() -> None:
    reason = unauthorized_reason(
        received("she-dongcun"),
        node=REGISTRY.get("she-xicun"),
        item=item("X08"),
        registry=REGISTRY,
        handling_node=None,
        on=DAY,
    )
    assert reason == "事件署名节点 she-dongcun 与核对的节点 she-xicun 不一致。"


# --- intake -----------------------------------------------------------------------------------


def test_authority_intake_allowed_where_the_item_may_be_accepted() -> None:
    assert check(received("she-dongcun"), "X08") is None  # 代办 at every community
    assert check(received("she-dongcun"), "X17") is None  # window named for 东村 only
    assert check(received("zhen-shifan"), "X02") is None  # 窗口前移 at townships
    assert check(received("county"), "Z01") is None  # the county hall may receive anything


def test_authority_intake_refused_where_the_item_was_not_pushed_down() -> None:
    assert check(received("she-xicun"), "X17") == (
        "西村社区便民服务站（村（社区）级）不能受理事项 X17「失业登记」：该事项在 2026-03-02 "
        "未下放到本节点，无权记录“收件”。"
    )
    assert check(received("zhen-shifan"), "X03") is not None  # never delegated
    assert check(received("she-dongcun"), "X02") is not None  # townships only


@pytest.mark.parametrize(
    "event",
    [
        make(Accepted, "she-xicun", receipt_no="R1"),
        make(Refused, "she-xicun", reason="不属于本事项"),
        make(CorrectionReceived, "she-xicun", materials=("M1",)),
        make(
            CorrectionRequested,
            "she-xicun",
            missing=(MissingMaterial(code="M1", name="身份证", requirement="原件"),),
        ),
    ],
)
def test_authority_every_intake_step_follows_the_acceptance_rule(event: CaseEvent) -> None:
    assert check(event, "X08", handling="she-xicun") is None
    assert check(event, "X17", handling="she-xicun") is not None


def test_authority_later_intake_steps_are_bound_to_the_case() -> None:
    accepted = make(Accepted, "she-xicun", receipt_no="R1")
    reason = check(accepted, "X08", handling="she-dongcun", received_by="she-dongcun")
    assert reason == (
        "西村社区便民服务站不是该办件的办理节点（she-dongcun）或其上级，也不是收件节点，"
        "无权记录“受理”。"
    )


# --- decisions --------------------------------------------------------------------------------


def test_authority_refuses_a_community_deciding_an_item_only_proxied_to_it() -> None:
    reason = check(decided("she-dongcun"), "X08", handling="she-dongcun")
    assert reason == (
        "东村社区便民服务站（村（社区）级）无权对事项 X08「残疾人证新办」记录“作出决定”："
        "该事项由县级作出决定。"
    )


def test_authority_refuses_a_forward_only_township_deciding() -> None:
    reason = check(decided("zhen-shifan"), "X02", handling="zhen-shifan")
    assert reason is not None and "该事项由县级作出决定" in reason


def test_authority_refuses_the_county_deciding_a_township_item() -> None:
    reason = check(decided("county"), "Z01", handling="county")
    assert reason is not None and "本节点不能办理该事项" in reason


def test_authority_allows_the_home_tier_and_deciding_delegations() -> None:
    assert check(decided("county"), "X02", handling="county") is None
    assert check(decided("zhen-shifan"), "X16", handling="zhen-shifan") is None  # 直接下放
    assert check(decided("zhen-shifan"), "X05", handling="zhen-shifan") is None  # 委托
    assert check(decided("zhen-shifan"), "Z01", handling="she-dongcun") is None  # home tier


def test_authority_node_specific_entrustment_covers_only_that_node() -> None:
    assert check(decided("zhen-shifan"), "X01", handling="zhen-shifan") is None
    assert check(decided("zhen-beishan"), "X01", handling="zhen-beishan") is not None


def test_authority_deciding_delegation_counts_only_from_its_effective_date() -> None:
    event = decided("zhen-shifan")
    assert check(event, "X09", handling="zhen-shifan", on=date(2026, 1, 1)) is None
    assert check(event, "X09", handling="zhen-shifan", on=date(2025, 12, 31)) is not None


def test_authority_county_decides_a_case_still_at_a_community() -> None:
    assert check(decided("county"), "X08", handling="she-dongcun") is None


def test_authority_decision_refused_on_another_townships_case() -> None:
    reason = check(
        decided("zhen-shifan"), "X16", handling="zhen-beishan", received_by="zhen-shifan"
    )
    assert reason == (
        "示范镇便民服务中心不是该办件的办理节点（zhen-beishan）或其上级，无权记录“作出决定”。"
    )


@pytest.mark.parametrize(
    "event",
    [
        make(DecidedOnSpot, "she-dongcun", outcome=Outcome.APPROVE),
        make(ExtensionGranted, "she-dongcun", days=5, approver="主任", reason="情况复杂"),
        make(
            ClockPaused,
            "she-dongcun",
            pause_id="p1",
            procedure=ProcedureKind.HEARING,
            reason="听证",
        ),
    ],
)
def test_authority_every_decision_step_follows_the_decision_rule(event: CaseEvent) -> None:
    assert check(event, "X08", handling="she-dongcun") is not None


# --- department reviews -----------------------------------------------------------------------


def test_authority_department_review_allowed_for_a_listed_department() -> None:
    assert check(reviewed("county", "zrzy"), "Z02", handling="zhen-shifan") is None
    assert check(reviewed("zhen-shifan", "sfz"), "Z02", handling="zhen-shifan") is None


def test_authority_department_review_refused_for_an_unlisted_department() -> None:
    reason = check(reviewed("county", "gaj"), "Z02", handling="zhen-shifan")
    assert reason is not None and "部门 gaj 不是事项 Z02" in reason


def test_authority_department_review_on_a_single_department_item_is_its_own_body() -> None:
    assert check(reviewed("county", "scjg"), "X01", handling="county") is None
    reason = check(reviewed("county", "gaj"), "X01", handling="county")
    assert reason == (
        "事项 X01「个体工商户设立登记」不是并联审批事项，只能记录实施部门 scjg 的审查意见。"
    )


def test_authority_department_review_refused_from_a_community() -> None:
    reason = check(reviewed("she-dongcun", "zrzy"), "Z02", handling="she-dongcun")
    assert reason is not None and "不能代为记录部门审查意见" in reason


# --- urging -----------------------------------------------------------------------------------


def test_authority_urge_allowed_from_the_county_and_from_above() -> None:
    assert check(urged("county"), handling="she-dongcun") is None
    assert check(urged("county"), handling="county") is None
    assert check(urged("zhen-shifan"), handling="she-dongcun") is None


def test_authority_urge_refused_from_a_sibling_or_the_handler_itself() -> None:
    assert check(urged("she-xicun"), handling="she-dongcun") == (
        "只有县级中心或办理节点的上级才能催办督办；西村社区便民服务站不是办理节点 "
        "she-dongcun 的上级。"
    )
    assert check(urged("zhen-shifan"), handling="zhen-shifan") is not None
    assert check(urged("zhen-beishan"), handling="she-dongcun") is not None


# --- follow-up steps bound to the case ----------------------------------------------------------


FOLLOW_UPS = [
    lambda n: make(UrgeAnswered, n, urge_id="u1", answer="已办理"),
    delivered,
    lambda n: make(DeferredSupplied, n, codes=("M1",)),
    lambda n: make(Withdrawn, n),
    lambda n: make(
        Forwarded, n, to_node="zhen-x", to_tier="township", mode=ForwardMode.FORWARD, reason="转办"
    ),
    lambda n: make(DeemedAccepted, n, actor="system", as_of=DAY),
]


@pytest.mark.parametrize("build", FOLLOW_UPS)
def test_authority_follow_up_allowed_for_handler_receiver_and_above(build: Any) -> None:
    for node_id in ("zhen-shifan", "she-dongcun", "county"):
        assert check(build(node_id), handling="zhen-shifan", received_by="she-dongcun") is None


@pytest.mark.parametrize("build", FOLLOW_UPS)
def test_authority_follow_up_refused_for_an_unrelated_node(build: Any) -> None:
    event = build("she-xicun")
    reason = check(event, handling="zhen-shifan", received_by="she-dongcun")
    assert reason is not None and reason.endswith(f"无权记录“{event.LABEL}”。")
    assert check(build("zhen-beishan"), handling="she-dongcun", received_by="she-dongcun")


# --- applicant's voice ------------------------------------------------------------------------


def test_authority_rating_and_complaint_accepted_from_any_registered_node() -> None:
    rated = make(Rated, "zhen-beishan", level=Satisfaction.SATISFIED, channel=RatingChannel.PAPER)
    filed = make(ComplaintFiled, "she-xicun", complaint_id="k1", content="态度差", channel="窗口")
    assert check(rated, handling="she-dongcun") is None
    assert check(filed, handling="she-dongcun") is None


def test_authority_complaint_answer_from_handler_or_above_only() -> None:
    assert check(answered("county"), handling="she-dongcun") is None
    assert check(answered("zhen-shifan"), handling="she-dongcun") is None
    assert check(answered("she-dongcun"), handling="she-dongcun") is None
    reason = check(answered("she-dongcun"), handling="zhen-shifan", received_by="she-dongcun")
    assert reason == (
        "东村社区便民服务站不是该办件的办理节点（zhen-shifan）或其上级，无权记录“投诉答复”。"
    )


# --- missing facts ----------------------------------------------------------------------------


def test_authority_unknown_catalog_version_leaves_competence_unjudged() -> None:
    assert check(decided("she-dongcun"), None, handling="she-dongcun") is None
    # the case binding is still judged
    assert check(decided("she-xicun"), None, handling="she-dongcun") is not None


def test_authority_unknown_handling_node_leaves_the_binding_unjudged() -> None:
    assert check(urged("she-xicun"), handling=None) is None
    # competence is still judged
    assert check(decided("she-dongcun"), "X08", handling=None) is not None

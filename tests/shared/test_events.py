from __future__ import annotations

import re
import types
import typing
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import CHINA_TZ
from shared.errors import InvalidError, ValidationError
from shared.events import (
    EVENT_FORMAT,
    EVENT_KINDS,
    EVENT_LABELS,
    SYSTEM_ACTOR,
    Accepted,
    Applicant,
    CaseEvent,
    ClockPaused,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DeemedAccepted,
    DeferredMaterial,
    DeferredSupplied,
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
    RatingGrade,
    ReceiptChannel,
    Received,
    Satisfaction,
    Urged,
    UrgeLevel,
    decode_event,
    encode_event,
)
from shared.hlc import Hlc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamp(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> Hlc:
    when = datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)
    return Hlc((when - EPOCH) // timedelta(milliseconds=1), 0)


def base(**over: Any) -> dict[str, Any]:
    fields = {
        "id": str(uuid.UUID(int=1)),
        "case_id": "case-1",
        "node_id": "town",
        "actor": "clerk-7",
        "hlc": stamp(2026, 2, 6),
    }
    fields.update(over)
    return fields


APPLICANT = Applicant(
    name="张三", id_type=IdType.RESIDENT_ID, id_number="110101199001011234", phone="13800000000"
)


def received(**over: Any) -> Received:
    fields = base(
        item_code="C02",
        catalog_version=3,
        applicant=APPLICANT,
        materials=("M1", "M2"),
        channel=ReceiptChannel.WINDOW,
    )
    fields.update(over)
    return Received(**fields)


# -- wire format -----------------------------------------------------------------------------


def test_events_tags_are_snake_case_and_match_kind_constants():
    tags = [cls.__struct_config__.tag for cls in EVENT_KINDS]
    assert tags == [cls.KIND for cls in EVENT_KINDS]
    assert all(isinstance(t, str) and re.fullmatch(r"[a-z]+(_[a-z]+)*", t) for t in tags)
    assert len(set(tags)) == 22
    assert set(typing.get_args(CaseEvent)) == set(EVENT_KINDS)


def test_events_every_kind_has_a_chinese_label():
    assert set(EVENT_LABELS) == {cls.KIND for cls in EVENT_KINDS}
    assert EVENT_LABELS["received"] == "收件"
    assert EVENT_LABELS["refused"] == "不予受理"
    assert EVENT_LABELS["correction_requested"] == "一次性告知补正"
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in EVENT_LABELS.values())


def test_events_encode_carries_kind_tag_and_format():
    event = received()
    wire = msgspec.json.decode(encode_event(event))
    assert wire["kind"] == "received"
    assert wire["format"] == EVENT_FORMAT == 1
    assert wire["hlc"] == [event.hlc.wall_ms, 0]
    assert wire["applicant"]["id_type"] == "resident_id"
    assert decode_event(encode_event(event)) == event


def test_events_decode_unknown_kind_is_invalid():
    with pytest.raises(InvalidError) as err:
        decode_event(b'{"kind":"teleported","id":"x"}')
    assert err.value.code == "event_invalid"
    assert "格式" in err.value.message


def test_events_decode_rejects_floats_for_integer_fields():
    wire = msgspec.json.decode(encode_event(received()))
    wire["catalog_version"] = 3.0
    with pytest.raises(InvalidError) as err:
        decode_event(msgspec.json.encode(wire))
    assert err.value.code == "event_invalid"


def test_events_decode_rejects_rating_outside_scale():
    event = Rated(**base(), level=Satisfaction.SATISFIED, channel=RatingChannel.QR_CODE)
    wire = msgspec.json.decode(encode_event(event))
    assert wire["level"] == 4
    wire["level"] = 6
    with pytest.raises(InvalidError):
        decode_event(msgspec.json.encode(wire))


def test_events_decode_malformed_json_is_invalid():
    with pytest.raises(InvalidError) as err:
        decode_event(b"{not json")
    assert err.value.code == "event_malformed"


def test_events_recorded_on_uses_china_day():
    # 2026-02-06 23:30 China time is still 2026-02-06 there, though 15:30 UTC
    late = received(hlc=stamp(2026, 2, 6, 23, 30))
    assert late.recorded_on == date(2026, 2, 6)
    assert received(hlc=stamp(2026, 2, 7, 0, 0)).recorded_on == date(2026, 2, 7)
    assert late.recorded_at.astimezone(CHINA_TZ) == datetime(2026, 2, 6, 23, 30, tzinfo=CHINA_TZ)


# -- rules -----------------------------------------------------------------------------------


def test_events_valid_received_passes():
    received().validate()
    assert received().problems() == []


def test_events_base_rules_collect_every_problem():
    event = received(id="not-a-uuid", actor=" ", format=2)
    problems = event.problems()
    assert problems == [
        "事件编号不是有效的UUID：'not-a-uuid'",
        "操作人不能为空",
        "事件格式版本2不受支持（当前为1）",
    ]
    with pytest.raises(ValidationError) as err:
        event.validate()
    assert err.value.problems == problems
    assert err.value.message.startswith("收件事件不符合要求")


def test_events_correction_notice_must_list_missing_materials():
    empty = CorrectionRequested(**base(), missing=())
    assert empty.problems() == ["一次性告知必须列明需要补正的全部材料，不能为空"]
    partial = CorrectionRequested(
        **base(),
        missing=(
            MissingMaterial(code="M3", name="营业执照", requirement=""),
            MissingMaterial(code="M4", name="平面图", requirement="原件"),
            MissingMaterial(code="M4", name="平面图", requirement="原件"),
        ),
    )
    assert partial.problems() == [
        "补正材料M3的编码、名称和补正要求都必须填写",
        "补正材料M4重复列出",
    ]


def test_events_rating_out_of_range_is_a_problem():
    bad = Rated(**base(), level=7, channel=RatingChannel.SMS)  # type: ignore[arg-type]
    assert bad.problems() == ["评价等级必须在1到5之间，收到7"]
    good = Rated(**base(), level=Satisfaction.VERY_DISSATISFIED, channel=RatingChannel.SMS)
    assert good.problems() == []


@pytest.mark.parametrize("days", [0, -3])
def test_events_extension_days_must_be_positive(days):
    event = ExtensionGranted(**base(), days=days, approver="局长王五", reason="需现场核查")
    assert event.problems() == ["延长天数必须为正整数"]


def test_events_deferred_acceptance_needs_commitment_and_future_due():
    deferred = (DeferredMaterial(code="M4", name="食品安全管理制度目录", due=date(2026, 2, 5)),)
    event = Accepted(**base(), receipt_no="示市监受〔2026〕12号", deferred=deferred)
    assert event.problems() == [
        "容缺受理必须记录申请人的书面承诺",
        "容缺材料M4的补齐期限早于受理日期",
    ]


def test_events_deemed_acceptance_is_system_only():
    event = DeemedAccepted(**base(), as_of=date(2026, 2, 6))
    assert event.problems() == ["视为受理只能由系统对账任务记录"]
    assert DeemedAccepted(**base(actor=SYSTEM_ACTOR), as_of=date(2026, 2, 6)).problems() == []


def test_events_denial_needs_a_reason():
    assert Decided(**base(), outcome=Outcome.DENY).problems() == ["不予许可必须说明理由"]
    assert DecidedOnSpot(**base(), outcome=Outcome.DENY).problems() == ["不予许可必须说明理由"]
    assert Decided(**base(), outcome=Outcome.APPROVE).problems() == []


def test_events_late_registration_date_cannot_be_in_the_future():
    event = received(service_date=date(2026, 2, 7))
    assert event.problems() == ["实际收件日期不能晚于登记日期"]
    assert received(service_date=date(2026, 2, 2)).problems() == []


def test_events_other_kind_rules():
    assert Forwarded(
        **base(), to_node="town", to_tier="township", mode=ForwardMode.FORWARD, reason="转办"
    ).problems() == ["不能转办给本节点"]
    assert DepartmentReviewed(
        **base(), department="自然资源局", opinion=Opinion.CONDITIONAL
    ).problems() == ["不同意或有条件同意时必须填写意见说明"]
    assert ClockPaused(
        **base(),
        pause_id="p1",
        procedure=ProcedureKind.TESTING,
        reason="卫生检测",
        expected_days=0,
    ).problems() == ["特别程序预计所需天数必须为正整数"]
    assert DeferredSupplied(**base(), codes=()).problems() == ["补齐的容缺材料清单不能为空"]
    assert Urged(
        **base(),
        urge_id="u1",
        level=UrgeLevel.FORMAL,
        content="",
        feedback_due=date(2026, 2, 5),
        by_unit="县政务服务中心",
    ).problems() == ["内容不能为空", "反馈期限不能早于发出日期"]


def test_events_satisfaction_grades_follow_the_national_grouping():
    grades = {s.value: (s.label, s.grade) for s in Satisfaction}
    assert grades == {
        5: ("非常满意", RatingGrade.GOOD),
        4: ("满意", RatingGrade.GOOD),
        3: ("基本满意", RatingGrade.NEUTRAL),
        2: ("不满意", RatingGrade.BAD),
        1: ("非常不满意", RatingGrade.BAD),
    }
    assert RatingGrade.BAD.label == "差评"


def test_events_pause_procedures_know_their_legal_basis():
    statutory = {p for p in ProcedureKind if p.art45}
    assert {p.label for p in statutory} == {
        "听证",
        "招标",
        "拍卖",
        "检验",
        "检测",
        "检疫",
        "鉴定",
        "专家评审",
    }
    assert ProcedureKind.PUBLICITY.label == "公示"
    assert not ProcedureKind.SITE_SURVEY.art45


# -- round trip for every kind ---------------------------------------------------------------

_TEXT = st.text(max_size=12)
_INT = st.integers(min_value=-(2**31), max_value=2**31)


def _strategy(hint: typing.Any) -> st.SearchStrategy[typing.Any]:
    origin = typing.get_origin(hint)
    if hint is str:
        return _TEXT
    if hint is bool:
        return st.booleans()
    if hint is int:
        return _INT
    if hint is date:
        return st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
    if hint is Hlc:
        return st.builds(Hlc, st.integers(0, 2**50), st.integers(0, 2**20))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return _struct(hint)
    if origin is tuple:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=3).map(tuple)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(arg) for arg in typing.get_args(hint)])
    if hint is type(None):
        return st.none()
    raise AssertionError(f"no strategy for {hint!r}")


def _struct(cls: type[msgspec.Struct]) -> st.SearchStrategy[typing.Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name]) for f in msgspec.structs.fields(cls)}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


ANY_EVENT = st.one_of([_struct(cls) for cls in EVENT_KINDS])


@settings(max_examples=300, deadline=None)
@given(ANY_EVENT)
def test_events_decode_encode_round_trip_for_every_kind(event):
    wire = encode_event(event)
    back = decode_event(wire)
    assert back == event
    assert type(back) is type(event)
    assert encode_event(back) == wire

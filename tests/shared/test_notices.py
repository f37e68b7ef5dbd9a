from __future__ import annotations

import string
from datetime import date, datetime
from typing import Any

import msgspec
import pytest

from shared.errors import InvalidError, ValidationError
from shared.notices import (
    NOTICE_SPECS,
    REMEDY_SENTENCE,
    Notice,
    NoticeKind,
    NoticeSpec,
    build_notice,
    ordered_fields,
)

ISSUED = date(2026, 11, 23)
ISSUER = "示范县示范镇人民政府"
CONTEXT_KEYS = {"legal_basis", "issuer", "document_no"}

EXPECTED_TITLES = {
    NoticeKind.RECEIPT_VOUCHER: "收件凭证",
    NoticeKind.ACCEPTANCE: "受理通知书",
    NoticeKind.REFUSAL: "不予受理通知书",
    NoticeKind.CORRECTION: "补正材料通知书（一次性告知书）",
    NoticeKind.DEFERRED_ACCEPTANCE: "容缺受理通知书",
    NoticeKind.EXTENSION: "延期办理告知书",
    NoticeKind.SPECIAL_PROCEDURE: "特别程序告知书",
}

EXPECTED_BASIS = {
    NoticeKind.RECEIPT_VOUCHER: "《中华人民共和国行政许可法》第三十二条",
    NoticeKind.ACCEPTANCE: "《中华人民共和国行政许可法》第三十二条",
    NoticeKind.REFUSAL: "《中华人民共和国行政许可法》第三十二条",
    NoticeKind.CORRECTION: "《中华人民共和国行政许可法》第三十二条",
    NoticeKind.DEFERRED_ACCEPTANCE: "本地容缺受理规定",
    NoticeKind.EXTENSION: "《中华人民共和国行政许可法》第四十二条",
    NoticeKind.SPECIAL_PROCEDURE: "《中华人民共和国行政许可法》第四十五条",
}


def minimal_fields(spec: NoticeSpec) -> dict[str, Any]:
    """Every required field filled with a recognisable value."""
    return {
        f.key: ([f"{f.key}-1", f"{f.key}-2"] if f.multiple else f"<{f.key}>")
        for f in spec.fields
        if f.required and not f.handwritten
    }


def build_minimal(kind: NoticeKind, **overrides: object) -> Notice:
    fields = minimal_fields(NOTICE_SPECS[kind]) | overrides
    return build_notice(kind, "示范镇受〔2026〕第000123号", ISSUED, ISSUER, **fields)


def test_notices_every_kind_has_title_basis_and_fields() -> None:
    assert set(NOTICE_SPECS) == set(NoticeKind)
    for kind, spec in NOTICE_SPECS.items():
        assert spec.kind is kind
        assert spec.title == EXPECTED_TITLES[kind]
        assert kind.label == EXPECTED_TITLES[kind]
        assert spec.legal_basis == EXPECTED_BASIS[kind]
        assert spec.statements
        assert spec.copies == ("申请人", "存档")
        keys = [f.key for f in spec.fields]
        assert len(keys) == len(set(keys))
        for key in ("receipt_no", "applicant", "item", "seal"):
            assert spec.field(key).required
        assert spec.field("applicant_signature").handwritten
        assert not spec.field("applicant_signature").required
        assert all(f.label_zh for f in spec.fields)


def test_notices_document_number_required_except_voucher() -> None:
    needs = {kind for kind, spec in NOTICE_SPECS.items() if spec.needs_document_no}
    assert needs == set(NoticeKind) - {NoticeKind.RECEIPT_VOUCHER}


def test_notices_statement_placeholders_name_required_single_fields() -> None:
    for spec in NOTICE_SPECS.values():
        usable = {
            f.key for f in spec.fields if f.required and not f.handwritten and not f.multiple
        } | CONTEXT_KEYS
        for template in spec.statements:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            assert names <= usable, (spec.kind, names - usable)


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_notices_build_minimal_renders_all_statements(kind: NoticeKind) -> None:
    notice = build_minimal(kind)
    spec = NOTICE_SPECS[kind]
    assert notice.title == spec.title
    assert notice.legal_basis == spec.legal_basis
    assert len(notice.statements) == len(spec.statements) + 1
    assert notice.statements[-1] == "本文书一式两份，申请人、存档各执一份。"
    assert all("{" not in s and "}" not in s for s in notice.statements)
    assert "<item>" in notice.statements[0]


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_notices_missing_each_required_field_is_listed(kind: NoticeKind) -> None:
    spec = NOTICE_SPECS[kind]
    for field in spec.fields:
        if not field.required or field.handwritten:
            continue
        fields = minimal_fields(spec)
        del fields[field.key]
        with pytest.raises(ValidationError) as info:
            build_notice(kind, "示范镇受〔2026〕第000123号", ISSUED, ISSUER, **fields)
        assert info.value.problems == [f"缺少“{field.label_zh}”"]


def test_notices_missing_fields_all_listed_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        build_notice(NoticeKind.ACCEPTANCE, None, ISSUED, " ", applicant="张三", item="  ")
    assert info.value.problems == [
        "缺少“文书编号”",
        "缺少“出具机关”",
        "缺少“办件编号”",
        "缺少“申请人联系方式”",
        "缺少“申请事项”",
        "缺少“受理日期”",
        "缺少“已收取的申请材料”",
        "缺少“承诺办结日期”",
        "缺少“经办人”",
        "缺少“经办人联系电话”",
        "缺少“加盖印章”",
    ]
    assert info.value.message.startswith("受理通知书填写不完整：缺少“文书编号”；")


def test_notices_bad_shapes_and_unknown_fields_reported() -> None:
    with pytest.raises(ValidationError) as info:
        build_minimal(
            NoticeKind.ACCEPTANCE,
            applicant=["张三"],
            materials_received="身份证",
            promised_due_date=20261218,
            colour="red",
        )
    assert info.value.problems == [
        "受理通知书没有“colour”这一栏",
        "“申请人”应为文字",
        "“已收取的申请材料”应为逐项列出的清单",
        "“承诺办结日期”应为文字",
    ]
    with pytest.raises(ValidationError) as info:
        build_minimal(NoticeKind.ACCEPTANCE, materials_received=["身份证", " "])
    assert info.value.problems == ["“已收取的申请材料”中有空白项"]
    with pytest.raises(ValidationError) as info:
        build_minimal(NoticeKind.ACCEPTANCE, materials_received=[])
    assert info.value.problems == ["缺少“已收取的申请材料”"]


def test_notices_issued_on_must_be_a_date() -> None:
    spec = NOTICE_SPECS[NoticeKind.ACCEPTANCE]
    with pytest.raises(ValidationError) as info:
        build_notice(
            NoticeKind.ACCEPTANCE,
            "示范镇受〔2026〕第000123号",
            datetime(2026, 11, 23, 9, 0),
            ISSUER,
            **minimal_fields(spec),
        )
    assert info.value.problems == ["“出具日期”应为日期"]


def test_notices_voucher_needs_no_document_number() -> None:
    spec = NOTICE_SPECS[NoticeKind.RECEIPT_VOUCHER]
    notice = build_notice(NoticeKind.RECEIPT_VOUCHER, None, ISSUED, ISSUER, **minimal_fields(spec))
    assert notice.document_no is None


def test_notices_unknown_kind_is_invalid() -> None:
    with pytest.raises(InvalidError) as info:
        build_notice("licence", "x", ISSUED, ISSUER)  # type: ignore[arg-type]
    assert info.value.code == "notice_kind_unknown"


def test_notices_refusal_carries_remedy_and_referral() -> None:
    spec = NOTICE_SPECS[NoticeKind.REFUSAL]
    assert REMEDY_SENTENCE in spec.statements
    assert spec.field("referral").required
    assert spec.field("review_body").required
    notice = build_notice(
        NoticeKind.REFUSAL,
        "示范镇不受〔2026〕第000004号",
        ISSUED,
        ISSUER,
        receipt_no="SFZ-20261122-0007-9",
        applicant="张三",
        item="个体工商户设立登记",
        application_date="2026年11月22日",
        reasons="该事项依法不属于本机关职权范围",
        referral="请向示范县市场监督管理局申请。",
        review_body="示范县人民政府",
        officer="李四",
        seal="示范县示范镇人民政府行政审批专用章",
    )
    assert notice.statements == (
        "你（单位）于2026年11月22日提出的个体工商户设立登记申请，经审查，"
        "该事项依法不属于本机关职权范围。根据《中华人民共和国行政许可法》第三十二条的规定，"
        "本机关决定不予受理。",
        "请向示范县市场监督管理局申请。",
        "如不服本决定，可以自收到本通知书之日起六十日内向示范县人民政府申请行政复议，"
        "或者自收到本通知书之日起六个月内依法向人民法院提起行政诉讼。",
        "本文书一式两份，申请人、存档各执一份。",
    )
    fields = build_minimal(NoticeKind.REFUSAL)
    assert any("六十日内" in s and "六个月内" in s for s in fields.statements)


def test_notices_refusal_without_referral_or_review_body_fails() -> None:
    spec = NOTICE_SPECS[NoticeKind.REFUSAL]
    fields = minimal_fields(spec)
    del fields["referral"]
    fields["review_body"] = ""
    with pytest.raises(ValidationError) as info:
        build_notice(NoticeKind.REFUSAL, "示范镇不受〔2026〕第000004号", ISSUED, ISSUER, **fields)
    assert info.value.problems == [
        "缺少“告知事项（应向其提出申请的机关或其他处理途径）”",
        "缺少“行政复议机关”",
    ]


def test_notices_acceptance_exact_content() -> None:
    notice = build_notice(
        NoticeKind.ACCEPTANCE,
        " 示范镇受〔2026〕第000123号 ",
        ISSUED,
        ISSUER,
        receipt_no="SFZ-20261122-0007-9",
        applicant=" 张三 ",
        contact="13800000000",
        item="残疾人证新办",
        accepted_on="2026年11月23日",
        materials_received=("居民身份证", " 户口簿 "),
        promised_due_date="2026年12月7日",
        officer="李四",
        officer_phone="0000-1234567",
        seal="示范县示范镇人民政府受理专用章",
    )
    assert notice.document_no == "示范镇受〔2026〕第000123号"
    assert notice.fields["applicant"] == "张三"
    assert notice.fields["materials_received"] == ["居民身份证", "户口簿"]
    assert "statutory_due_date" not in notice.fields
    assert notice.statements[:2] == (
        "你（单位）提出的残疾人证新办申请，申请材料齐全、符合法定形式。"
        "根据《中华人民共和国行政许可法》第三十二条的规定，本机关决定予以受理。",
        "本机关将于2026年12月7日前作出决定。",
    )
    rows = ordered_fields(notice)
    assert [f.key for f, _ in rows] == [f.key for f in NOTICE_SPECS[NoticeKind.ACCEPTANCE].fields]
    assert {f.key: v for f, v in rows}["applicant_signature"] is None


def test_notices_legal_basis_override() -> None:
    notice = build_minimal(NoticeKind.ACCEPTANCE, legal_basis="《残疾人证管理办法》第八条")
    assert notice.legal_basis == "《残疾人证管理办法》第八条"
    assert "根据《残疾人证管理办法》第八条的规定" in notice.statements[0]
    with pytest.raises(ValidationError) as info:
        build_minimal(NoticeKind.ACCEPTANCE, legal_basis=" ")
    assert info.value.problems == ["缺少“法律依据”"]


def test_notices_handwritten_fields_may_be_filled() -> None:
    notice = build_minimal(
        NoticeKind.CORRECTION, applicant_signature="张三", signed_on="2026-11-23"
    )
    assert notice.fields["applicant_signature"] == "张三"


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_notices_msgspec_round_trip(kind: NoticeKind) -> None:
    notice = build_minimal(kind)
    assert msgspec.json.decode(msgspec.json.encode(notice), type=Notice) == notice
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(notice), type=Notice) == notice
    spec = NOTICE_SPECS[kind]
    assert msgspec.json.decode(msgspec.json.encode(spec), type=NoticeSpec) == spec

"""What each notice document (文书) must say, as data the node and county apps render.

A :class:`NoticeSpec` lists, in print order, the fields a kind of notice carries, its legal
basis and its fixed sentences. :func:`build_notice` checks a filled-in notice against its spec and
returns a self-contained :class:`Notice`: title, legal basis and the fixed sentences are copied
into it with the field values substituted, so a notice issued today reads the same after the
wording here changes, and it can be signed as it stands (see ``shared.signing``).

Fixed sentences are ``str.format`` templates. They may name required single-value fields and
``legal_basis``, ``issuer`` and ``document_no``. Fields marked ``handwritten`` (the applicant's
signature and the date of receipt) are printed as blank lines and never required.

Contents follow 行政许可法 art. 32 (receipt, acceptance, refusal, correction; the written
voucher with the body's seal and date), art. 42 (extension), art. 45 (special procedures) and
the usual drafting practice for these documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import msgspec

from shared.errors import InvalidError, ValidationError

__all__ = [
    "NOTICE_SPECS",
    "REMEDY_SENTENCE",
    "FieldSpec",
    "Notice",
    "NoticeKind",
    "NoticeSpec",
    "build_notice",
    "ordered_fields",
]

FieldValue = str | list[str]


class NoticeKind(StrEnum):
    """Kinds of notice issued at the counter."""

    RECEIPT_VOUCHER = "receipt_voucher"  # 收件凭证
    ACCEPTANCE = "acceptance"  # 受理通知书
    REFUSAL = "refusal"  # 不予受理通知书
    CORRECTION = "correction"  # 补正材料通知书（一次性告知书）
    DEFERRED_ACCEPTANCE = "deferred_acceptance"  # 容缺受理通知书
    EXTENSION = "extension"  # 延期办理告知书
    SPECIAL_PROCEDURE = "special_procedure"  # 特别程序告知书

    @property
    def label(self) -> str:
        """The Chinese title printed on the notice."""
        return NOTICE_SPECS[self].title


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One field of a notice.

    Attributes:
        key: name used in :attr:`Notice.fields` and in sentence templates.
        label_zh: label printed next to the value.
        required: the notice cannot be issued without it.
        multiple: the value is a list (e.g. materials), printed one item per line.
        handwritten: left blank on paper for the applicant to sign or date; never required.
    """

    key: str
    label_zh: str
    required: bool = True
    multiple: bool = False
    handwritten: bool = False


class NoticeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The required content of one kind of notice.

    Attributes:
        kind: the kind described.
        title: Chinese title printed at the top.
        legal_basis: default legal basis; :func:`build_notice` accepts another for items under
            other laws.
        needs_document_no: whether a 文书编号 is required (the receipt voucher uses the case
            number instead).
        fields: fields in print order.
        statements: fixed sentences in print order, as templates.
        copies: who keeps a copy, in order.
    """

    kind: NoticeKind
    title: str
    legal_basis: str
    needs_document_no: bool
    fields: tuple[FieldSpec, ...]
    statements: tuple[str, ...]
    copies: tuple[str, ...] = ("申请人", "存档")

    def field(self, key: str) -> FieldSpec:
        """The field named ``key``.

        Raises:
            KeyError: no such field in this kind of notice.
        """
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(key)


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """A notice as issued, ready to render or sign.

    Attributes:
        kind: which notice.
        title: title as printed.
        document_no: 文书编号; None only for kinds that do not need one.
        issued_on: date of issue printed next to the seal (China time).
        issuer: the issuing body, in whose name the notice is sealed.
        legal_basis: the legal basis as printed.
        fields: values by :attr:`FieldSpec.key`; only fields that were filled in.
        statements: fixed sentences with values substituted, in print order.
    """

    kind: NoticeKind
    title: str
    document_no: str | None
    issued_on: date
    issuer: str
    legal_basis: str
    fields: dict[str, FieldValue]
    statements: tuple[str, ...]


_LICENSING_LAW: Final = "《中华人民共和国行政许可法》"

# 行政复议法 (2023) art. 20: sixty days from when the applicant knew of the act;
# 行政诉讼法 art. 46: six months. Service of this notice is when the applicant knows.
REMEDY_SENTENCE: Final = (
    "如不服本决定，可以自收到本通知书之日起六十日内向{review_body}申请行政复议，"
    "或者自收到本通知书之日起六个月内依法向人民法院提起行政诉讼。"
)


def _f(key: str, label: str, *, required: bool = True, multiple: bool = False) -> FieldSpec:
    return FieldSpec(key=key, label_zh=label, required=required, multiple=multiple)


def _hand(key: str, label: str) -> FieldSpec:
    return FieldSpec(key=key, label_zh=label, required=False, handwritten=True)


_HEAD = (_f("receipt_no", "办件编号"), _f("applicant", "申请人"))
_CONTACT = _f("contact", "申请人联系方式")
_ITEM = _f("item", "申请事项")
_APPLICATION_DATE = _f("application_date", "申请日期")
_ACCEPTED_ON = _f("accepted_on", "受理日期")
_MATERIALS_RECEIVED = _f("materials_received", "已收取的申请材料", multiple=True)
_QUERY_CODE = _f("query_code", "查询码", required=False)
_OFFICER = _f("officer", "经办人")
_OFFICER_PHONE = _f("officer_phone", "经办人联系电话")
_SEAL = _f("seal", "加盖印章")
_SIGNATURE_LINES = (_hand("applicant_signature", "申请人（签名）"), _hand("signed_on", "签收日期"))
_TAIL = (_OFFICER, _OFFICER_PHONE, _SEAL, *_SIGNATURE_LINES)
_ART_32 = f"{_LICENSING_LAW}第三十二条"

_SPECS: tuple[NoticeSpec, ...] = (
    NoticeSpec(
        kind=NoticeKind.RECEIPT_VOUCHER,
        title="收件凭证",
        legal_basis=_ART_32,
        needs_document_no=False,
        fields=(
            *_HEAD,
            _CONTACT,
            _ITEM,
            _MATERIALS_RECEIVED,
            _f("received_at", "收件时间"),
            _f("receiver", "收件人"),
            _OFFICER_PHONE,
            _f("review_due_date", "审查答复截止日期"),
            _QUERY_CODE,
            _SEAL,
            *_SIGNATURE_LINES,
        ),
        statements=(
            "本机关已于{received_at}收到你（单位）提交的{item}申请材料。"
            "本凭证仅证明已收到上述材料，不表示申请已被受理。",
            "本机关将于{review_due_date}前作出受理或者不予受理的决定；申请材料不齐全或者不符合"
            "法定形式的，将一次告知需要补正的全部内容。逾期不告知的，自收到申请材料之日起即为受理。",
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.ACCEPTANCE,
        title="受理通知书",
        legal_basis=_ART_32,
        needs_document_no=True,
        fields=(
            *_HEAD,
            _CONTACT,
            _ITEM,
            _ACCEPTED_ON,
            _MATERIALS_RECEIVED,
            _f("promised_due_date", "承诺办结日期"),
            _f("statutory_due_date", "法定办结日期", required=False),
            _QUERY_CODE,
            *_TAIL,
        ),
        statements=(
            "你（单位）提出的{item}申请，申请材料齐全、符合法定形式。"
            "根据{legal_basis}的规定，本机关决定予以受理。",
            "本机关将于{promised_due_date}前作出决定。",
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.REFUSAL,
        title="不予受理通知书",
        legal_basis=_ART_32,
        needs_document_no=True,
        fields=(
            *_HEAD,
            _f("contact", "申请人联系方式", required=False),
            _ITEM,
            _APPLICATION_DATE,
            _f("reasons", "不予受理的理由"),
            _f("referral", "告知事项（应向其提出申请的机关或其他处理途径）"),
            _f("review_body", "行政复议机关"),
            _OFFICER,
            _f("officer_phone", "经办人联系电话", required=False),
            _SEAL,
            *_SIGNATURE_LINES,
        ),
        statements=(
            "你（单位）于{application_date}提出的{item}申请，经审查，{reasons}。"
            "根据{legal_basis}的规定，本机关决定不予受理。",
            "{referral}",
            REMEDY_SENTENCE,
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.CORRECTION,
        title="补正材料通知书（一次性告知书）",
        legal_basis=_ART_32,
        needs_document_no=True,
        fields=(
            *_HEAD,
            _CONTACT,
            _ITEM,
            _APPLICATION_DATE,
            _f("materials_to_correct", "需补正的全部材料及要求", multiple=True),
            _f("correction_deadline", "补正期限"),
            _f("correction_method", "补正方式", required=False),
            *_TAIL,
        ),
        statements=(
            "你（单位）于{application_date}提交的{item}申请材料不齐全或者不符合法定形式。"
            "根据{legal_basis}的规定，现一次性告知需要补正的全部内容。",
            "请于{correction_deadline}前按要求补正。你（单位）提交全部补正材料后，本机关将依法受理。",
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.DEFERRED_ACCEPTANCE,
        title="容缺受理通知书",
        legal_basis="本地容缺受理规定",
        needs_document_no=True,
        fields=(
            *_HEAD,
            _CONTACT,
            _ITEM,
            _ACCEPTED_ON,
            _f("materials_received", "已收取的申请材料", required=False, multiple=True),
            _f("missing_materials", "容缺材料", multiple=True),
            _f("local_basis", "容缺受理依据（本地规定名称及文号）"),
            _f("submission_method", "补交方式"),
            _f("submission_due_date", "补交期限"),
            _f("consequence", "逾期未补交的处理"),
            *_TAIL,
        ),
        statements=(
            "你（单位）提出的{item}申请，主要申请材料齐全、符合法定形式，部分次要材料欠缺。"
            "根据{local_basis}的规定，本机关予以容缺受理。",
            "请于{submission_due_date}前以{submission_method}补交容缺材料。"
            "逾期未补交的，{consequence}。",
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.EXTENSION,
        title="延期办理告知书",
        legal_basis=f"{_LICENSING_LAW}第四十二条",
        needs_document_no=True,
        fields=(
            *_HEAD,
            _ITEM,
            _ACCEPTED_ON,
            _f("original_due_date", "原办结期限"),
            _f("reason", "延期理由"),
            _f("extension_period", "延长期限"),
            _f("new_due_date", "延长后的办结期限"),
            _f("approver", "批准人（本机关负责人）"),
            _f("approved_on", "批准日期", required=False),
            *_TAIL,
        ),
        statements=(
            "你（单位）申请的{item}，因{reason}，不能在{original_due_date}前作出决定。"
            "经本机关负责人批准，办理期限延长{extension_period}，"
            "延长后的办结期限为{new_due_date}。",
            "根据{legal_basis}的规定，特此告知。",
        ),
    ),
    NoticeSpec(
        kind=NoticeKind.SPECIAL_PROCEDURE,
        title="特别程序告知书",
        legal_basis=f"{_LICENSING_LAW}第四十五条",
        needs_document_no=True,
        fields=(
            *_HEAD,
            _ITEM,
            _f("procedure", "特别程序种类"),
            _f("procedure_reason", "启动理由或依据", required=False),
            _f("start_date", "开始日期"),
            _f("expected_duration", "所需时间"),
            _f("expected_end_date", "预计结束日期", required=False),
            *_TAIL,
        ),
        statements=(
            "你（单位）申请的{item}依法需要进行{procedure}，所需时间为{expected_duration}，"
            "自{start_date}起计算。",
            "根据{legal_basis}的规定，{procedure}所需时间不计算在办理期限内，特此书面告知。",
        ),
    ),
)

NOTICE_SPECS: Final[Mapping[NoticeKind, NoticeSpec]] = MappingProxyType(
    {spec.kind: spec for spec in _SPECS}
)

_COUNT_ZH: Final = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五"}


def _copies_sentence(copies: tuple[str, ...]) -> str:
    count = _COUNT_ZH.get(len(copies), str(len(copies)))
    return f"本文书一式{count}份，{'、'.join(copies)}各执一份。"


def _clean(spec: FieldSpec, value: object, problems: list[str]) -> FieldValue | None:
    """The stripped value, or None when blank; records a problem for a value of the wrong shape."""
    if spec.multiple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            problems.append(f"“{spec.label_zh}”应为逐项列出的清单")
            return None
        if not all(isinstance(item, str) for item in value):
            problems.append(f"“{spec.label_zh}”的每一项都应为文字")
            return None
        items = [item.strip() for item in value]
        if any(not item for item in items):
            problems.append(f"“{spec.label_zh}”中有空白项")
            return None
        return items or None
    if not isinstance(value, str):
        problems.append(f"“{spec.label_zh}”应为文字")
        return None
    return value.strip() or None


def build_notice(
    kind: NoticeKind,
    document_no: str | None,
    issued_on: date,
    issuer: str,
    *,
    legal_basis: str | None = None,
    **fields: object,
) -> Notice:
    """Check a filled-in notice against its spec and return it with its sentences rendered.

    Args:
        kind: which notice.
        document_no: 文书编号 (see ``shared.receipts.format_document_no``); may be None for the
            receipt voucher.
        issued_on: China-time date of issue.
        issuer: the issuing body's full name.
        legal_basis: replaces the spec's default basis, e.g. for items under other laws.
        **fields: values by field key; lists for ``multiple`` fields, text otherwise.

    Returns:
        The notice, holding only the fields that were filled in, stripped of surrounding spaces.

    Raises:
        InvalidError: unknown ``kind``.
        ValidationError: one problem per missing, blank, misshapen or unknown field, each naming
            the field's Chinese label, so the clerk can fix all of them at once.
    """
    try:
        spec = NOTICE_SPECS[NoticeKind(kind)]
    except ValueError as exc:
        raise InvalidError(f"未知的文书种类：{kind}", code="notice_kind_unknown") from exc
    problems: list[str] = []
    doc_no = document_no.strip() if isinstance(document_no, str) else ""
    if spec.needs_document_no and not doc_no:
        problems.append("缺少“文书编号”")
    if isinstance(issued_on, datetime) or not isinstance(issued_on, date):
        problems.append("“出具日期”应为日期")
    issuer_name = issuer.strip() if isinstance(issuer, str) else ""
    if not issuer_name:
        problems.append("缺少“出具机关”")
    basis = spec.legal_basis if legal_basis is None else legal_basis.strip()
    if not basis:
        problems.append("缺少“法律依据”")

    known = {field.key for field in spec.fields}
    problems += [f"{spec.title}没有“{key}”这一栏" for key in fields if key not in known]
    values: dict[str, FieldValue] = {}
    for field in spec.fields:
        raw = fields.get(field.key)
        shape_problems = len(problems)
        value = None if raw is None else _clean(field, raw, problems)
        if value is not None:
            values[field.key] = value
        elif len(problems) == shape_problems and field.required and not field.handwritten:
            problems.append(f"缺少“{field.label_zh}”")
    if problems:
        raise ValidationError(problems, message=f"{spec.title}填写不完整：" + "；".join(problems))

    context = {key: "、".join(v) if isinstance(v, list) else v for key, v in values.items()}
    context |= {"legal_basis": basis, "issuer": issuer_name, "document_no": doc_no}
    statements = tuple(text.format_map(context) for text in spec.statements)
    return Notice(
        kind=spec.kind,
        title=spec.title,
        document_no=doc_no or None,
        issued_on=issued_on,
        issuer=issuer_name,
        legal_basis=basis,
        fields=values,
        statements=(*statements, _copies_sentence(spec.copies)),
    )


def ordered_fields(notice: Notice) -> list[tuple[FieldSpec, FieldValue | None]]:
    """Every field of the notice's kind in print order with its value (None when blank)."""
    spec = NOTICE_SPECS[notice.kind]
    return [(field, notice.fields.get(field.key)) for field in spec.fields]

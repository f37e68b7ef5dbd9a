"""The window's printed documents, framework-free: which a case has, their numbers, their
contents, the signed payload and the printable view.

Which documents a case has follows from its events: a 收件凭证 for every receipt, a
受理通知书 (or 容缺受理通知书) once accepted, a 一次性告知书 for a correction request, a
不予受理通知书 for a refusal and the certificate once one is issued. Each notice is filled in
with :func:`shared.notices.build_notice` and signed by the body that prints it.

Shared by the node's and the county's print pages, which differ only in where the issued
documents are kept (numbered once, reprinted byte for byte) and whose key signs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from casework.display import qr_svg
from shared.calendar import CHINA_TZ
from shared.case_state import CaseState
from shared.catalog import Catalog, Item
from shared.documents import (
    CertificateContent,
    DocumentKind,
    DocumentPayload,
    encode_compact,
    sign_payload,
)
from shared.errors import ConflictError
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    CorrectionRequested,
    Received,
    Refused,
)
from shared.notices import Notice, NoticeKind, build_notice
from shared.receipts import format_document_no
from shared.signing import SignedDocument, SigningKey
from sync.store import CaseRow

# 文书性质 in the document number, after the body's short name: 示范镇受〔2026〕第000001号.
_NATURE = {
    DocumentKind.ACCEPTANCE: "受",
    DocumentKind.DEFERRED_ACCEPTANCE: "容受",
    DocumentKind.CORRECTION: "补正",
    DocumentKind.REFUSAL: "不受",
}
_NAME_SUFFIXES = ("便民服务中心", "便民服务站", "政务服务中心", "政务服务站", "服务中心", "服务站")

_E = TypeVar("_E")

CORRECTION_DAYS = 30
"""Calendar days the 一次性告知书 gives for the correction; the law sets no period, so this is
the window's own practice, printed on the notice so the applicant knows it."""


@dataclass(frozen=True)
class DocumentTexts:
    """Wording that depends on local rules rather than the law."""

    deferred_basis: str = "本县政务服务容缺受理制度"
    deferred_method: str = "到原受理窗口现场提交"
    deferred_consequence: str = "本机关将终止办理本申请，并书面告知"
    correction_method: str = "到原受理窗口现场提交"


@dataclass(frozen=True)
class DocumentView:
    """An issued document ready to print: its content, QR and verification link."""

    kind: DocumentKind
    document_no: str
    payload: DocumentPayload
    compact: str
    verify_url: str
    qr_svg: str


@dataclass(frozen=True)
class Issuer:
    """The body whose window prints and signs the document."""

    node_id: str
    name: str


@dataclass(frozen=True)
class CaseFacts:
    """What a document states about its case, gathered by the app that prints it.

    ``events`` are in recording order (:func:`in_order`); ``item`` is the item of the release
    the case was received under, None when that release is not held here.
    """

    row: CaseRow
    state: CaseState
    events: list[CaseEvent]
    item: Item | None
    query_code: str | None
    review_body: str


def in_order(events: list[CaseEvent]) -> list[CaseEvent]:
    """The events in the order they were recorded (hybrid clock, then node and id)."""
    return sorted(events, key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))


def document_kinds(
    events: list[CaseEvent], *, recorded_by: str | None = None
) -> list[DocumentKind]:
    """The documents a case has, in the order they arise.

    With ``recorded_by``, only those whose event that node recorded: a case received at a
    township and forwarded up is the township's to print the notices of.
    """
    mine = [e for e in events if recorded_by is None or e.node_id == recorded_by]
    found: list[DocumentKind] = []
    if _first(mine, Received) is not None:
        found.append(DocumentKind.RECEIPT_VOUCHER)
    if _first(mine, CorrectionRequested) is not None:
        found.append(DocumentKind.CORRECTION)
    if _first(mine, Refused) is not None:
        found.append(DocumentKind.REFUSAL)
    accepted = _last(mine, Accepted)
    if accepted is not None:
        found.append(
            DocumentKind.DEFERRED_ACCEPTANCE if accepted.deferred else DocumentKind.ACCEPTANCE
        )
    if _first(mine, CertificateIssued) is not None:
        found.append(DocumentKind.CERTIFICATE)
    return found


def short_name(name: str) -> str:
    """The body's short name for document numbers: 示范镇便民服务中心 → 示范镇."""
    text = re.sub(r"[\s〔〕\[\]]", "", name)
    suffix = next((x for x in _NAME_SUFFIXES if text.endswith(x)), "")
    # A name that is nothing but the suffix keeps it: "便民服务中心" is better than "便民".
    short = text[: -len(suffix)] if suffix and len(text) > len(suffix) else text
    return short or "本机关"


def document_prefix(issuer_name: str, kind: DocumentKind) -> str | None:
    """The numbering prefix of a notice (示范镇受), None for documents numbered otherwise."""
    nature = _NATURE.get(kind)
    return None if nature is None else short_name(issuer_name) + nature


def review_body(catalog: Catalog | None) -> str:
    """Where an applicant may seek administrative review of a refusal."""
    county = catalog.county.name if catalog else ""
    # 行政复议法 (2023) art. 24: the county people's government hears reviews of its organs.
    return f"{county}人民政府" if county else "上一级人民政府"


def signed_document(
    key: SigningKey,
    case: CaseFacts,
    kind: DocumentKind,
    *,
    issuer: Issuer,
    prefix: str | None,
    serial: int | None,
    now: datetime,
    texts: DocumentTexts,
) -> tuple[str, bytes]:
    """The document's number and its signed, encoded bytes, ready to keep.

    Raises:
        ConflictError: the case's receipt has not reached this node yet.
        ValidationError: the case lacks what the notice must state.
    """
    row = case.row
    notice: Notice | None = None
    certificate: CertificateContent | None = None
    if kind is DocumentKind.CERTIFICATE:
        certificate = certificate_content(case, issuer.name)
        document_no = certificate.certificate_no
    else:
        document_no = (
            format_document_no(prefix, now.astimezone(CHINA_TZ).year, serial)
            if prefix is not None and serial is not None
            else f"{kind.label}-{row.receipt_no or row.case_id}"
        )
        notice = notice_content(
            case, kind, None if prefix is None else document_no, issuer.name, texts
        )
    payload = DocumentPayload(
        issuer_node=issuer.node_id,
        issuer_name=issuer.name,
        document_no=document_no,
        kind=kind,
        case_id=row.case_id,
        receipt_no=row.receipt_no,
        issued_at=now.astimezone(CHINA_TZ),
        notice=notice,
        certificate=certificate,
    )
    return document_no, msgspec.json.encode(sign_payload(key, payload))


def document_view(
    kind: DocumentKind, document_no: str, signed: bytes, verify_base: str
) -> DocumentView:
    """The kept document as printed: its content, and the QR carrying the whole signed
    document to ``{verify_base}/verify`` (relative when the base is empty)."""
    document = msgspec.json.decode(signed, type=SignedDocument)
    payload = msgspec.json.decode(document.payload, type=DocumentPayload)
    compact = encode_compact(document)
    url = verify_url(verify_base, compact)
    return DocumentView(
        kind=kind,
        document_no=document_no,
        payload=payload,
        compact=compact,
        verify_url=url,
        qr_svg=qr_svg(url),
    )


def verify_url(verify_base: str, compact: str) -> str:
    """Where a QR code points: the issuer's public address when known, else relative."""
    return f"{verify_base.rstrip('/')}/verify?d={compact}"


def notice_content(
    case: CaseFacts,
    kind: DocumentKind,
    document_no: str | None,
    issuer_name: str,
    texts: DocumentTexts,
) -> Notice:
    """The notice of ``kind`` filled in from the case.

    Raises:
        ConflictError: the case's receipt has not reached this node yet.
        ValidationError: the case lacks what the notice must state.
    """
    row, state, events, item = case.row, case.state, case.events, case.item
    received = _first(events, Received)
    if received is None:
        raise ConflictError("办件的收件记录尚未到达本节点，暂不能出具文书。")
    materials = {m.code: m.name for m in item.materials} if item else {}
    officer_phone = (item.contact.phone if item else "") or "见窗口公示电话"
    common: dict[str, Any] = {
        "receipt_no": row.receipt_no or row.case_id,
        "applicant": received.applicant.name,
        "contact": received.applicant.phone or "未留",
        "item": item.name if item else (row.item_code or ""),
        "seal": issuer_name,
    }
    received_names = [materials.get(c, c) for c in received.materials] or ["无"]
    if kind is DocumentKind.RECEIPT_VOUCHER:
        review_due = state.correction_notice_due
        fields = {
            **common,
            "materials_received": received_names,
            "received_at": _china_minutes(received.recorded_at),
            "receiver": received.actor,
            "officer_phone": officer_phone,
            "review_due_date": _day(review_due.due) if review_due else "五个工作日内",
            "query_code": case.query_code,
        }
        return _build(NoticeKind.RECEIPT_VOUCHER, None, received.recorded_on, issuer_name, fields)
    if kind in (DocumentKind.ACCEPTANCE, DocumentKind.DEFERRED_ACCEPTANCE):
        accepted = _last(events, Accepted)
        assert accepted is not None  # document_kinds offered it
        fields = {
            **common,
            "accepted_on": _day(accepted.recorded_on),
            "officer": accepted.actor,
            "officer_phone": officer_phone,
        }
        if kind is DocumentKind.ACCEPTANCE:
            fields |= {
                "materials_received": received_names,
                "promised_due_date": _day(row.promised_due) if row.promised_due else "",
                "statutory_due_date": _day(row.statutory_due) if row.statutory_due else None,
                "query_code": case.query_code,
            }
            return _build(
                NoticeKind.ACCEPTANCE, document_no, accepted.recorded_on, issuer_name, fields
            )
        fields |= {
            "materials_received": [materials.get(c, c) for c in received.materials] or None,
            "missing_materials": [f"{d.name}（{_day(d.due)}前）" for d in accepted.deferred],
            "local_basis": texts.deferred_basis,
            "submission_method": texts.deferred_method,
            "submission_due_date": _day(max(d.due for d in accepted.deferred)),
            "consequence": texts.deferred_consequence,
        }
        return _build(
            NoticeKind.DEFERRED_ACCEPTANCE,
            document_no,
            accepted.recorded_on,
            issuer_name,
            fields,
            legal_basis=texts.deferred_basis,
        )
    if kind is DocumentKind.CORRECTION:
        requested = _last(events, CorrectionRequested)
        assert requested is not None
        fields = {
            **common,
            "application_date": _day(received.recorded_on),
            "materials_to_correct": [f"{m.name}：{m.requirement}" for m in requested.missing],
            "correction_deadline": _day(requested.recorded_on + timedelta(days=CORRECTION_DAYS)),
            "correction_method": texts.correction_method,
            "officer": requested.actor,
            "officer_phone": officer_phone,
        }
        return _build(
            NoticeKind.CORRECTION, document_no, requested.recorded_on, issuer_name, fields
        )
    refused = _last(events, Refused)
    assert refused is not None
    fields = {
        **common,
        "application_date": _day(received.recorded_on),
        "reasons": refused.reason,
        "referral": f"请向{refused.referral}提出申请。" if refused.referral else "",
        "review_body": case.review_body,
        "officer": refused.actor,
        "officer_phone": officer_phone,
    }
    return _build(NoticeKind.REFUSAL, document_no, refused.recorded_on, issuer_name, fields)


def certificate_content(case: CaseFacts, issuer_name: str) -> CertificateContent:
    """The certificate recorded on the case, as printed."""
    row, item = case.row, case.item
    issued = _last(case.events, CertificateIssued)
    received = _first(case.events, Received)
    assert issued is not None  # document_kinds offered it
    return CertificateContent(
        certificate_no=issued.certificate_no,
        title=issued.title,
        holder=received.applicant.name if received else (row.applicant_name or ""),
        item=item.name if item else (row.item_code or ""),
        issued_on=issued.recorded_on,
        valid_until=issued.valid_until,
        issuer=issuer_name,
    )


def _build(
    kind: NoticeKind,
    document_no: str | None,
    on: date,
    issuer_name: str,
    fields: dict[str, Any],
    *,
    legal_basis: str | None = None,
) -> Notice:
    return build_notice(
        kind,
        document_no,
        on,
        issuer_name,
        legal_basis=legal_basis,
        **{k: v for k, v in fields.items() if v is not None},
    )


def _first(events: list[CaseEvent], kind: type[_E]) -> _E | None:
    return next((e for e in events if isinstance(e, kind)), None)


def _last(events: list[CaseEvent], kind: type[_E]) -> _E | None:
    return next((e for e in reversed(events) if isinstance(e, kind)), None)


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _china_minutes(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{_day(local.date())}{local.hour:02d}:{local.minute:02d}"

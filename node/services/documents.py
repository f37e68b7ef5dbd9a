"""The window's printed documents: notices and certificates, signed, numbered and kept.

Which documents a case has follows from its events: a 收件凭证 for every receipt, a
受理通知书 (or 容缺受理通知书) once accepted, a 一次性告知书 for a correction request, a
不予受理通知书 for a refusal and the certificate once one is issued. The first print builds the
notice with :func:`shared.notices.build_notice`, gives it a document number, signs it with the
node key and stores the signed bytes; a reprint shows exactly those bytes again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from casework.display import qr_svg
from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from node.storage.document_store import DocumentStore
from node.storage.intake_store import IntakeStore
from shared.calendar import CHINA_TZ
from shared.case_state import CaseState
from shared.catalog import Item
from shared.documents import (
    CertificateContent,
    DocumentCheck,
    DocumentKind,
    DocumentPayload,
    check_document,
    encode_compact,
    sign_payload,
)
from shared.errors import ConflictError, NotFoundError
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    CorrectionRequested,
    Received,
    Refused,
)
from shared.notices import Notice, NoticeKind, build_notice
from shared.receipts import format_document_no, make_query_code
from shared.signing import SignedDocument, SigningKey
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.replica import Replica
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


class DocumentService:
    """Builds, signs, numbers, keeps and verifies the documents printed at the window."""

    def __init__(
        self,
        replica: Replica,
        catalog: NodeCatalogService,
        identity: NodeIdentity,
        *,
        store: DocumentStore,
        intake_store: IntakeStore,
        key: SigningKey,
        clock: Callable[[], datetime],
        verify_base: str = "",
        texts: DocumentTexts | None = None,
    ) -> None:
        self._replica = replica
        self._catalog = catalog
        self._identity = identity
        self._store = store
        self._intake_store = intake_store
        self._key = key
        self._clock = clock
        self._verify_base = verify_base.rstrip("/")
        self._texts = texts or DocumentTexts()

    async def available(self, case_id: str) -> list[DocumentKind]:
        """The documents this case has, in the order they arise.

        Raises:
            NotFoundError: no such case on this node.
        """
        _, _, events = await self._case(case_id)
        return _kinds(events)

    async def document(self, case_id: str, kind: DocumentKind) -> DocumentView:
        """The document of ``kind`` for the case, issued now if it never was.

        Raises:
            NotFoundError: no such case, or the case has no document of this kind.
            ValidationError: the case lacks what the notice must state.
        """
        row, state, events = await self._case(case_id)
        if kind not in _kinds(events):
            raise NotFoundError(
                f"办件 {row.receipt_no or case_id} 没有“{kind.label}”。", code="document_not_found"
            )
        now = self._clock()
        prefix = self._prefix(kind)
        stored = self._store.issue(
            case_id,
            kind.value,
            prefix=prefix,
            year=now.astimezone(CHINA_TZ).year,
            make=lambda serial: self._make(
                row, state=state, events=events, kind=kind, prefix=prefix, serial=serial, now=now
            ),
            at=now,
        )
        signed = msgspec.json.decode(stored.signed, type=SignedDocument)
        return self._view(kind, stored.document_no, signed)

    def verify(self, text: str) -> DocumentCheck:
        """Check the text of a QR code against the registry of the release in force."""
        return check_document(text, self._catalog.registry_now(), self._clock())

    def verify_url(self, compact: str) -> str:
        """Where the QR code points: this node's public address when known, else relative."""
        return f"{self._verify_base}/verify?d={compact}"

    async def _case(self, case_id: str) -> tuple[CaseRow, CaseState, list[CaseEvent]]:
        store = self._replica.store
        row = (await store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
        state = decode_view(row.state_json).state
        events = events_of((await store.case_states([case_id])).get(case_id))
        events.sort(key=lambda e: (e.hlc.wall_ms, e.hlc.counter, e.node_id, e.id))
        return row, state, events

    def _prefix(self, kind: DocumentKind) -> str | None:
        nature = _NATURE.get(kind)
        return None if nature is None else short_name(self._identity.name) + nature

    def _make(
        self,
        row: CaseRow,
        *,
        state: CaseState,
        events: list[CaseEvent],
        kind: DocumentKind,
        prefix: str | None,
        serial: int | None,
        now: datetime,
    ) -> tuple[str, bytes]:
        notice: Notice | None = None
        certificate: CertificateContent | None = None
        if kind is DocumentKind.CERTIFICATE:
            certificate = self._certificate(row, events)
            document_no = certificate.certificate_no
        else:
            document_no = (
                format_document_no(prefix, now.astimezone(CHINA_TZ).year, serial)
                if prefix is not None and serial is not None
                else f"{kind.label}-{row.receipt_no or row.case_id}"
            )
            notice = self._notice(row, state, events, kind, None if prefix is None else document_no)
        payload = DocumentPayload(
            issuer_node=self._identity.node_id,
            issuer_name=self._identity.name,
            document_no=document_no,
            kind=kind,
            case_id=row.case_id,
            receipt_no=row.receipt_no,
            issued_at=now.astimezone(CHINA_TZ),
            notice=notice,
            certificate=certificate,
        )
        signed = sign_payload(self._key, payload)
        return document_no, msgspec.json.encode(signed)

    def _item(self, row: CaseRow) -> Item | None:
        if row.item_code is None or row.catalog_version is None:
            return None
        catalog = self._catalog.catalog_for(row.catalog_version)
        if catalog is None:
            return None
        try:
            return catalog.item(row.item_code)
        except NotFoundError:
            return None

    def _notice(
        self,
        row: CaseRow,
        state: CaseState,
        events: list[CaseEvent],
        kind: DocumentKind,
        document_no: str | None,
    ) -> Notice:
        received = _first(events, Received)
        if received is None:
            raise ConflictError("办件的收件记录尚未到达本节点，暂不能出具文书。")
        item = self._item(row)
        materials = {m.code: m.name for m in item.materials} if item else {}
        officer_phone = (item.contact.phone if item else "") or "见窗口公示电话"
        common: dict[str, Any] = {
            "receipt_no": row.receipt_no or row.case_id,
            "applicant": received.applicant.name,
            "contact": received.applicant.phone or "未留",
            "item": item.name if item else (row.item_code or ""),
            "seal": self._identity.name,
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
                "query_code": self._query_code(row),
            }
            return self._build(NoticeKind.RECEIPT_VOUCHER, None, received.recorded_on, fields)
        if kind in (DocumentKind.ACCEPTANCE, DocumentKind.DEFERRED_ACCEPTANCE):
            accepted = _last(events, Accepted)
            assert accepted is not None  # _kinds offered it
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
                    "query_code": self._query_code(row),
                }
                return self._build(NoticeKind.ACCEPTANCE, document_no, accepted.recorded_on, fields)
            texts = self._texts
            fields |= {
                "materials_received": [materials.get(c, c) for c in received.materials] or None,
                "missing_materials": [f"{d.name}（{_day(d.due)}前）" for d in accepted.deferred],
                "local_basis": texts.deferred_basis,
                "submission_method": texts.deferred_method,
                "submission_due_date": _day(max(d.due for d in accepted.deferred)),
                "consequence": texts.deferred_consequence,
            }
            return self._build(
                NoticeKind.DEFERRED_ACCEPTANCE,
                document_no,
                accepted.recorded_on,
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
                "correction_deadline": _day(
                    requested.recorded_on + timedelta(days=CORRECTION_DAYS)
                ),
                "correction_method": self._texts.correction_method,
                "officer": requested.actor,
                "officer_phone": officer_phone,
            }
            return self._build(NoticeKind.CORRECTION, document_no, requested.recorded_on, fields)
        refused = _last(events, Refused)
        assert refused is not None
        fields = {
            **common,
            "application_date": _day(received.recorded_on),
            "reasons": refused.reason,
            "referral": f"请向{refused.referral}提出申请。" if refused.referral else "",
            "review_body": self._review_body(row),
            "officer": refused.actor,
            "officer_phone": officer_phone,
        }
        return self._build(NoticeKind.REFUSAL, document_no, refused.recorded_on, fields)

    def _build(
        self,
        kind: NoticeKind,
        document_no: str | None,
        on: date,
        fields: dict[str, Any],
        legal_basis: str | None = None,
    ) -> Notice:
        return build_notice(
            kind,
            document_no,
            on,
            self._identity.name,
            legal_basis=legal_basis,
            **{k: v for k, v in fields.items() if v is not None},
        )

    def _review_body(self, row: CaseRow) -> str:
        catalog = self._catalog.catalog_for(row.catalog_version) if row.catalog_version else None
        county = catalog.county.name if catalog else ""
        # 行政复议法 (2023) art. 24: the county people's government hears reviews of its organs.
        return f"{county}人民政府" if county else "上一级人民政府"

    def _query_code(self, row: CaseRow) -> str | None:
        if not row.receipt_no:
            return None
        return make_query_code(self._intake_store.query_secret(), row.receipt_no)

    def _certificate(self, row: CaseRow, events: list[CaseEvent]) -> CertificateContent:
        issued = _last(events, CertificateIssued)
        received = _first(events, Received)
        assert issued is not None
        item = self._item(row)
        return CertificateContent(
            certificate_no=issued.certificate_no,
            title=issued.title,
            holder=received.applicant.name if received else (row.applicant_name or ""),
            item=item.name if item else (row.item_code or ""),
            issued_on=issued.recorded_on,
            valid_until=issued.valid_until,
            issuer=self._identity.name,
        )

    def _view(self, kind: DocumentKind, document_no: str, signed: SignedDocument) -> DocumentView:
        payload = msgspec.json.decode(signed.payload, type=DocumentPayload)
        compact = encode_compact(signed)
        url = self.verify_url(compact)
        return DocumentView(
            kind=kind,
            document_no=document_no,
            payload=payload,
            compact=compact,
            verify_url=url,
            qr_svg=qr_svg(url),
        )


def short_name(name: str) -> str:
    """The body's short name for document numbers: 示范镇便民服务中心 → 示范镇."""
    text = re.sub(r"[\s〔〕\[\]]", "", name)
    suffix = next((x for x in _NAME_SUFFIXES if text.endswith(x)), "")
    # A name that is nothing but the suffix keeps it: "便民服务中心" is better than "便民".
    short = text[: -len(suffix)] if suffix and len(text) > len(suffix) else text
    return short or "本机关"


def _kinds(events: list[CaseEvent]) -> list[DocumentKind]:
    found: list[DocumentKind] = []
    if _first(events, Received) is not None:
        found.append(DocumentKind.RECEIPT_VOUCHER)
    if _first(events, CorrectionRequested) is not None:
        found.append(DocumentKind.CORRECTION)
    if _first(events, Refused) is not None:
        found.append(DocumentKind.REFUSAL)
    accepted = _last(events, Accepted)
    if accepted is not None:
        found.append(
            DocumentKind.DEFERRED_ACCEPTANCE if accepted.deferred else DocumentKind.ACCEPTANCE
        )
    if _first(events, CertificateIssued) is not None:
        found.append(DocumentKind.CERTIFICATE)
    return found


def _first(events: list[CaseEvent], kind: type[_E]) -> _E | None:
    return next((e for e in events if isinstance(e, kind)), None)


def _last(events: list[CaseEvent], kind: type[_E]) -> _E | None:
    return next((e for e in reversed(events) if isinstance(e, kind)), None)


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _china_minutes(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{_day(local.date())}{local.hour:02d}:{local.minute:02d}"

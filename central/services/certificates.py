"""County-signed e-certificates (电子证照) for cases approved at the county.

Issuing records ``CertificateIssued`` on the case with a number from the county's own yearly
serial (``<county code>-<year>-<serial>-<check>``), then signs the certificate document with the
county key and keeps the signed bytes, so every reprint shows the same document and the same QR
code. The QR code carries the whole signed document and points at the county's /verify page.

A case whose certificate another node already recorded is that node's to print. When the
county's ``CertificateIssued`` is on the case but the signed document was never kept (the process
stopped in between), the document is signed again for that same number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import msgspec

from casework.display import qr_svg
from central.db.portal_tables import PortalStore, StoredCertificate
from central.services.accounts import CountyUser, ensure_case_visible
from central.services.portal import LoadedCase, PortalService, event_id_for, request_id_of
from central.services.releases import ReleaseService
from shared.calendar import CHINA_TZ, china_date
from shared.documents import (
    CertificateContent,
    DocumentKind,
    DocumentPayload,
    encode_compact,
    sign_payload,
)
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.event_parts import Outcome
from shared.events import CertificateIssued, Received
from shared.receipts import format_certificate_no
from shared.registry import COUNTY_NODE_ID
from shared.signing import SignedDocument, SigningKey

MAX_TITLE = 100


class CertificateIn(msgspec.Struct, frozen=True, kw_only=True):
    """What staff fill in to issue a certificate; the title defaults to the item's result."""

    title: str = ""
    valid_until: date | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class CertificateView:
    """An issued certificate ready to print: content, QR text, link and QR image."""

    certificate_no: str
    case_id: str
    payload: DocumentPayload
    certificate: CertificateContent
    compact: str
    verify_url: str
    qr_svg: str


class CertificateService:
    """Issues, keeps and shows county-signed certificates."""

    def __init__(
        self,
        portal: PortalService,
        store: PortalStore,
        releases: ReleaseService,
        key: Callable[[], SigningKey],
        clock: Callable[[], datetime],
        *,
        verify_base: str = "",
    ) -> None:
        self._portal = portal
        self._store = store
        self._releases = releases
        self._key = key
        self._clock = clock
        self._verify_base = verify_base.rstrip("/")
        self._lock = asyncio.Lock()

    async def issue(self, case_id: str, data: CertificateIn, user: CountyUser) -> CertificateView:
        """Issue the county certificate of an approved case, or show the one issued.

        Raises:
            NotFoundError: no such case.
            PermissionDeniedError: outside the user's subtree, or the county does not decide
                the item (the node deciding it issues the certificate).
            ValidationError: a bad title or validity date.
            ConflictError: the case is not approved, or another node issued its certificate.
        """
        case = await self._portal.load(case_id)
        ensure_case_visible(user, case_id, case.nodes)
        today = china_date(self._clock())
        problems: list[str] = []
        title = data.title.strip() or self._default_title(case)
        if len(title) > MAX_TITLE:
            problems.append(f"证照名称最多 {MAX_TITLE} 字")
        if data.valid_until is not None and data.valid_until < today:
            problems.append("证照有效期不能早于发证日期")
        request_id = request_id_of(data.request_id, problems)
        if problems:
            raise ValidationError(problems, message="证照信息未通过校验：" + "；".join(problems))
        async with self._lock:
            kept = await self._store.certificate_of_case(case_id)
            if kept is not None:
                return self._view(kept)
            case = await self._portal.load(case_id)
            issued = self._issued_here(case)
            if issued is None:
                self._ensure_approved(case)
                year = today.year
                serial = await self._store.next_serial(f"certificate:{year}")
                number = format_certificate_no(self._county_code(), year, serial)
                valid_until = data.valid_until
                await self._portal.record(
                    case_id,
                    lambda base: CertificateIssued(
                        **base, certificate_no=number, title=title, valid_until=valid_until
                    ),
                    event_id=event_id_for("certificate", case_id, request_id),
                    actor=user.username,
                )
                case = await self._portal.load(case_id)
                issued = self._issued_here(case)
                assert issued is not None
            signed = self._sign(case, issued)
            kept = await self._store.add_certificate(
                StoredCertificate(
                    certificate_no=issued.certificate_no,
                    case_id=case_id,
                    signed=msgspec.json.encode(signed),
                    issued_at=self._clock().astimezone(UTC),
                    issued_by=user.username,
                )
            )
        return self._view(kept)

    async def of_case(self, case_id: str, user: CountyUser) -> CertificateView | None:
        """The county certificate of a case, if issued.

        Raises:
            NotFoundError / PermissionDeniedError: as for :meth:`issue`.
        """
        case = await self._portal.load(case_id)
        ensure_case_visible(user, case_id, case.nodes)
        kept = await self._store.certificate_of_case(case_id)
        return None if kept is None else self._view(kept)

    def verify_url(self, compact: str) -> str:
        """Where the QR code points: the county's public address when known, else relative."""
        return f"{self._verify_base}/verify?d={compact}"

    def _default_title(self, case: LoadedCase) -> str:
        state = case.state
        catalog = (
            self._releases.catalog_for(state.catalog_version) if state.catalog_version else None
        )
        if catalog is not None and state.item_code:
            try:
                item = catalog.item(state.item_code)
            except NotFoundError:
                return "准予行政许可证明"
            return item.result_name or f"{item.name}准予许可证明"
        return "准予行政许可证明"

    def _issued_here(self, case: LoadedCase) -> CertificateIssued | None:
        issued = [e for e in case.events if isinstance(e, CertificateIssued)]
        mine = [
            e
            for e in issued
            if e.node_id == COUNTY_NODE_ID and e.certificate_no in case.state.certificates
        ]
        if mine:
            return mine[0]
        counted = [e for e in issued if e.certificate_no in case.state.certificates]
        if counted:
            issuer = self._portal.node_name(counted[0].node_id)
            raise ConflictError(
                f"该办件的证照已由{issuer}制发（{counted[0].certificate_no}），请到发证机构打印。",
                code="certificate_issued_elsewhere",
            )
        return None

    @staticmethod
    def _ensure_approved(case: LoadedCase) -> None:
        if case.state.outcome is not Outcome.APPROVE:
            raise ConflictError(
                f"办件当前状态为“{case.state.status.label}”，只有准予许可的办件才能制发证照。",
                code="certificate_not_approved",
            )

    def _county_code(self) -> str:
        county = self._releases.registry_now().get(COUNTY_NODE_ID)
        if county is None or not county.short_code:
            raise ConflictError(
                "节点登记表中没有县中心的简码，请先发布事项目录。", code="county_code_missing"
            )
        return county.short_code

    def _sign(self, case: LoadedCase, issued: CertificateIssued) -> SignedDocument:
        received = next((e for e in case.events if isinstance(e, Received)), None)
        county = self._releases.registry_now().get(COUNTY_NODE_ID)
        issuer = county.name if county else COUNTY_NODE_ID
        state = case.state
        content = CertificateContent(
            certificate_no=issued.certificate_no,
            title=issued.title,
            holder=received.applicant.name if received else (case.row.applicant_name or ""),
            item=self._portal.item_name(state.item_code, state.catalog_version),
            issued_on=issued.recorded_on,
            valid_until=issued.valid_until,
            issuer=issuer,
        )
        payload = DocumentPayload(
            issuer_node=COUNTY_NODE_ID,
            issuer_name=issuer,
            document_no=issued.certificate_no,
            kind=DocumentKind.CERTIFICATE,
            case_id=case.row.case_id,
            receipt_no=state.receipt_no,
            issued_at=self._clock().astimezone(CHINA_TZ),
            certificate=content,
        )
        return sign_payload(self._key(), payload)

    def _view(self, kept: StoredCertificate) -> CertificateView:
        signed = msgspec.json.decode(kept.signed, type=SignedDocument)
        payload = msgspec.json.decode(signed.payload, type=DocumentPayload)
        assert payload.certificate is not None
        compact = encode_compact(signed)
        url = self.verify_url(compact)
        return CertificateView(
            certificate_no=kept.certificate_no,
            case_id=kept.case_id,
            payload=payload,
            certificate=payload.certificate,
            compact=compact,
            verify_url=url,
            qr_svg=qr_svg(url),
        )

"""Public verification at the county: any signed document, and certificates by number.

A document's QR text is checked by :func:`shared.documents.check_document` against the registry
of the release in force, so a node's signature counts only while the node is active in it and
the county's own signature like any other. A certificate number is looked up among the
certificates recorded on cases anywhere in the county (``CertificateIssued``), which tells
whether it exists, for which item, which body issued it, until when it is valid and whether the
case or its issuer was withdrawn since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import msgspec

from central.db.portal_tables import PortalStore
from central.services.portal import LookupGuard, PortalIndex, PortalService, mask_name
from central.services.releases import ReleaseService
from shared.calendar import china_date
from shared.case_state import CaseStatus
from shared.documents import DocumentCheck, check_document
from shared.errors import NotFoundError, ValidationError
from shared.event_parts import blank
from shared.events import CertificateIssued
from shared.receipts import parse_certificate_no
from shared.registry import NodeStatus


class CertificateLookup(msgspec.Struct, frozen=True, kw_only=True):
    """What the county knows about a certificate number."""

    certificate_no: str
    valid: bool
    status_label: str
    title: str
    item_code: str | None
    item_name: str
    holder: str  # masked
    issuer_node: str
    issuer_name: str
    issued_on: date
    valid_until: date | None
    expired: bool
    issuer_withdrawn: bool
    case_status: str
    case_status_label: str
    case_withdrawn: bool
    receipt_no: str | None


class VerificationService:
    """Checks documents and looks up certificate numbers; nobody needs to log in."""

    def __init__(
        self,
        releases: ReleaseService,
        store: PortalStore,
        index: PortalIndex,
        portal: PortalService,
        *,
        guard: LookupGuard,
        clock: Callable[[], datetime],
    ) -> None:
        self._releases = releases
        self._store = store
        self._index = index
        self._portal = portal
        self._guard = guard
        self._clock = clock

    async def verify(self, text: str) -> DocumentCheck:
        """Check the text of a QR code against the registry of the release in force."""
        await self._releases.current()
        return check_document(text, self._releases.registry_now(), self._clock())

    async def certificate(self, number: str, client: str) -> CertificateLookup:
        """Look a certificate number up among the certificates issued in the county.

        Raises:
            ValidationError: nothing typed.
            InvalidError: a malformed number or wrong check character (not counted).
            NotFoundError: no such certificate (counted against ``client``).
            LookupLimitedError: too many failed lookups from ``client`` lately.
        """
        await self._guard.ensure_allowed(client)
        if blank(number):
            raise ValidationError(["请输入证照编号"])
        parsed = parse_certificate_no(number)
        await self._index.refresh()
        found = None
        for case_id in await self._store.cases_with_certificate(parsed.text):
            case = await self._portal.load(case_id)
            issued = [
                e
                for e in case.events
                if isinstance(e, CertificateIssued) and e.certificate_no == parsed.text
            ]
            if issued:
                found = (case, issued[0])
                break
        if found is None:
            await self._guard.failed(client)
            raise NotFoundError(
                f"没有查到编号为 {parsed.text} 的证照，请核对编号，或向发证机关核实。",
                code="certificate_not_found",
            )
        case, event = found
        await self._releases.current()
        issuer = self._releases.registry_now().get(event.node_id)
        issuer_withdrawn = issuer is None or issuer.status is not NodeStatus.ACTIVE
        state = case.state
        today = china_date(self._clock())
        expired = event.valid_until is not None and event.valid_until < today
        case_withdrawn = state.status is CaseStatus.WITHDRAWN
        valid = not (expired or issuer_withdrawn or case_withdrawn)
        if valid:
            label = "证照有效：本县登记在册的机构签发，目前在有效期内。"
        elif issuer_withdrawn:
            label = "发证机构已被吊销或隔离，该证照需向县政务服务中心核实。"
        elif case_withdrawn:
            label = "该办件已撤回，证照不再有效。"
        else:
            label = f"证照已于 {event.valid_until} 过期。"
        return CertificateLookup(
            certificate_no=parsed.text,
            valid=valid,
            status_label=label,
            title=event.title,
            item_code=state.item_code,
            item_name=self._portal.item_name(state.item_code, state.catalog_version),
            holder=mask_name(case.row.applicant_name),
            issuer_node=event.node_id,
            issuer_name=issuer.name if issuer else event.node_id,
            issued_on=event.recorded_on,
            valid_until=event.valid_until,
            expired=expired,
            issuer_withdrawn=issuer_withdrawn,
            case_status=state.status.value,
            case_status_label=state.status.label,
            case_withdrawn=case_withdrawn,
            receipt_no=state.receipt_no,
        )

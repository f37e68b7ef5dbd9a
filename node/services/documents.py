"""The window's printed documents: notices and certificates, signed, numbered and kept.

Which documents a case has and what each says are rules of :mod:`casework.documents`, shared
with the county window. Here the node gathers the case, and the first print gives the
document a number from the node's yearly serial, signs it with the node key and stores the
signed bytes; a reprint shows exactly those bytes again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casework.documents import (
    CORRECTION_DAYS,
    CaseFacts,
    DocumentTexts,
    DocumentView,
    Issuer,
    document_kinds,
    document_prefix,
    document_view,
    in_order,
    review_body,
    short_name,
    signed_document,
    verify_url,
)
from node.identity import NodeIdentity
from node.services.catalog import NodeCatalogService
from node.storage.document_store import DocumentStore
from node.storage.intake_store import IntakeStore
from shared.calendar import CHINA_TZ
from shared.case_state import CaseState
from shared.catalog import Item
from shared.documents import DocumentCheck, DocumentKind, check_document
from shared.errors import NotFoundError
from shared.events import CaseEvent
from shared.receipts import make_query_code
from shared.signing import SigningKey
from sync.casedoc import events_of
from sync.projection import decode_view
from sync.replica import Replica
from sync.store import CaseRow

__all__ = [
    "CORRECTION_DAYS",
    "DocumentService",
    "DocumentTexts",
    "DocumentView",
    "short_name",
]


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
        return document_kinds(events)

    async def document(self, case_id: str, kind: DocumentKind) -> DocumentView:
        """The document of ``kind`` for the case, issued now if it never was.

        Raises:
            NotFoundError: no such case, or the case has no document of this kind.
            ValidationError: the case lacks what the notice must state.
        """
        row, state, events = await self._case(case_id)
        if kind not in document_kinds(events):
            raise NotFoundError(
                f"办件 {row.receipt_no or case_id} 没有“{kind.label}”。", code="document_not_found"
            )
        now = self._clock()
        prefix = document_prefix(self._identity.name, kind)
        stored = self._store.issue(
            case_id,
            kind.value,
            prefix=prefix,
            year=now.astimezone(CHINA_TZ).year,
            make=lambda serial: signed_document(
                self._key,
                self._facts(row, state, events),
                kind,
                issuer=Issuer(node_id=self._identity.node_id, name=self._identity.name),
                prefix=prefix,
                serial=serial,
                now=now,
                texts=self._texts,
            ),
            at=now,
        )
        return document_view(kind, stored.document_no, stored.signed, self._verify_base)

    def verify(self, text: str) -> DocumentCheck:
        """Check the text of a QR code against the registry of the release in force."""
        return check_document(text, self._catalog.registry_now(), self._clock())

    def verify_url(self, compact: str) -> str:
        """Where the QR code points: this node's public address when known, else relative."""
        return verify_url(self._verify_base, compact)

    async def _case(self, case_id: str) -> tuple[CaseRow, CaseState, list[CaseEvent]]:
        store = self._replica.store
        row = (await store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError(f"本节点没有编号为 {case_id} 的办件。", code="case_not_found")
        state = decode_view(row.state_json).state
        events = in_order(events_of((await store.case_states([case_id])).get(case_id)))
        return row, state, events

    def _facts(self, row: CaseRow, state: CaseState, events: list[CaseEvent]) -> CaseFacts:
        catalog = self._catalog.catalog_for(row.catalog_version) if row.catalog_version else None
        return CaseFacts(
            row=row,
            state=state,
            events=events,
            item=self._item(row),
            query_code=(
                make_query_code(self._intake_store.query_secret(), row.receipt_no)
                if row.receipt_no
                else None
            ),
            review_body=review_body(catalog),
        )

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

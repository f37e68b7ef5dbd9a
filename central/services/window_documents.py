"""The notices the county window prints: 收件凭证, 受理通知书 (or 容缺受理通知书), 一次性告知书
and 不予受理通知书, signed with the county key.

The same documents and wording as at the nodes (:mod:`casework.documents`). The county prints
only what its own window recorded: a case received at a township and forwarded up keeps the
township's notices, and county e-certificates are issued by
:class:`central.services.certificates.CertificateService`. The first print numbers the notice
from the county's yearly serial of its kind (示范县受〔2026〕第000001号) and keeps the signed
bytes; a reprint shows exactly those bytes again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casework.documents import (
    CaseFacts,
    DocumentTexts,
    DocumentView,
    Issuer,
    document_kinds,
    document_prefix,
    document_view,
    in_order,
    review_body,
    signed_document,
)
from central.services.accounts import CountyUser
from central.services.releases import ReleaseService
from central.services.window import CountyWindow
from shared.calendar import CHINA_TZ
from shared.catalog import Item
from shared.documents import DocumentKind
from shared.errors import ConflictError, NotFoundError
from shared.registry import COUNTY_NODE_ID
from shared.signing import SigningKey
from sync.casedoc import events_of
from sync.projection import decode_view


class CountyDocuments:
    """Builds, signs, numbers and keeps the notices of cases received at the county window."""

    def __init__(
        self,
        window: CountyWindow,
        releases: ReleaseService,
        key: Callable[[], SigningKey],
        clock: Callable[[], datetime],
        *,
        verify_base: str = "",
        texts: DocumentTexts | None = None,
    ) -> None:
        self._window = window
        self._releases = releases
        self._key = key
        self._clock = clock
        self._verify_base = verify_base
        self._texts = texts or DocumentTexts()

    async def available(self, case_id: str, user: CountyUser) -> list[DocumentKind]:
        """The notices the county window has for the case, in the order they arise.

        Raises:
            NotFoundError: no such case.
            PermissionDeniedError: the case is outside the user's subtree.
        """
        return _county_kinds(await self._facts(case_id, user))

    async def document(self, case_id: str, kind: DocumentKind, user: CountyUser) -> DocumentView:
        """The notice of ``kind`` for the case, issued now if it never was.

        Raises:
            NotFoundError: no such case, or the county window has no notice of this kind for it.
            PermissionDeniedError: the case is outside the user's subtree.
            ConflictError: the county's entry in the registry is missing.
            ValidationError: the case lacks what the notice must state.
        """
        facts = await self._facts(case_id, user)
        if kind not in _county_kinds(facts):
            raise NotFoundError(
                f"办件 {facts.row.receipt_no or case_id} 没有县级窗口出具的“{kind.label}”。",
                code="document_not_found",
            )
        issuer = self._issuer()
        prefix = document_prefix(issuer.name, kind)
        now = self._clock()
        kept = await self._window.store.issue_document(
            case_id,
            kind.value,
            year=now.astimezone(CHINA_TZ).year,
            numbered=prefix is not None,
            make=lambda serial: signed_document(
                self._key(),
                facts,
                kind,
                issuer=issuer,
                prefix=prefix,
                serial=serial,
                now=now,
                texts=self._texts,
            ),
            at=now,
        )
        return document_view(kind, kept.document_no, kept.signed, self._verify_base)

    async def _facts(self, case_id: str, user: CountyUser) -> CaseFacts:
        await self._window.state(case_id, user)
        store = self._window.replica.store
        row = (await store.case_rows([case_id]))[case_id]
        events = in_order(events_of((await store.case_states([case_id])).get(case_id)))
        catalog = (
            self._releases.catalog_for(row.catalog_version)
            if row.catalog_version is not None
            else None
        )
        item: Item | None = None
        if catalog is not None and row.item_code is not None:
            try:
                item = catalog.item(row.item_code)
            except NotFoundError:
                item = None
        # Only a county receipt number has its query code made from the county's secret.
        mine = row.origin_node == COUNTY_NODE_ID
        return CaseFacts(
            row=row,
            state=decode_view(row.state_json).state,
            events=events,
            item=item,
            query_code=await self._window.query_code(row.receipt_no) if mine else None,
            review_body=review_body(catalog),
        )

    def _issuer(self) -> Issuer:
        county = self._releases.registry_now().get(COUNTY_NODE_ID)
        if county is None:
            raise ConflictError(
                "节点登记表中没有县中心，暂不能出具文书，请先发布事项目录。",
                code="county_missing",
            )
        return Issuer(node_id=COUNTY_NODE_ID, name=county.name)


def _county_kinds(facts: CaseFacts) -> list[DocumentKind]:
    return [
        kind
        for kind in document_kinds(facts.events, recorded_by=COUNTY_NODE_ID)
        if kind is not DocumentKind.CERTIFICATE
    ]

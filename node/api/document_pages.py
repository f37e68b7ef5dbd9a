"""Printing signed notices and certificates, and checking them: /verify and its JSON twin.

The print page is an A4 sheet: only the document is printed, with its number, legal basis,
fields, fixed sentences, issuer, date, seal area and the QR code that carries the whole signed
document. Verification needs no log-in: anyone holding the paper may check it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from node.api.auth import requires_role
from node.services.accounts import Role
from node.services.documents import DocumentService
from shared.documents import DocumentPayload, Verdict
from shared.notices import ordered_fields
from web.document_page import document_kind, render_document
from web.pages import page


@get(
    "/cases/{case_id:str}/documents/{kind:str}",
    include_in_schema=False,
    guards=[requires_role(Role.CLERK, Role.APPROVER)],
)
async def document_page(
    request: Request[Any, Any, Any],
    *,
    case_id: FromPath[str],
    kind: FromPath[str],
    document_service: NamedDependency[DocumentService],
) -> Template:
    """The document on an A4 page, issued (numbered and signed) on first print."""
    view = await document_service.document(case_id, document_kind(kind))
    return render_document(request, view, case_id)


@get("/verify", include_in_schema=False)
async def verify_page(
    request: Request[Any, Any, Any],
    document_service: NamedDependency[DocumentService],
    d: FromQuery[str] = "",
) -> Template:
    """Anyone may check a document by its QR code (or the text under it)."""
    check = document_service.verify(d) if d.strip() else None
    notice = check.payload.notice if check and check.payload else None
    return page(
        request,
        "verify.html",
        check=check,
        payload=check.payload if check else None,
        notice=notice,
        fields=ordered_fields(notice) if notice else [],
        d=d.strip(),
        valid=Verdict.VALID,
    )


class VerifyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict on a document and what it says."""

    verdict: Verdict
    valid: bool
    message: str
    issuer_name: str | None
    document: DocumentPayload | None


@get("/api/v1/documents/verify", summary="文书验真（扫码验证签名与签发机构）")
async def verify_document_api(
    document_service: NamedDependency[DocumentService], d: FromQuery[str]
) -> VerifyAnswer:
    """Check a signed notice or certificate from the text of its QR code; no log-in needed.

    Reason codes: ``valid``, ``malformed``, ``unknown_issuer``, ``revoked_issuer``,
    ``bad_signature``. The answer is 200 in every case: the verdict is the result.
    """
    check = document_service.verify(d)
    return VerifyAnswer(
        verdict=check.verdict,
        valid=check.valid,
        message=check.message,
        issuer_name=check.issuer_name,
        document=check.payload,
    )

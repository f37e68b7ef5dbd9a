"""Public verification at the county (no log-in): /verify and its JSON twins.

Any receipt, notice or certificate signed anywhere in the county is checked by its QR text; a
certificate can also be looked up by its number. The document check is the shared
:func:`shared.documents.check_document`, the same one every node's /verify page calls.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from central.api.portal import client_of
from central.services.portal import LookupLimitedError
from central.services.verification import CertificateLookup, VerificationService
from shared.documents import DocumentPayload, Verdict
from shared.errors import PlatformError, ValidationError
from shared.notices import ordered_fields
from web.pages import page
from web.problems import status_for


@get("/verify", include_in_schema=False)
async def verify_page(
    request: Request[Any, Any, Any],
    verification_service: NamedDependency[VerificationService],
    d: FromQuery[str] = "",
    no: FromQuery[str] = "",
) -> Response[Any]:
    """Check a document by its QR text, or a certificate by its number."""
    check = await verification_service.verify(d) if d.strip() else None
    notice = check.payload.notice if check and check.payload else None
    lookup: CertificateLookup | None = None
    problems: list[str] = []
    status = 200
    retry_after: int | None = None
    if no.strip():
        try:
            lookup = await verification_service.certificate(no, client_of(request))
        except PlatformError as exc:
            problems = list(exc.problems) if isinstance(exc, ValidationError) else [exc.message]
            if isinstance(exc, LookupLimitedError):
                status, retry_after = 429, exc.retry_after
            else:
                status = status_for(exc)
    response = page(
        request,
        "verify_page.html",
        check=check,
        payload=check.payload if check else None,
        notice=notice,
        fields=ordered_fields(notice) if notice else [],
        d=d.strip(),
        no=no.strip(),
        valid=Verdict.VALID,
        lookup=lookup,
        problems=problems,
    )
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class VerifyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict on a document and what it says."""

    verdict: Verdict
    valid: bool
    message: str
    issuer_name: str | None
    document: DocumentPayload | None


@get("/api/v1/documents/verify", summary="文书验真（全县任一节点或县中心签发的文书）")
async def verify_document_api(
    verification_service: NamedDependency[VerificationService], d: FromQuery[str]
) -> VerifyAnswer:
    """Check a signed receipt, notice or certificate from the text of its QR code.

    Reason codes: ``valid``, ``malformed``, ``unknown_issuer``, ``revoked_issuer``,
    ``bad_signature``. The answer is 200 in every case: the verdict is the result.
    """
    check = await verification_service.verify(d)
    return VerifyAnswer(
        verdict=check.verdict,
        valid=check.valid,
        message=check.message,
        issuer_name=check.issuer_name,
        document=check.payload,
    )


@get("/api/v1/certificates/{number:str}", summary="证照编号查询（全县）")
async def certificate_lookup_api(
    request: Request[Any, Any, Any],
    verification_service: NamedDependency[VerificationService],
    number: FromPath[str],
) -> CertificateLookup:
    """Whether a certificate of this number was issued in the county, by whom, for what item,
    until when, and whether its case or issuer was withdrawn since. Unknown numbers count
    against the client's lookup limit (404, then 429)."""
    return await verification_service.certificate(number, client_of(request))


ROUTES = [verify_page, verify_document_api, certificate_lookup_api]

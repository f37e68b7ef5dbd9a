"""County-signed e-certificates: issue and print (approver or clerk, within their subtree)."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template

from central.api.auth import require_user, requires_role
from central.services.accounts import CountyRole
from central.services.certificates import CertificateIn, CertificateService, CertificateView
from shared.documents import DocumentPayload
from shared.errors import NotFoundError, PlatformError, ValidationError
from web.pages import page
from web.problems import status_for

_STAFF = requires_role(CountyRole.APPROVER, CountyRole.CLERK)


class CertificateOut(msgspec.Struct, frozen=True, kw_only=True):
    """An issued county certificate: number, signed content and the QR text."""

    certificate_no: str
    case_id: str
    document: DocumentPayload
    compact: str
    verify_url: str


def _out(view: CertificateView) -> CertificateOut:
    return CertificateOut(
        certificate_no=view.certificate_no,
        case_id=view.case_id,
        document=view.payload,
        compact=view.compact,
        verify_url=view.verify_url,
    )


@get("/cases/{case_id:str}/certificate", include_in_schema=False, guards=[_STAFF])
async def certificate_page(
    request: Request[Any, Any, Any],
    certificate_service: NamedDependency[CertificateService],
    case_id: FromPath[str],
) -> Template:
    """The certificate on an A4 page, or the form to issue it."""
    view = await certificate_service.of_case(case_id, require_user(request))
    return page(request, "certificate.html", view=view, case_id=case_id, form={}, problems=[])


@post("/cases/{case_id:str}/certificate", include_in_schema=False, guards=[_STAFF])
async def issue_certificate_page(
    request: Request[Any, Any, Any],
    certificate_service: NamedDependency[CertificateService],
    case_id: FromPath[str],
) -> Response[Any]:
    """Issue from the form, then show the printable certificate."""
    form = await request.form()
    typed = {k: str(form.get(k, "") or "") for k in ("title", "valid_until", "request_id")}
    problems: list[str] = []
    valid_until: date | None = None
    if typed["valid_until"].strip():
        try:
            valid_until = date.fromisoformat(typed["valid_until"].strip())
        except ValueError:
            problems.append("有效期请按 年-月-日 填写，如 2031-03-01")
    if not problems:
        data = CertificateIn(
            title=typed["title"], valid_until=valid_until, request_id=typed["request_id"]
        )
        try:
            await certificate_service.issue(case_id, data, require_user(request))
        except PlatformError as exc:
            if not isinstance(exc, ValidationError) and status_for(exc) in (403, 404):
                raise
            problems = list(exc.problems) if isinstance(exc, ValidationError) else [exc.message]
            status = status_for(exc)
        else:
            return Redirect(f"/cases/{case_id}/certificate", status_code=303)
    else:
        status = 422
    response = page(
        request, "certificate.html", view=None, case_id=case_id, form=typed, problems=problems
    )
    response.status_code = status
    return response


@post(
    "/api/v1/cases/{case_id:str}/certificate",
    summary="县中心制发电子证照（县级签名）",
    guards=[_STAFF],
    status_code=201,
)
async def issue_certificate_api(
    request: Request[Any, Any, Any],
    certificate_service: NamedDependency[CertificateService],
    case_id: FromPath[str],
    data: JSONBody[CertificateIn],
) -> CertificateOut:
    """Issue the county certificate of an approved case; again gives the same certificate."""
    return _out(await certificate_service.issue(case_id, data, require_user(request)))


@get(
    "/api/v1/cases/{case_id:str}/certificate",
    summary="县中心电子证照",
    guards=[_STAFF],
)
async def get_certificate_api(
    request: Request[Any, Any, Any],
    certificate_service: NamedDependency[CertificateService],
    case_id: FromPath[str],
) -> CertificateOut:
    """The county certificate of a case (404 when not issued)."""
    view = await certificate_service.of_case(case_id, require_user(request))
    if view is None:
        raise NotFoundError("该办件尚未由县中心制发证照。", code="certificate_not_issued")
    return _out(view)


ROUTES = [certificate_page, issue_certificate_page, issue_certificate_api, get_certificate_api]

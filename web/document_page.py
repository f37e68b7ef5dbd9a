"""The A4 print page of a signed notice or certificate, the same at a node and at the county."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from casework.documents import DocumentView
from shared.documents import DocumentKind
from shared.errors import NotFoundError
from shared.notices import ordered_fields
from web.pages import page


def document_kind(kind: str) -> DocumentKind:
    """The kind named in a print URL.

    Raises:
        NotFoundError: no such kind of document.
    """
    try:
        return DocumentKind(kind)
    except ValueError:
        raise NotFoundError(f"没有“{kind}”这种文书。", code="document_kind_unknown") from None


def render_document(request: Request[Any, Any, Any], view: DocumentView, case_id: str) -> Template:
    """``web/templates/document.html`` for ``view``: only the document is printed."""
    notice = view.payload.notice
    return page(
        request,
        "document.html",
        view=view,
        payload=view.payload,
        notice=notice,
        fields=ordered_fields(notice) if notice else [],
        certificate=view.payload.certificate,
        case_id=case_id,
    )

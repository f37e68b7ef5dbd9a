"""Catalog administration over HTTP: the JSON API under ``/api/v1/admin/catalog`` and the pages
under ``/admin/catalog``.

Reading is open to administrators and catalog reviewers, editing and publishing to
administrators, reviewing to catalog reviewers (and administrators, as long as they did not
submit the draft themselves). Only accounts of the county itself (not of a township subtree)
may touch the county catalog. Forms that fail come back with what was typed and every problem.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from central.api.auth import require_user, requires_role
from central.api.catalog_admin_texts import audit_lines
from central.services.accounts import CountyRole, CountyUser
from central.services.catalog_admin import (
    CatalogAdminService,
    Draft,
    DraftState,
    Published,
)
from central.services.catalog_admin_forms import (
    CalendarForm,
    DelegationForm,
    ItemForm,
    calendar_form_of,
    calendar_year_from_form,
    delegation_from_form,
    form_of,
    item_from_form,
    parse_revision,
)
from shared.calendar_data import CalendarYear
from shared.catalog import Item, ItemType, MaterialForm, MaterialRequirement, MaterialSource
from shared.catalog_diff import ReleaseDiff
from shared.delegation import Delegation, DelegationMode, Tier
from shared.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PlatformError,
    ValidationError,
)
from shared.registry import COUNTY_NODE_ID
from shared.terms import LimitUnit, ProcedureKind, ProjectType
from web.i18n import language_of, translator
from web.pages import page

READERS = [requires_role(CountyRole.ADMIN, CountyRole.CATALOG_REVIEWER)]
EDITORS = [requires_role(CountyRole.ADMIN)]
REVIEWERS = [requires_role(CountyRole.CATALOG_REVIEWER, CountyRole.ADMIN)]
API = "/api/v1/admin/catalog"
PAGES = "/admin/catalog"


def _actor(request: Request[Any, Any, Any]) -> str:
    """The caller's username, refusing accounts scoped to a township subtree."""
    user: CountyUser = require_user(request)
    if user.home_node != COUNTY_NODE_ID:
        raise PermissionDeniedError(
            "只有县级账号可以管理全县事项目录；乡镇范围的账号不能修改县目录。",
            code="county_scope_required",
        )
    return user.username


# ------------------------------------------------------------------------ JSON API


class DraftView(msgspec.Struct, frozen=True, kw_only=True):
    """A draft as the API shows it."""

    id: int
    state: str
    state_label: str
    revision: int
    base_version: int | None
    created_by: str
    submitted_by: str | None
    reviewed_by: str | None
    review_comment: str
    published_version: int | None
    item_codes: tuple[str, ...]
    calendar_years: tuple[int, ...]
    problems: list[str]


class ReviewBody(msgspec.Struct, frozen=True, kw_only=True):
    """Approve, or return with a comment."""

    approve: bool
    comment: str = ""
    revision: int | None = None


class RevokeBody(msgspec.Struct, frozen=True, kw_only=True):
    """Take a delegation back from a day, with a reason."""

    effective_on: date
    reason: str


class PublishedView(msgspec.Struct, frozen=True, kw_only=True):
    """The release made, and the deadlines a calendar change moved."""

    draft: DraftView
    version: int
    content_hash: str
    recomputed_cases: int
    due_changes: int


class ReleaseRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the release history."""

    version: int
    published_at: str
    published_by: str
    content_hash: str


def _view(draft: Draft) -> DraftView:
    r = draft.record
    return DraftView(
        id=r.id,
        state=draft.state.value,
        state_label=draft.state.label,
        revision=r.revision,
        base_version=r.base_version,
        created_by=r.created_by,
        submitted_by=r.submitted_by,
        reviewed_by=r.reviewed_by,
        review_comment=r.review_comment,
        published_version=r.published_version,
        item_codes=tuple(i.code for i in draft.content.catalog.items),
        calendar_years=tuple(y.year for y in draft.content.calendar),
        problems=draft.problems(),
    )


def _published_view(done: Published) -> PublishedView:
    report = done.recompute
    return PublishedView(
        draft=_view(done.draft),
        version=done.release.version,
        content_hash=done.release.content_hash,
        recomputed_cases=report.rows_written if report else 0,
        due_changes=len(report.due_changes) if report else 0,
    )


@get(f"{API}/draft", summary="当前目录草稿", guards=READERS)
async def api_open_draft(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> DraftView:
    """The draft in progress (404 when there is none)."""
    _actor(request)
    draft = await catalog_admin_service.open_draft()
    if draft is None:
        raise NotFoundError("目前没有正在编辑的目录草稿。", code="draft_not_found")
    return _view(draft)


@post(f"{API}/drafts", summary="从现行目录开始草稿", guards=EDITORS, status_code=201)
async def api_start_draft(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> DraftView:
    """Start a draft, or answer the one in progress."""
    return _view(await catalog_admin_service.start_draft(by=_actor(request)))


@get(f"{API}/drafts/{{draft_id:int}}", summary="目录草稿详情", guards=READERS)
async def api_draft(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """One draft with its problems."""
    _actor(request)
    return _view(await catalog_admin_service.draft(draft_id))


@get(f"{API}/drafts/{{draft_id:int}}/items/{{code:str}}", summary="草稿中的事项", guards=READERS)
async def api_draft_item(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Item:
    """One item of a draft, with every element."""
    _actor(request)
    return (await catalog_admin_service.draft(draft_id)).content.catalog.item(code)


class SavedView(msgspec.Struct, frozen=True, kw_only=True):
    """An item written to a draft and the problems still naming it."""

    draft: DraftView
    item: Item
    problems: list[str]


@post(f"{API}/drafts/{{draft_id:int}}/items", summary="新增事项", guards=EDITORS, status_code=201)
async def api_create_item(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    data: JSONBody[Item],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> SavedView:
    """Add an item (kept even with rule problems, which are listed)."""
    saved = await catalog_admin_service.save_item(draft_id, data, by=_actor(request))
    return SavedView(draft=_view(saved.draft), item=saved.item, problems=saved.problems)


@put(f"{API}/drafts/{{draft_id:int}}/items/{{code:str}}", summary="修改事项", guards=EDITORS)
async def api_replace_item(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    data: JSONBody[Item],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> SavedView:
    """Replace an item with every element given."""
    saved = await catalog_admin_service.save_item(
        draft_id, data, by=_actor(request), replacing=code
    )
    return SavedView(draft=_view(saved.draft), item=saved.item, problems=saved.problems)


@delete(
    f"{API}/drafts/{{draft_id:int}}/items/{{code:str}}",
    summary="删除事项",
    guards=EDITORS,
    status_code=200,
)
async def api_remove_item(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Take an item out of the draft."""
    return _view(await catalog_admin_service.remove_item(draft_id, code, by=_actor(request)))


@post(
    f"{API}/drafts/{{draft_id:int}}/items/{{code:str}}/delegations",
    summary="下放事项",
    guards=EDITORS,
    status_code=201,
)
async def api_delegate(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    data: JSONBody[Delegation],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Push an item down to a tier or named nodes from an effective date."""
    return _view(await catalog_admin_service.delegate(draft_id, code, data, by=_actor(request)))


@post(
    f"{API}/drafts/{{draft_id:int}}/items/{{code:str}}/delegations/{{index:int}}/revoke",
    summary="撤销下放",
    guards=EDITORS,
    status_code=200,
)
async def api_revoke(
    request: Request[Any, Any, Any],
    *,
    draft_id: FromPath[int],
    code: FromPath[str],
    index: FromPath[int],
    data: JSONBody[RevokeBody],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Take back the item's ``index``-th delegation (from 0)."""
    return _view(
        await catalog_admin_service.revoke(
            draft_id,
            code,
            index,
            effective_on=data.effective_on,
            reason=data.reason,
            by=_actor(request),
        )
    )


@put(f"{API}/drafts/{{draft_id:int}}/calendar", summary="录入年度放假安排", guards=EDITORS)
async def api_calendar_year(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    data: JSONBody[CalendarYear],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Enter or correct one year's holiday ranges and make-up working days."""
    return _view(await catalog_admin_service.set_calendar_year(draft_id, data, by=_actor(request)))


@post(f"{API}/drafts/{{draft_id:int}}/submit", summary="提交审核", guards=EDITORS, status_code=200)
async def api_submit(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Hand the draft to a reviewer."""
    return _view(await catalog_admin_service.submit(draft_id, by=_actor(request)))


@post(f"{API}/drafts/{{draft_id:int}}/review", summary="审核", guards=REVIEWERS, status_code=200)
async def api_review(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    data: JSONBody[ReviewBody],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> DraftView:
    """Approve or return the submitted draft (not by its submitter)."""
    return _view(
        await catalog_admin_service.review(
            draft_id,
            approve=data.approve,
            comment=data.comment,
            by=_actor(request),
            revision=data.revision,
        )
    )


@post(f"{API}/drafts/{{draft_id:int}}/publish", summary="发布", guards=EDITORS, status_code=200)
async def api_publish(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> PublishedView:
    """Publish the approved draft as a new signed release."""
    return _published_view(await catalog_admin_service.publish(draft_id, by=_actor(request)))


@get(f"{API}/releases", summary="目录发布历史", guards=READERS)
async def api_releases(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> list[ReleaseRow]:
    """Every release, newest first."""
    _actor(request)
    return [
        ReleaseRow(
            version=h.version,
            published_at=h.published_at.isoformat(),
            published_by=h.published_by,
            content_hash=h.content_hash,
        )
        for h in await catalog_admin_service.history()
    ]


@get(f"{API}/releases/diff", summary="两个版本的差异", guards=READERS)
async def api_release_diff(
    request: Request[Any, Any, Any],
    old: FromQuery[int],
    new: FromQuery[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> ReleaseDiff:
    """Items, delegations, calendar days and nodes that differ between two versions."""
    _actor(request)
    return await catalog_admin_service.diff(old, new)


# --------------------------------------------------------------------------- pages


def _problems_of(exc: PlatformError) -> list[str]:
    return exc.problems if isinstance(exc, ValidationError) else [exc.message]


def _status_of(exc: PlatformError) -> int:
    return 422 if isinstance(exc, ValidationError) else 409


def _fields(form: Any, struct: type[msgspec.Struct]) -> dict[str, str]:
    return {f: str(form.get(f, "")) for f in struct.__struct_fields__ if f in form}


def _choices() -> dict[str, Any]:
    return {
        "item_types": list(ItemType),
        "tiers": list(Tier),
        "project_types": list(ProjectType),
        "units": list(LimitUnit),
        "modes": list(DelegationMode),
        "material_forms": list(MaterialForm),
        "requirements": list(MaterialRequirement),
        "sources": list(MaterialSource),
        "procedure_kinds": list(ProcedureKind),
    }


@get(PAGES, include_in_schema=False, guards=READERS)
async def overview_page(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> Template:
    """The draft in progress, recent drafts and the way to start one."""
    _actor(request)
    return page(
        request,
        "admin_catalog.html",
        draft=await catalog_admin_service.open_draft(),
        recent=await catalog_admin_service.recent(),
        user=require_user(request),
    )


@post(f"{PAGES}/drafts", include_in_schema=False, guards=EDITORS, status_code=303)
async def start_draft_form(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> Redirect:
    """Start (or reopen) the draft."""
    draft = await catalog_admin_service.start_draft(by=_actor(request))
    return Redirect(f"{PAGES}/drafts/{draft.id}", status_code=303)


async def _draft_page(
    request: Request[Any, Any, Any],
    service: CatalogAdminService,
    draft_id: FromPath[int],
    *,
    problems: list[str] | None = None,
    status: int = 200,
    done: str = "",
) -> Template:
    draft = await service.draft(draft_id)
    t = translator(language_of(request))
    response = page(
        request,
        "admin_catalog_draft.html",
        draft=draft,
        states=DraftState,
        draft_problems=draft.problems(),
        changes=await service.draft_changes(draft_id),
        audit=audit_lines(await service.audit(draft_id), t),
        problems=problems or [],
        done=done or request.query_params.get("done", ""),
        user=require_user(request),
        comment=str(request.query_params.get("comment", "")),
    )
    response.status_code = status
    return response


@get(f"{PAGES}/drafts/{{draft_id:int}}", include_in_schema=False, guards=READERS)
async def draft_page(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Template:
    """A draft: items, problems, what it changes, review and its history."""
    _actor(request)
    return await _draft_page(request, catalog_admin_service, draft_id)


async def _workflow(
    request: Request[Any, Any, Any],
    service: CatalogAdminService,
    draft_id: FromPath[int],
    action: str,
) -> Response[Any]:
    form = await request.form()
    by = _actor(request)
    revision = parse_revision(str(form.get("revision", "")))
    try:
        if action == "submit":
            await service.submit(draft_id, by=by, revision=revision)
        elif action == "review":
            await service.review(
                draft_id,
                approve=str(form.get("decision", "")) == "approve",
                comment=str(form.get("comment", "")),
                by=by,
                revision=revision,
            )
        elif action == "discard":
            await service.discard(draft_id, by=by, revision=revision)
        else:
            await service.publish(draft_id, by=by, revision=revision)
    except (ValidationError, ConflictError) as exc:
        return await _draft_page(
            request, service, draft_id, problems=_problems_of(exc), status=_status_of(exc)
        )
    return Redirect(f"{PAGES}/drafts/{draft_id}?done={action}", status_code=303)


@post(f"{PAGES}/drafts/{{draft_id:int}}/submit", include_in_schema=False, guards=EDITORS)
async def submit_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Submit for review."""
    return await _workflow(request, catalog_admin_service, draft_id, "submit")


@post(f"{PAGES}/drafts/{{draft_id:int}}/review", include_in_schema=False, guards=REVIEWERS)
async def review_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Approve or return."""
    return await _workflow(request, catalog_admin_service, draft_id, "review")


@post(f"{PAGES}/drafts/{{draft_id:int}}/publish", include_in_schema=False, guards=EDITORS)
async def publish_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Publish the approved draft."""
    return await _workflow(request, catalog_admin_service, draft_id, "publish")


@post(f"{PAGES}/drafts/{{draft_id:int}}/discard", include_in_schema=False, guards=EDITORS)
async def discard_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Give the draft up."""
    return await _workflow(request, catalog_admin_service, draft_id, "discard")


async def _item_page(
    request: Request[Any, Any, Any],
    service: CatalogAdminService,
    draft_id: FromPath[int],
    *,
    code: str | None,
    form: ItemForm,
    problems: list[str] | None = None,
    delegation_form: DelegationForm | None = None,
    status: int = 200,
) -> Template:
    draft = await service.draft(draft_id)
    item = None
    if code is not None:
        item = next((i for i in draft.content.catalog.items if i.code == code), None)
    response = page(
        request,
        "admin_catalog_item.html",
        draft=draft,
        code=code,
        item=item,
        form=form,
        delegation=delegation_form or DelegationForm(),
        problems=problems or [],
        departments=draft.content.catalog.departments,
        done=request.query_params.get("done", ""),
        **_choices(),
    )
    response.status_code = status
    return response


@get(f"{PAGES}/drafts/{{draft_id:int}}/items/new", include_in_schema=False, guards=EDITORS)
async def new_item_page(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Template:
    """An empty item form."""
    _actor(request)
    return await _item_page(request, catalog_admin_service, draft_id, code=None, form=ItemForm())


@get(f"{PAGES}/drafts/{{draft_id:int}}/items/{{code:str}}", include_in_schema=False, guards=READERS)
async def item_page(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Template:
    """An item's form with its delegations; the problems naming it are shown."""
    _actor(request)
    draft = await catalog_admin_service.draft(draft_id)
    item = draft.content.catalog.item(code)
    problems = [p for p in draft.problems() if f" {code} " in p or f" {code}（" in p]
    return await _item_page(
        request, catalog_admin_service, draft_id, code=code, form=form_of(item), problems=problems
    )


async def _save_item(
    request: Request[Any, Any, Any], service: CatalogAdminService, draft_id: int, code: str | None
) -> Response[Any]:
    data = await request.form()
    form = ItemForm(**_fields(data, ItemForm))
    by = _actor(request)
    try:
        draft = await service.draft(draft_id)
        existing = (
            next((i for i in draft.content.catalog.items if i.code == code), None) if code else None
        )
        item = item_from_form(form, delegations=existing.delegations if existing else ())
        saved = await service.save_item(
            draft_id, item, by=by, replacing=code, revision=parse_revision(form.revision)
        )
    except (ValidationError, ConflictError) as exc:
        return await _item_page(
            request,
            service,
            draft_id,
            code=code,
            form=form,
            problems=_problems_of(exc),
            status=_status_of(exc),
        )
    done = "saved_with_problems" if saved.problems else "saved"
    return Redirect(f"{PAGES}/drafts/{draft_id}/items/{item.code}?done={done}", status_code=303)


@post(f"{PAGES}/drafts/{{draft_id:int}}/items", include_in_schema=False, guards=EDITORS)
async def create_item_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Add an item from the form."""
    return await _save_item(request, catalog_admin_service, draft_id, None)


@post(
    f"{PAGES}/drafts/{{draft_id:int}}/items/{{code:str}}", include_in_schema=False, guards=EDITORS
)
async def change_item_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Save the item form."""
    return await _save_item(request, catalog_admin_service, draft_id, code)


@post(
    f"{PAGES}/drafts/{{draft_id:int}}/items/{{code:str}}/remove",
    include_in_schema=False,
    guards=EDITORS,
)
async def remove_item_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Remove the item."""
    form = await request.form()
    try:
        await catalog_admin_service.remove_item(
            draft_id,
            code,
            by=_actor(request),
            revision=parse_revision(str(form.get("revision", ""))),
        )
    except ConflictError as exc:
        return await _draft_page(
            request, catalog_admin_service, draft_id, problems=_problems_of(exc), status=409
        )
    return Redirect(f"{PAGES}/drafts/{draft_id}?done=removed", status_code=303)


@post(
    f"{PAGES}/drafts/{{draft_id:int}}/items/{{code:str}}/delegations",
    include_in_schema=False,
    guards=EDITORS,
)
async def delegate_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Add a delegation from the form on the item page."""
    data = await request.form()
    form = DelegationForm(**_fields(data, DelegationForm))
    try:
        await catalog_admin_service.delegate(
            draft_id,
            code,
            delegation_from_form(form),
            by=_actor(request),
            revision=parse_revision(form.revision),
        )
    except (ValidationError, ConflictError) as exc:
        item = (await catalog_admin_service.draft(draft_id)).content.catalog.item(code)
        return await _item_page(
            request,
            catalog_admin_service,
            draft_id,
            code=code,
            form=form_of(item),
            delegation_form=form,
            problems=_problems_of(exc),
            status=_status_of(exc),
        )
    return Redirect(f"{PAGES}/drafts/{draft_id}/items/{code}?done=delegated", status_code=303)


@post(
    f"{PAGES}/drafts/{{draft_id:int}}/items/{{code:str}}/delegations/{{index:int}}/revoke",
    include_in_schema=False,
    guards=EDITORS,
)
async def revoke_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    code: FromPath[str],
    index: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Revoke a delegation from a date."""
    data = await request.form()
    try:
        text = str(data.get("effective_on", "")).strip()
        try:
            effective = date.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError(
                [f"撤销生效日期应为 年-月-日 格式（如 2026-07-01），现在是“{text}”"]
            ) from exc
        await catalog_admin_service.revoke(
            draft_id,
            code,
            index,
            effective_on=effective,
            reason=str(data.get("reason", "")),
            by=_actor(request),
            revision=parse_revision(str(data.get("revision", ""))),
        )
    except (ValidationError, ConflictError) as exc:
        item = (await catalog_admin_service.draft(draft_id)).content.catalog.item(code)
        return await _item_page(
            request,
            catalog_admin_service,
            draft_id,
            code=code,
            form=form_of(item),
            problems=_problems_of(exc),
            status=_status_of(exc),
        )
    return Redirect(f"{PAGES}/drafts/{draft_id}/items/{code}?done=revoked", status_code=303)


async def _calendar_page(
    request: Request[Any, Any, Any],
    service: CatalogAdminService,
    draft_id: FromPath[int],
    *,
    form: CalendarForm | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Template:
    draft = await service.draft(draft_id)
    years = draft.content.calendar
    if form is None:
        asked = request.query_params.get("year")
        chosen = next((y for y in years if str(y.year) == asked), None)
        form = calendar_form_of(chosen) if chosen else CalendarForm(year=str(years[-1].year + 1))
    response = page(
        request,
        "admin_catalog_calendar.html",
        draft=draft,
        years=years,
        form=form,
        problems=problems or [],
        done=request.query_params.get("done", ""),
    )
    response.status_code = status
    return response


@get(f"{PAGES}/drafts/{{draft_id:int}}/calendar", include_in_schema=False, guards=READERS)
async def calendar_page(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Template:
    """The calendar editor: next year's notice as holiday ranges and make-up days."""
    _actor(request)
    return await _calendar_page(request, catalog_admin_service, draft_id)


@post(f"{PAGES}/drafts/{{draft_id:int}}/calendar", include_in_schema=False, guards=EDITORS)
async def calendar_form(
    request: Request[Any, Any, Any],
    draft_id: FromPath[int],
    catalog_admin_service: NamedDependency[CatalogAdminService],
) -> Response[Any]:
    """Save one year from the editor."""
    data = await request.form()
    form = CalendarForm(**_fields(data, CalendarForm))
    try:
        year = calendar_year_from_form(form)
        await catalog_admin_service.set_calendar_year(
            draft_id, year, by=_actor(request), revision=parse_revision(form.revision)
        )
    except (ValidationError, ConflictError) as exc:
        return await _calendar_page(
            request,
            catalog_admin_service,
            draft_id,
            form=form,
            problems=_problems_of(exc),
            status=_status_of(exc),
        )
    return Redirect(
        f"{PAGES}/drafts/{draft_id}/calendar?year={year.year}&done=saved", status_code=303
    )


@get(f"{PAGES}/releases", include_in_schema=False, guards=READERS)
async def releases_page(
    request: Request[Any, Any, Any], catalog_admin_service: NamedDependency[CatalogAdminService]
) -> Template:
    """Release history, and the difference between two chosen versions."""
    _actor(request)
    history = await catalog_admin_service.history()
    diff: ReleaseDiff | None = None
    old = request.query_params.get("old")
    new = request.query_params.get("new")
    if old and new and old.isdigit() and new.isdigit():
        diff = await catalog_admin_service.diff(int(old), int(new))
    return page(
        request,
        "admin_catalog_releases.html",
        history=history,
        diff=diff,
        old=old or "",
        new=new or "",
    )


ROUTES = [
    api_open_draft,
    api_start_draft,
    api_draft,
    api_draft_item,
    api_create_item,
    api_replace_item,
    api_remove_item,
    api_delegate,
    api_revoke,
    api_calendar_year,
    api_submit,
    api_review,
    api_publish,
    api_releases,
    api_release_diff,
    overview_page,
    start_draft_form,
    draft_page,
    submit_form,
    review_form,
    publish_form,
    discard_form,
    new_item_page,
    item_page,
    create_item_form,
    change_item_form,
    remove_item_form,
    delegate_form,
    revoke_form,
    calendar_page,
    calendar_form,
    releases_page,
]

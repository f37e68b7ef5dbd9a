"""Catalog administration: a draft of the next release, its review, and publishing it.

An administrator starts a draft from the release in force, edits items, delegations and next
year's calendar in it, and submits it; a catalog reviewer (another account) approves or returns
it with a comment; an administrator then publishes it as a new signed release. Every step is an
audit line.

Items may be saved with rule problems (the draft keeps what was typed and lists what is wrong);
input that cannot even be read as an item, a delegation or a calendar year is refused with every
problem in Chinese. Publishing refuses an unsound catalog with the whole list, and refuses a
draft whose base is no longer the catalog in force (someone published in between): that draft
is stale and must be started again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import msgspec

from central.db.catalog_admin_tables import (
    AuditEntry,
    CatalogAdminStore,
    DraftRecord,
    ReleaseSummary,
)
from central.services.calendar_recompute import DeadlineRecompute, RecomputeReport
from central.services.releases import CurrentRelease, ReleaseService
from shared.calendar import CHINA_TZ, WorkingCalendar
from shared.calendar_data import CalendarYear
from shared.catalog import (
    Catalog,
    Item,
    ItemType,
)
from shared.catalog_diff import ReleaseDiff, Snapshot, diff_releases
from shared.delegation import Delegation, delegation_problems
from shared.digest import sha256_hex
from shared.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)


class DraftState(StrEnum):
    """Where a draft stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    DISCARDED = "discarded"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _STATE_LABELS[self]

    @property
    def editable(self) -> bool:
        """Whether items, delegations and the calendar may still change."""
        return self in (DraftState.DRAFT, DraftState.RETURNED)


_STATE_LABELS = {
    DraftState.DRAFT: "编辑中",
    DraftState.SUBMITTED: "待审核",
    DraftState.RETURNED: "已退回修改",
    DraftState.APPROVED: "审核通过，待发布",
    DraftState.PUBLISHING: "正在发布",
    DraftState.PUBLISHED: "已发布",
    DraftState.DISCARDED: "已放弃",
}
OPEN_STATES = (
    DraftState.DRAFT,
    DraftState.SUBMITTED,
    DraftState.RETURNED,
    DraftState.APPROVED,
    DraftState.PUBLISHING,
)


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    """A delegation taken back in this draft, and from which day."""

    item_code: str
    delegation: Delegation
    effective_on: date
    reason: str


class DraftContent(msgspec.Struct, frozen=True, kw_only=True):
    """The working copy: the catalog and calendar of the next release."""

    catalog: Catalog
    calendar: tuple[CalendarYear, ...]
    revocations: tuple[Revocation, ...] = ()


_CONTENT = msgspec.json.Decoder(DraftContent)


@dataclass(frozen=True)
class Draft:
    """A draft with its content decoded."""

    record: DraftRecord
    content: DraftContent

    @property
    def id(self) -> int:
        """The draft's number."""
        return self.record.id

    @property
    def state(self) -> DraftState:
        """Where the draft stands."""
        return DraftState(self.record.state)

    @property
    def revision(self) -> int:
        """Changes so far; a write names the revision it read."""
        return self.record.revision

    def problems(self) -> list[str]:
        """Every problem that would stop this draft from being published."""
        return draft_problems(self.content)


@dataclass(frozen=True)
class ItemSaved:
    """An item written to a draft, and what is still wrong with it."""

    draft: Draft
    item: Item
    problems: list[str]


@dataclass(frozen=True)
class DraftChanges:
    """What a draft changes, and the versions compared.

    ``new_version`` is the release the draft became (None while unpublished); ``old_version``
    is the release it is compared with (None when nothing was ever published).
    """

    diff: ReleaseDiff
    old_version: int | None
    new_version: int | None


@dataclass(frozen=True)
class Published:
    """A published draft: the release made and the deadlines a calendar change moved."""

    draft: Draft
    release: CurrentRelease
    recompute: RecomputeReport | None


def content_digest(catalog: Catalog, calendar: tuple[CalendarYear, ...]) -> str:
    """Identity of the parts a draft edits (the registry changes on its own)."""
    return sha256_hex(msgspec.json.encode(catalog) + b"\x00" + msgspec.json.encode(calendar))


def draft_problems(content: DraftContent, today: date | None = None) -> list[str]:
    """Catalog and calendar problems of a draft, and revocations dated after ``today``."""
    problems = [f"事项目录：{p}" for p in content.catalog.validate()]
    try:
        WorkingCalendar(content.calendar)
    except ValidationError as exc:
        problems += [f"工作日历：{p}" for p in exc.problems]
    if today is not None:
        for r in content.revocations:
            if r.effective_on > today:
                problems.append(
                    f"事项 {r.item_code} 的下放撤销定于 {r.effective_on} 生效，"
                    "在此之前发布会提前终止该下放；请在生效当日或之后发布"
                )
    return problems


class CatalogAdminService:
    """Drafts, review, publishing and release history (see the module docstring)."""

    def __init__(
        self,
        store: CatalogAdminStore,
        releases: ReleaseService,
        recompute: DeadlineRecompute | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._releases = releases
        self._recompute = recompute
        self._clock = clock

    # ------------------------------------------------------------------ reading

    async def open_draft(self) -> Draft | None:
        """The draft in progress, if any (there is at most one)."""
        found = await self._store.drafts_in([s.value for s in OPEN_STATES])
        return _decoded(found[0]) if found else None

    async def draft(self, draft_id: int) -> Draft:
        """One draft.

        Raises:
            NotFoundError: no such draft.
        """
        record = await self._store.draft(draft_id)
        if record is None:
            raise NotFoundError(f"没有编号为 {draft_id} 的目录草稿。", code="draft_not_found")
        return _decoded(record)

    async def recent(self) -> list[Draft]:
        """The newest drafts, whatever their state."""
        return [_decoded(r) for r in await self._store.recent_drafts()]

    async def audit(self, draft_id: int | None = None) -> list[AuditEntry]:
        """Audit lines, newest first (of one draft, or all)."""
        return await self._store.audit(draft_id=draft_id)

    async def history(self) -> list[ReleaseSummary]:
        """Every release, newest first."""
        return await self._store.release_history()

    async def diff(self, old: int, new: int) -> ReleaseDiff:
        """What changed from release ``old`` to release ``new``.

        Raises:
            NotFoundError: either version was never published.
        """
        return diff_releases(await self._snapshot(old), await self._snapshot(new))

    async def draft_changes(self, draft_id: int) -> DraftChanges:
        """What the draft changes: against the release in force while it is unpublished, and
        once published, what its release changed against the version before it.

        Comparing a published draft with the release in force would compare it with itself
        and always show "no change".
        """
        draft = await self.draft(draft_id)
        published = draft.record.published_version
        if published is not None and published > 1:
            return DraftChanges(
                diff=await self.diff(published - 1, published),
                old_version=published - 1,
                new_version=published,
            )
        current = await self._releases.current()
        registry = self._releases.registry_now()
        new = Snapshot(
            catalog=draft.content.catalog, calendar=draft.content.calendar, registry=registry
        )
        if current is None:
            return DraftChanges(diff=diff_releases(new, new), old_version=None, new_version=None)
        return DraftChanges(
            diff=diff_releases(_snapshot_of(current), new),
            old_version=current.version,
            new_version=None,
        )

    # ------------------------------------------------------------------ drafting

    async def start_draft(self, *, by: str) -> Draft:
        """A new draft from the release in force, or the one already in progress.

        Returning the open draft makes a repeated "start" harmless: there is only ever one
        working copy, so two administrators never edit diverging catalogs.

        Raises:
            NotFoundError: nothing has been published yet (import a catalog first).
        """
        existing = await self.open_draft()
        if existing is not None:
            return existing
        current = await self._releases.current()
        if current is None:
            raise NotFoundError(
                "尚未发布事项目录，无法开始草稿。请先用 tongban central import-catalog 导入目录。",
                code="catalog_missing",
            )
        content = DraftContent(catalog=current.catalog, calendar=current.content.calendar)
        now = self._clock()
        draft_id = await self._store.insert_draft(
            DraftRecord(
                id=0,
                state=DraftState.DRAFT.value,
                revision=0,
                base_version=current.version,
                base_digest=content_digest(content.catalog, content.calendar),
                content=msgspec.json.encode(content).decode(),
                created_by=by,
                created_at=now,
                updated_by=by,
                updated_at=now,
                submitted_by=None,
                submitted_at=None,
                reviewed_by=None,
                reviewed_at=None,
                review_comment="",
                published_version=None,
            )
        )
        await self._audit(by, "draft_started", draft_id, f"v{current.version}")
        return await self.draft(draft_id)

    async def save_item(
        self,
        draft_id: int,
        item: Item,
        *,
        by: str,
        replacing: str | None = None,
        revision: int | None = None,
    ) -> ItemSaved:
        """Add ``item`` (``replacing`` None) or replace the item coded ``replacing``.

        The item is kept even when it breaks a catalog rule; the problems that name it come
        back so the form can show them next to what was typed.

        Raises:
            ConflictError: a new item's code is taken, or the draft changed meanwhile.
            NotFoundError: no item ``replacing`` in the draft.
        """
        draft = await self._editable(draft_id, revision)
        items = list(draft.content.catalog.items)
        codes = [i.code for i in items]
        if replacing is None:
            if item.code in codes:
                raise ConflictError(
                    f"草稿中已有事项编号 {item.code}，请换一个编号或编辑原事项。",
                    code="item_code_taken",
                )
            items.append(item)
            action = "item_created"
        else:
            if replacing not in codes:
                raise NotFoundError(f"草稿中没有事项 {replacing}。", code="catalog_item_not_found")
            if item.code != replacing and item.code in codes:
                raise ConflictError(
                    f"草稿中已有事项编号 {item.code}，不能把事项 {replacing} 改成这个编号。",
                    code="item_code_taken",
                )
            items[codes.index(replacing)] = item
            action = "item_changed"
        catalog = msgspec.structs.replace(draft.content.catalog, items=tuple(items))
        saved = await self._write(
            draft, msgspec.structs.replace(draft.content, catalog=catalog), by=by
        )
        await self._audit(by, action, draft_id, item.code)
        return ItemSaved(saved, item, _item_problems(catalog, item.code))

    async def remove_item(
        self, draft_id: int, code: str, *, by: str, revision: int | None = None
    ) -> Draft:
        """Take an item out of the draft.

        Raises:
            NotFoundError: no such item in the draft.
        """
        draft = await self._editable(draft_id, revision)
        items = tuple(i for i in draft.content.catalog.items if i.code != code)
        if len(items) == len(draft.content.catalog.items):
            raise NotFoundError(f"草稿中没有事项 {code}。", code="catalog_item_not_found")
        catalog = msgspec.structs.replace(draft.content.catalog, items=items)
        saved = await self._write(
            draft, msgspec.structs.replace(draft.content, catalog=catalog), by=by
        )
        await self._audit(by, "item_removed", draft_id, code)
        return saved

    async def delegate(
        self,
        draft_id: int,
        code: str,
        delegation: Delegation,
        *,
        by: str,
        revision: int | None = None,
    ) -> Draft:
        """Push an item down to a tier, or to named nodes of it, from an effective date.

        Raises:
            ValidationError: no effective date, a named node is unknown or of another tier,
                or the item's delegations would break a rule; every problem is listed.
        """
        draft = await self._editable(draft_id, revision)
        item = _item_in(draft.content.catalog, code)
        problems: list[str] = []
        if delegation.effective_from is None:
            problems.append("请填写下放的生效日期")
        registry = self._releases.registry_now()
        for node_id in delegation.node_ids:
            node = registry.get(node_id)
            if node is None:
                problems.append(f"服务点 {node_id} 未在节点登记表中登记")
            elif node.tier is not delegation.tier:
                problems.append(
                    f"服务点 {node_id}（{node.name}）属于{node.tier.label}，"
                    f"不是{delegation.tier.label}"
                )
        if delegation in item.delegations:
            problems.append("这一下放已经存在，无需重复添加")
        delegations = (*item.delegations, delegation)
        problems += delegation_problems(
            item.code, item.home_tier, delegations, is_licence=item.item_type is ItemType.LICENCE
        )
        if problems:
            raise ValidationError(problems)
        content = _replace_item(
            draft.content, msgspec.structs.replace(item, delegations=delegations)
        )
        saved = await self._write(draft, content, by=by)
        await self._audit(by, "delegated", draft_id, code, msgspec.json.encode(delegation))
        return saved

    async def revoke(
        self,
        draft_id: int,
        code: str,
        index: int,
        *,
        effective_on: date,
        reason: str,
        by: str,
        revision: int | None = None,
    ) -> Draft:
        """Take back the item's ``index``-th delegation (from 0) from ``effective_on``.

        The delegation leaves the draft at once; the release that carries the revocation may
        only be published on or after ``effective_on`` (see :func:`draft_problems`).

        Raises:
            ValidationError: no reason, or the date lies in the past.
            NotFoundError: no such item or delegation.
        """
        draft = await self._editable(draft_id, revision)
        item = _item_in(draft.content.catalog, code)
        if not 0 <= index < len(item.delegations):
            raise NotFoundError(
                f"事项 {code} 没有第 {index + 1} 项下放。", code="delegation_not_found"
            )
        problems: list[str] = []
        if not reason.strip():
            problems.append("请填写撤销下放的原因")
        if effective_on < self._today():
            problems.append(f"撤销生效日期 {effective_on} 早于今天，已经过去的日子不能追溯撤销")
        if problems:
            raise ValidationError(problems)
        taken = item.delegations[index]
        kept = item.delegations[:index] + item.delegations[index + 1 :]
        content = _replace_item(draft.content, msgspec.structs.replace(item, delegations=kept))
        revocation = Revocation(
            item_code=code, delegation=taken, effective_on=effective_on, reason=reason.strip()
        )
        content = msgspec.structs.replace(content, revocations=(*content.revocations, revocation))
        saved = await self._write(draft, content, by=by)
        await self._audit(by, "delegation_revoked", draft_id, code, msgspec.json.encode(revocation))
        return saved

    async def set_calendar_year(
        self, draft_id: int, year: CalendarYear, *, by: str, revision: int | None = None
    ) -> Draft:
        """Enter (or correct) one year's official arrangement.

        Raises:
            ValidationError: the year's data is wrong or leaves a gap; every problem listed.
        """
        draft = await self._editable(draft_id, revision)
        years = tuple(
            sorted(
                (*(y for y in draft.content.calendar if y.year != year.year), year),
                key=lambda y: y.year,
            )
        )
        WorkingCalendar(years)  # raises with every problem
        saved = await self._write(
            draft, msgspec.structs.replace(draft.content, calendar=years), by=by
        )
        await self._audit(by, "calendar_year_set", draft_id, str(year.year))
        return saved

    # ------------------------------------------------------------------ workflow

    async def submit(self, draft_id: int, *, by: str, revision: int | None = None) -> Draft:
        """Hand the draft to a reviewer."""
        draft = await self._editable(draft_id, revision)
        now = self._clock()
        await self._update(
            draft,
            state=DraftState.SUBMITTED.value,
            submitted_by=by,
            submitted_at=now,
            updated_by=by,
            updated_at=now,
        )
        await self._audit(by, "submitted", draft_id)
        return await self.draft(draft_id)

    async def review(
        self,
        draft_id: int,
        *,
        approve: bool,
        comment: str,
        by: str,
        revision: int | None = None,
    ) -> Draft:
        """Approve the submitted draft, or return it for changes with a comment.

        Raises:
            PermissionDeniedError: the reviewer submitted the draft (four eyes).
            ValidationError: returned without a comment.
            ConflictError: the draft is not waiting for review.
        """
        draft = await self._in_state(draft_id, (DraftState.SUBMITTED,), "审核", revision)
        if draft.record.submitted_by == by:
            raise PermissionDeniedError(
                "审核人不能是提交人：请由另一位目录审核人员审核此草稿。",
                code="reviewer_is_submitter",
            )
        if not approve and not comment.strip():
            raise ValidationError(["退回修改时请填写审核意见，说明需要修改什么"])
        now = self._clock()
        state = DraftState.APPROVED if approve else DraftState.RETURNED
        await self._update(
            draft,
            state=state.value,
            reviewed_by=by,
            reviewed_at=now,
            review_comment=comment.strip(),
            updated_by=by,
            updated_at=now,
        )
        await self._audit(by, "approved" if approve else "returned", draft_id, comment.strip())
        return await self.draft(draft_id)

    async def discard(self, draft_id: int, *, by: str, revision: int | None = None) -> Draft:
        """Give up an unpublished draft."""
        draft = await self._in_state(
            draft_id,
            (DraftState.DRAFT, DraftState.RETURNED, DraftState.SUBMITTED, DraftState.APPROVED),
            "放弃",
            revision,
        )
        now = self._clock()
        await self._update(draft, state=DraftState.DISCARDED.value, updated_by=by, updated_at=now)
        await self._audit(by, "discarded", draft_id)
        return await self.draft(draft_id)

    async def publish(self, draft_id: int, *, by: str, revision: int | None = None) -> Published:
        """Publish the approved draft as the next signed release.

        The draft is claimed first (its state moves to ``publishing`` under its revision), so
        two concurrent publishes of one draft make one release and the other gets 409.

        Raises:
            ConflictError: not approved, claimed by another publish, or stale (the catalog or
                calendar in force is no longer the one the draft started from).
            ValidationError: the catalog or calendar has problems; every one is listed.
        """
        draft = await self._in_state(draft_id, (DraftState.APPROVED,), "发布", revision)
        current = await self._releases.current()
        if (
            current is None
            or content_digest(current.catalog, current.content.calendar) != draft.record.base_digest
        ):
            raise ConflictError(
                f"草稿基于第 {draft.record.base_version} 版目录，而目录已被另行发布为第 "
                f"{current.version if current else '?'} 版；请放弃此草稿并重新开始。",
                code="draft_stale",
            )
        problems = draft_problems(draft.content, self._today())
        if problems:
            raise ValidationError(problems, message="目录草稿有问题，未发布。")
        await self._update(draft, state=DraftState.PUBLISHING.value, updated_by=by)
        claimed = await self.draft(draft_id)
        try:
            release = await self._releases.publish(
                by=by, catalog=draft.content.catalog, calendar=draft.content.calendar
            )
        except Exception:
            await self._update(claimed, state=DraftState.APPROVED.value, updated_by=by)
            raise
        await self._update(
            claimed,
            state=DraftState.PUBLISHED.value,
            published_version=release.version,
            updated_by=by,
            updated_at=self._clock(),
        )
        await self._audit(by, "published", draft_id, f"v{release.version}", release.content_hash)
        report: RecomputeReport | None = None
        if self._recompute is not None and current.content.calendar != release.content.calendar:
            report = await self._recompute.after_calendar_change(
                current.content.calendar, release.content.calendar, by=by, version=release.version
            )
        return Published(await self.draft(draft_id), release, report)

    # ------------------------------------------------------------------ helpers

    def _today(self) -> date:
        return self._clock().astimezone(CHINA_TZ).date()

    async def _snapshot(self, version: int) -> Snapshot:
        release = await self._releases.release(version)
        if release is None:
            raise NotFoundError(f"没有第 {version} 版目录。", code="release_not_found")
        return _snapshot_of(release)

    async def _in_state(
        self, draft_id: int, states: Sequence[DraftState], doing: str, revision: int | None
    ) -> Draft:
        draft = await self.draft(draft_id)
        if draft.state not in states:
            raise ConflictError(
                f"草稿当前状态为“{draft.state.label}”，不能{doing}。",
                code="draft_state",
            )
        if revision is not None and revision != draft.revision:
            raise _changed_meanwhile()
        return draft

    async def _editable(self, draft_id: int, revision: int | None) -> Draft:
        return await self._in_state(
            draft_id, (DraftState.DRAFT, DraftState.RETURNED), "修改", revision
        )

    async def _write(self, draft: Draft, content: DraftContent, *, by: str) -> Draft:
        await self._update(
            draft,
            content=msgspec.json.encode(content).decode(),
            updated_by=by,
            updated_at=self._clock(),
        )
        return await self.draft(draft.id)

    async def _update(self, draft: Draft, **changes: object) -> None:
        if not await self._store.update_draft(draft.id, draft.revision, **changes):
            raise _changed_meanwhile()

    async def _audit(
        self, by: str, action: str, draft_id: int, subject: str = "", detail: bytes | str = b""
    ) -> None:
        text = detail.decode() if isinstance(detail, bytes) else detail
        await self._store.add_audit(
            [
                AuditEntry(
                    at=self._clock(),
                    actor=by,
                    action=action,
                    draft_id=draft_id,
                    subject=subject,
                    detail=text,
                )
            ]
        )


def _changed_meanwhile() -> ConflictError:
    return ConflictError(
        "草稿已被他人修改（或重复提交），请刷新页面查看最新内容后再操作。",
        code="draft_changed",
    )


def _decoded(record: DraftRecord) -> Draft:
    return Draft(record, _CONTENT.decode(record.content))


def _snapshot_of(release: CurrentRelease) -> Snapshot:
    return Snapshot(
        catalog=release.catalog, calendar=release.content.calendar, registry=release.registry
    )


def _item_in(catalog: Catalog, code: str) -> Item:
    for item in catalog.items:
        if item.code == code:
            return item
    raise NotFoundError(f"草稿中没有事项 {code}。", code="catalog_item_not_found")


def _replace_item(content: DraftContent, item: Item) -> DraftContent:
    items = tuple(item if i.code == item.code else i for i in content.catalog.items)
    return msgspec.structs.replace(
        content, catalog=msgspec.structs.replace(content.catalog, items=items)
    )


def _item_problems(catalog: Catalog, code: str) -> list[str]:
    mark = re.compile(rf"事项(编号（items\.code）)? {re.escape(code)}(?![\w-])")
    return [p for p in catalog.validate() if mark.search(p)]


__all__ = [
    "CatalogAdminService",
    "Draft",
    "DraftChanges",
    "DraftContent",
    "DraftState",
    "ItemSaved",
    "Published",
    "Revocation",
    "content_digest",
    "draft_problems",
]

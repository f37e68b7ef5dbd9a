"""Catalog administration services on SQLite and PostgreSQL: drafts, review, publish, recompute."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import msgspec
import pytest

from central.db.catalog_admin_tables import CatalogAdminStore
from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.registry_store import RegistryStore
from central.db.sync_store import PiccoloSyncStore
from central.services.calendar_recompute import RECOMPUTE_ACTION, DeadlineRecompute
from central.services.catalog_admin import CatalogAdminService, DraftState
from central.services.catalog_admin_forms import (
    CalendarForm,
    DelegationForm,
    ItemForm,
    calendar_year_from_form,
    delegation_from_form,
    form_of,
    item_from_form,
)
from central.services.registry import RegistryService
from central.services.releases import ReleaseService
from central.services.replication import county_replica
from shared.calendar_data import YEAR_2026, HolidayRange
from shared.catalog import Catalog, TimeLimit
from shared.delegation import Delegation, DelegationMode, Tier
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from shared.event_parts import Applicant, IdType, ReceiptChannel
from shared.events import Accepted, CaseEvent, Received
from shared.hlc import Hlc
from shared.signing import SigningKey
from sync.replica import Replica
from tests.conftest import FIXED_NOW

pytestmark = pytest.mark.anyio


@dataclass
class County:
    admin: CatalogAdminService
    releases: ReleaseService
    replica: Replica
    store: CatalogAdminStore


@pytest.fixture
async def county(
    tmp_path: Path, central_database_url: str | None, demo_catalog: Catalog
) -> AsyncIterator[County]:
    engine = make_engine(central_database_url, tmp_path / "central.sqlite3")
    await open_database(engine)
    key = SigningKey.generate()
    releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: key, lambda: FIXED_NOW)
    registry = RegistryService(RegistryStore(), releases, lambda: key, lambda: FIXED_NOW)
    await registry.ensure_county("示范县政务服务中心", "990001")
    await releases.publish(by="import", catalog=demo_catalog)
    replica = county_replica(PiccoloSyncStore(engine), releases, lambda: key, lambda: FIXED_NOW)
    store = CatalogAdminStore(engine)
    recompute = DeadlineRecompute(store, releases, lambda: FIXED_NOW)
    admin = CatalogAdminService(store, releases, recompute, lambda: FIXED_NOW)
    try:
        yield County(admin, releases, replica, store)
    finally:
        await close_database(engine)


async def approved(county: County, draft_id: int) -> None:
    await county.admin.submit(draft_id, by="admin")
    await county.admin.review(draft_id, approve=True, comment="同意", by="reviewer")


async def test_whole_flow_publishes_a_signed_release_with_the_new_item(county: County) -> None:
    draft = await county.admin.start_draft(by="admin")
    assert draft.state is DraftState.DRAFT and draft.record.base_version == 1
    again = await county.admin.start_draft(by="admin")
    assert again.id == draft.id  # a repeated start opens the same working copy
    base = draft.content.catalog.item("X02")
    new = msgspec.structs.replace(base, code="X90", name="新设事项", promised=TimeLimit(days=4))
    saved = await county.admin.save_item(draft.id, new, by="admin")
    assert saved.problems == []
    await approved(county, draft.id)
    published = await county.admin.publish(draft.id, by="admin")
    assert published.release.version == 2
    assert published.release.catalog.item("X90").name == "新设事项"
    assert published.draft.state is DraftState.PUBLISHED
    assert published.recompute is None  # calendar unchanged
    current = await county.releases.current()
    assert current is not None and current.version == 2
    history = await county.admin.history()
    assert [(h.version, h.published_by) for h in history] == [(2, "admin"), (1, "import")]
    diff = await county.admin.diff(1, 2)
    assert [n.key for n in diff.items_added] == ["X90"] and not diff.items_changed
    actions = [a.action for a in await county.admin.audit(draft.id)]
    assert actions == ["published", "approved", "submitted", "item_created", "draft_started"]
    assert await county.admin.open_draft() is None


async def test_item_with_rule_problems_is_kept_and_publishing_lists_every_problem(
    county: County,
) -> None:
    draft = await county.admin.start_draft(by="admin")
    base = draft.content.catalog.item("X02")
    bad = msgspec.structs.replace(
        base, code="X91", promised=TimeLimit(days=30), lead_department="NO-SUCH-DEPT"
    )
    saved = await county.admin.save_item(draft.id, bad, by="admin")
    assert any("承诺时限" in p for p in saved.problems)
    assert any("NO-SUCH-DEPT" in p for p in saved.problems)
    kept = await county.admin.draft(draft.id)
    assert kept.content.catalog.item("X91").lead_department == "NO-SUCH-DEPT"
    worse = msgspec.structs.replace(base, code="", name="")
    await county.admin.save_item(draft.id, worse, by="admin", replacing="X03")
    await approved(county, draft.id)
    with pytest.raises(ValidationError) as refused:
        await county.admin.publish(draft.id, by="admin")
    problems = refused.value.problems
    assert len(problems) >= 4
    assert any("X91" in p and "承诺时限" in p for p in problems)
    assert any("NO-SUCH-DEPT" in p for p in problems)
    assert any("事项编号（code）为空" in p for p in problems)
    assert (await county.releases.current()).version == 1  # type: ignore[union-attr]
    assert (await county.admin.draft(draft.id)).state is DraftState.APPROVED


async def test_reviewer_must_not_be_the_submitter_and_return_needs_a_comment(
    county: County,
) -> None:
    draft = await county.admin.start_draft(by="admin")
    await county.admin.submit(draft.id, by="admin")
    with pytest.raises(PermissionDeniedError) as same:
        await county.admin.review(draft.id, approve=True, comment="", by="admin")
    assert same.value.code == "reviewer_is_submitter"
    with pytest.raises(ValidationError):
        await county.admin.review(draft.id, approve=False, comment=" ", by="reviewer")
    returned = await county.admin.review(
        draft.id, approve=False, comment="请补充收费依据", by="reviewer"
    )
    assert returned.state is DraftState.RETURNED
    assert returned.record.review_comment == "请补充收费依据"
    with pytest.raises(ConflictError):
        await county.admin.publish(draft.id, by="admin")  # not approved


async def test_edits_are_refused_outside_draft_and_stale_revisions_conflict(
    county: County,
) -> None:
    draft = await county.admin.start_draft(by="admin")
    await county.admin.remove_item(draft.id, "X03", by="admin", revision=draft.revision)
    with pytest.raises(ConflictError) as stale:
        await county.admin.remove_item(draft.id, "X04", by="admin", revision=draft.revision)
    assert stale.value.code == "draft_changed"
    item = draft.content.catalog.item("X02")
    with pytest.raises(ConflictError) as taken:
        await county.admin.save_item(draft.id, item, by="admin")
    assert taken.value.code == "item_code_taken"
    await county.admin.submit(draft.id, by="admin")
    with pytest.raises(ConflictError) as locked:
        await county.admin.remove_item(draft.id, "X04", by="admin")
    assert locked.value.code == "draft_state"


async def test_stale_draft_cannot_be_published(county: County, demo_catalog: Catalog) -> None:
    draft = await county.admin.start_draft(by="admin")
    await approved(county, draft.id)
    changed = msgspec.structs.replace(demo_catalog, items=demo_catalog.items[:-1])
    await county.releases.publish(by="import", catalog=changed)  # someone else publishes
    with pytest.raises(ConflictError) as stale:
        await county.admin.publish(draft.id, by="admin")
    assert stale.value.code == "draft_stale"


async def test_concurrent_publish_makes_one_release(county: County) -> None:
    draft = await county.admin.start_draft(by="admin")
    base = draft.content.catalog.item("X02")
    await county.admin.save_item(
        draft.id, msgspec.structs.replace(base, name="改名"), by="admin", replacing="X02"
    )
    await approved(county, draft.id)
    results = await asyncio.gather(
        county.admin.publish(draft.id, by="admin"),
        county.admin.publish(draft.id, by="admin2"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ConflictError) for r in results) == 1
    assert (await county.releases.current()).version == 2  # type: ignore[union-attr]


async def test_delegate_to_named_nodes_and_revoke(county: County) -> None:
    draft = await county.admin.start_draft(by="admin")
    with pytest.raises(ValidationError) as unknown:
        await county.admin.delegate(
            draft.id,
            "X03",
            Delegation(
                mode=DelegationMode.WINDOW_FORWARD,
                tier=Tier.TOWNSHIP,
                node_ids=("zhen-nowhere",),
                effective_from=date(2026, 4, 1),
            ),
            by="admin",
        )
    assert any("zhen-nowhere" in p for p in unknown.value.problems)
    with pytest.raises(ValidationError) as undated:
        await county.admin.delegate(
            draft.id,
            "X03",
            Delegation(mode=DelegationMode.ENTRUST, tier=Tier.COMMUNITY),
            by="admin",
        )
    assert any("生效日期" in p for p in undated.value.problems)
    assert any("村（社区）不是行政机关" in p for p in undated.value.problems)
    added = Delegation(
        mode=DelegationMode.WINDOW_FORWARD, tier=Tier.TOWNSHIP, effective_from=date(2026, 4, 1)
    )
    done = await county.admin.delegate(draft.id, "X03", added, by="admin")
    assert done.content.catalog.item("X03").delegations == (added,)
    with pytest.raises(ValidationError):
        await county.admin.revoke(
            draft.id, "X02", 0, effective_on=date(2026, 1, 1), reason="到期", by="admin"
        )
    future = await county.admin.revoke(
        draft.id, "X02", 0, effective_on=date(2026, 6, 1), reason="协议到期", by="admin"
    )
    assert future.content.catalog.item("X02").delegations == ()
    assert future.content.revocations[0].effective_on == date(2026, 6, 1)
    await approved(county, draft.id)
    with pytest.raises(ValidationError) as early:
        await county.admin.publish(draft.id, by="admin")
    assert any("2026-06-01" in p for p in early.value.problems)


async def test_calendar_year_is_checked_before_it_is_kept(county: County) -> None:
    draft = await county.admin.start_draft(by="admin")
    bad = calendar_year_from_form(
        CalendarForm(year="2028", holidays="元旦 2028-01-01 2028-01-01", makeup_workdays="")
    )
    with pytest.raises(ValidationError) as gap:
        await county.admin.set_calendar_year(draft.id, bad, by="admin")
    assert any("缺少2027年" in p for p in gap.value.problems)
    with pytest.raises(ValidationError) as unreadable:
        calendar_year_from_form(
            CalendarForm(year="2027", holidays="春节 2027-02-30", makeup_workdays="明天")
        )
    assert len(unreadable.value.problems) == 2


async def record_accepted_case(county: County, catalog: Catalog, item_code: str) -> str:
    case_id = str(uuid.uuid4())
    item = catalog.item(item_code)

    def build(stamp: Callable[[], Hlc]) -> Sequence[CaseEvent]:
        received = Received(
            id=str(uuid.uuid4()),
            case_id=case_id,
            node_id="county",
            actor="clerk",
            hlc=stamp(),
            item_code=item_code,
            catalog_version=1,
            applicant=Applicant(
                name="李四", id_type=IdType.RESIDENT_ID, id_number="110101199001011237"
            ),
            materials=tuple(m.code for m in item.materials),
            channel=ReceiptChannel.WINDOW,
        )
        accepted = Accepted(
            id=str(uuid.uuid4()),
            case_id=case_id,
            node_id="county",
            actor="clerk",
            hlc=stamp(),
            receipt_no="XZX-20260302-0001-X",
        )
        return [received, accepted]

    await county.replica.record(case_id, build)
    return case_id


async def test_new_holiday_moves_open_deadlines_and_is_audited(
    county: County, demo_catalog: Catalog
) -> None:
    open_case = await record_accepted_case(county, demo_catalog, "X02")
    before = (await county.replica.store.case_rows([open_case]))[open_case]
    # Accepted Monday 2026-03-02: 5 working days → Monday 2026-03-09.
    assert before.promised_due == date(2026, 3, 9)
    draft = await county.admin.start_draft(by="admin")
    extra = HolidayRange(name="临时调整", first=date(2026, 3, 4), last=date(2026, 3, 5))
    year = msgspec.structs.replace(YEAR_2026, holidays=(*YEAR_2026.holidays, extra))
    await county.admin.set_calendar_year(draft.id, year, by="admin")
    await approved(county, draft.id)
    published = await county.admin.publish(draft.id, by="admin")
    report = published.recompute
    assert report is not None and report.changed_days == 2
    assert report.rows_written == 1
    (change,) = report.due_changes
    assert change.case_id == open_case
    assert (change.promised_before, change.promised_after) == (date(2026, 3, 9), date(2026, 3, 11))
    after = (await county.replica.store.case_rows([open_case]))[open_case]
    assert after.promised_due == date(2026, 3, 11)
    assert after.statutory_due is not None and before.statutory_due is not None
    assert after.statutory_due > before.statutory_due
    assert after.events_count == before.events_count
    audit = await county.store.audit(action=RECOMPUTE_ACTION)
    assert [a.subject for a in audit] == [open_case]
    assert "2026-03-11" in audit[0].detail and "2026-03-09" in audit[0].detail
    # A case recorded afterwards is folded with the new calendar straight away.
    later = await record_accepted_case(county, demo_catalog, "X02")
    row = (await county.replica.store.case_rows([later]))[later]
    assert row.promised_due == date(2026, 3, 11)


async def test_calendar_change_outside_open_windows_rewrites_nothing(
    county: County, demo_catalog: Catalog
) -> None:
    await record_accepted_case(county, demo_catalog, "X02")
    draft = await county.admin.start_draft(by="admin")
    extra = HolidayRange(name="临时调整", first=date(2026, 12, 14), last=date(2026, 12, 15))
    year = msgspec.structs.replace(YEAR_2026, holidays=(*YEAR_2026.holidays, extra))
    await county.admin.set_calendar_year(draft.id, year, by="admin")
    await approved(county, draft.id)
    published = await county.admin.publish(draft.id, by="admin")
    assert published.recompute is not None
    assert published.recompute.candidates == 0 and published.recompute.rows_written == 0
    assert await county.store.audit(action=RECOMPUTE_ACTION) == []


def test_item_form_round_trips_and_lists_every_unreadable_field(demo_catalog: Catalog) -> None:
    for item in demo_catalog.items:
        assert item_from_form(form_of(item), delegations=item.delegations) == item
    with pytest.raises(ValidationError) as bad:
        item_from_form(
            ItemForm(
                code="X99",
                item_type="nope",
                promised_days="五",
                materials="M01|只有两段",
                warning_days="-1",
            )
        )
    assert len(bad.value.problems) == 4


def test_delegation_form_needs_a_date(demo_catalog: Catalog) -> None:
    with pytest.raises(ValidationError) as bad:
        delegation_from_form(DelegationForm(mode="direct", tier="township", effective_from=""))
    assert bad.value.problems == ["请填写下放的生效日期"]
    read = delegation_from_form(
        DelegationForm(
            mode="window_forward",
            tier="township",
            node_ids="zhen-shifan, zhen-two",
            effective_from="2026-04-01",
        )
    )
    assert read.node_ids == ("zhen-shifan", "zhen-two")


async def test_unknown_draft_and_missing_catalog(tmp_path: Path) -> None:
    engine = make_engine(None, tmp_path / "empty.sqlite3")
    await open_database(engine)
    try:
        key = SigningKey.generate()
        releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: key, lambda: FIXED_NOW)
        admin = CatalogAdminService(CatalogAdminStore(engine), releases, None, lambda: FIXED_NOW)
        with pytest.raises(NotFoundError):
            await admin.start_draft(by="admin")
        with pytest.raises(NotFoundError):
            await admin.draft(42)
    finally:
        await close_database(engine)

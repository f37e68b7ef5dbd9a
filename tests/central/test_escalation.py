"""上报 across the tiers: a township escalates a case, the county decides it, the township sees it.

The county is the real one (Piccolo database, the releases in force, the county window service);
the township is an in-process replica that syncs to it through the real sync server code
(:func:`tests.sync.tree.transport_to`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework.actions import DecisionIn, ForwardIn, ReviewIn
from casework.handling import HandlingService
from casework.intake import Application, Decision, IntakeService
from central.commands import opened
from central.services.accounts import CountyRole, CountyUser
from central.services.window import CountyCatalog, CountyWindow
from central.settings import CentralSettings
from shared.case_state import CaseStatus
from shared.catalog import decode_catalog
from shared.delegation import Tier
from shared.errors import ConflictError, PermissionDeniedError
from shared.events import Applicant, Decided, ForwardMode, IdType, Opinion, Outcome
from shared.registry import COUNTY_NODE_ID, NodeRecord
from shared.signing import SigningKey
from sync.casedoc import events_of
from sync.client import SyncClient
from sync.enrollment import EnrollRequest
from sync.memory_store import MemoryStore
from sync.projection import decode_view
from sync.replica import Replica
from tests.casework.ports import Identity, Ledger
from tests.central.test_auth import settings as settings
from tests.sync.tree import Member, transport_to

pytestmark = pytest.mark.anyio

TOWNSHIP = "zhen-shifan"


def _now() -> datetime:
    # The county's releases and registry are stamped with the real time (central.commands).
    return datetime.now(UTC)


def _user(username: str, role: CountyRole, visible: frozenset[str] | None = None) -> CountyUser:
    return CountyUser(
        user_id=1,
        username=username,
        name=f"{username}姓名",
        roles=frozenset({role}),
        home_node=COUNTY_NODE_ID if visible is None else sorted(visible)[0],
        visible=visible,
    )


async def _state(replica: Replica, case_id: str):  # type: ignore[no-untyped-def]
    row = (await replica.store.case_rows([case_id]))[case_id]
    return decode_view(row.state_json).state


async def test_township_escalates_and_the_county_decides(
    settings: CentralSettings, demo_catalog_bytes: bytes
) -> None:
    township_key = SigningKey.generate()
    async with opened(settings) as county:
        await county.releases.publish(by="test", catalog=decode_catalog(demo_catalog_bytes))
        issued = await county.registry.issue_token(
            NodeRecord(
                node_id=TOWNSHIP,
                name="示范镇便民服务中心",
                tier=Tier.TOWNSHIP,
                parent=COUNTY_NODE_ID,
                short_code="SFZ",
            ),
            by="test",
            hours=1,
        )
        await county.registry.enroll(
            EnrollRequest(token=issued.token, public_key=township_key.public_key.to_text())
        )
        releases = county.releases
        catalog = CountyCatalog(releases)

        # The township: its own store, the county's registry and catalog, the real sync server.
        town_replica = Replica(
            MemoryStore(),
            node_id=TOWNSHIP,
            key=township_key,
            registry=releases.registry_now,
            catalog_for=releases.catalog_for,
            calendar=releases.calendar_now,
            clock=_now,
        )
        town = Member(TOWNSHIP, township_key, town_replica.store, town_replica)
        root = Member(COUNTY_NODE_ID, county.key, county.replica.store, county.replica)
        town.client = SyncClient(
            town_replica,
            parent_url="http://county.test",
            key=township_key,
            clock=_now,
            release_version=lambda: None,
            install_release=lambda raw: None,
            transport=transport_to(town, root, _now),
        )
        identity = Identity(TOWNSHIP, Tier.TOWNSHIP, "SFZ")
        ledger = Ledger()
        intake = IntakeService(town_replica, catalog, identity, ledger, _now)
        handling = HandlingService(
            town_replica, catalog, identity, ledger, _now, intake_store=ledger
        )
        window = CountyWindow(county.replica, releases, settings.county_code, _now)
        approver = _user("approver", CountyRole.APPROVER)
        beishan = _user("bs-approver", CountyRole.APPROVER, frozenset({"zhen-beishan"}))

        # 最低生活保障审核确认: taken in and reviewed at the township.
        taken = await intake.submit(
            Application(
                item_code="X09",
                applicant=Applicant(
                    name="王秀英", id_type=IdType.RESIDENT_ID, id_number="110101194501011234"
                ),
                decision=Decision.ACCEPT,
                materials=("M01", "M02", "M03", "M04"),
            ),
            "clerk-sfz",
        )
        case_id = taken.case_id
        await handling.review(case_id, ReviewIn(opinion=Opinion.AGREE), "reviewer-sfz")
        await town.sync()

        # Held at the county, but handled at the township: not on the county window's queue.
        assert (await _state(county.replica, case_id)).handling_node == TOWNSHIP
        assert case_id not in {e.case_id for e in await window.queue(approver)}

        escalated = await handling.forward(
            case_id, ForwardIn(mode=ForwardMode.ESCALATE, reason="经审核，报县级审批"), "rev-sfz"
        )
        assert escalated.handling_node == COUNTY_NODE_ID
        # Once escalated the township may no longer decide it.
        with pytest.raises(ConflictError) as handed_up:
            await handling.decide(case_id, DecisionIn(outcome=Outcome.APPROVE), "approver-sfz")
        assert handed_up.value.code == "case_handled_elsewhere"
        await town.sync()

        queued = {e.case_id: e for e in await window.queue(approver)}
        assert case_id in queued
        assert queued[case_id].handling_node == COUNTY_NODE_ID
        assert queued[case_id].origin_node == TOWNSHIP
        assert queued[case_id].status == CaseStatus.ACCEPTED.value
        # A county account scoped to another township neither queues nor opens the case.
        assert case_id not in {e.case_id for e in await window.queue(beishan)}
        with pytest.raises(PermissionDeniedError):
            await window.state(case_id, beishan)

        state = await window.state(case_id, approver)
        assert "decision" in {a.value for a in window.panel(state, approver).actions}
        decided = await window.handling.decide(
            case_id, DecisionIn(outcome=Outcome.APPROVE), approver.username
        )
        assert decided.status == CaseStatus.APPROVED.value
        await town.sync()

        for replica in (town_replica, county.replica):
            seen = await _state(replica, case_id)
            assert seen.status is CaseStatus.APPROVED, replica.node_id
            assert seen.handling_node == COUNTY_NODE_ID, replica.node_id
        events = events_of((await town_replica.store.case_states([case_id])).get(case_id))
        decisions = [e for e in events if isinstance(e, Decided)]
        assert [(d.node_id, d.actor) for d in decisions] == [(COUNTY_NODE_ID, "approver")]
        # Decided: off the open queue, still listed among all the county's cases.
        assert case_id not in {e.case_id for e in await window.queue(approver)}
        assert case_id in {e.case_id for e in await window.queue(approver, open_only=False)}

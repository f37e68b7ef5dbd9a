"""并联审批 across the three tiers: department opinions given offline converge to one decision.

Z02 (农村村民建房“一件事”) is a township joint item: lead department sfz, parallel departments
zrzy and nync. The community only takes it in (代办) and forwards it to the township. Two
departments give their opinions at the township while it is cut off from the county, the
third at the county at the same time; the township's decision must wait for all three, and
after sync every tier holds the same single decision and single certificate.
"""

from __future__ import annotations

import pytest

from casework.actions import CertificateIn, DecisionIn, ReviewIn
from casework.handling import HandlingService
from casework.intake import Application, Decision, IntakeService
from shared.case_state import CaseStatus
from shared.errors import ConflictError, PermissionDeniedError
from shared.events import Applicant, CertificateIssued, Decided, IdType, Opinion, Outcome
from shared.registry import COUNTY_NODE_ID
from sync.casedoc import events_of
from sync.projection import decode_view
from tests.casework.ports import Catalogs, Identity, Ledger
from tests.sync.tree import CATALOG, LAYOUT, NOW, Member, build_tree

pytestmark = pytest.mark.anyio

_CODES = {node_id: code for node_id, _, _, _, code in LAYOUT}
_TIERS = {node_id: tier for node_id, _, tier, _, _ in LAYOUT}


def _identity(member: Member) -> Identity:
    return Identity(member.node_id, _TIERS[member.node_id], _CODES[member.node_id])


def _handling(member: Member) -> HandlingService:
    ledger = Ledger()
    return HandlingService(
        member.replica,
        Catalogs(CATALOG),
        _identity(member),
        ledger,
        lambda: NOW,
        intake_store=ledger,
    )


async def _state(member: Member, case_id: str):  # type: ignore[no-untyped-def]
    row = (await member.store.case_rows([case_id]))[case_id]
    return decode_view(row.state_json).state


async def _events(member: Member, case_id: str) -> list:  # type: ignore[type-arg]
    return events_of((await member.store.case_states([case_id])).get(case_id))


async def test_three_departments_two_offline_converge_to_one_decision_and_certificate() -> None:
    tree = build_tree()
    community, township, county = tree.community, tree.township, tree.county
    intake = IntakeService(
        community.replica, Catalogs(CATALOG), _identity(community), Ledger(), lambda: NOW
    )
    taken = await intake.submit(
        Application(
            item_code="Z02",
            applicant=Applicant(
                name="李建国", id_type=IdType.RESIDENT_ID, id_number="110101196001011234"
            ),
            decision=Decision.ACCEPT,
            materials=("M01", "M03", "M04", "M05"),
        ),
        "clerk-dcs",
    )
    case_id = taken.case_id
    await community.sync()
    await township.sync()
    assert (await _state(township, case_id)).handling_node == "zhen-shifan"
    assert (await _state(county, case_id)).handling_node == "zhen-shifan"

    # The township and the community lose their links; two departments review at the township.
    township.link_up = community.link_up = False
    town, center = _handling(township), _handling(county)
    await town.review(case_id, ReviewIn(opinion=Opinion.AGREE), "rev-sfz", acting_for="sfz")
    await town.review(
        case_id,
        ReviewIn(opinion=Opinion.CONDITIONAL, comment="建房位置避让基本农田"),
        "rev-nync",
        acting_for="nync",
    )
    # Meanwhile the natural-resources bureau gives its opinion at the county.
    await center.review(case_id, ReviewIn(opinion=Opinion.AGREE), "dept-zrzy", acting_for="zrzy")

    # A reviewer for one department cannot speak for another.
    with pytest.raises(PermissionDeniedError):
        await town.review(
            case_id, ReviewIn(opinion=Opinion.AGREE, department="zrzy"), "rev-sfz", acting_for="sfz"
        )
    # Offline, the township has not seen zrzy's opinion: no combined decision yet.
    with pytest.raises(ConflictError) as early:
        await town.decide(case_id, DecisionIn(outcome=Outcome.APPROVE), "approver-sfz")
    assert early.value.code == "reviews_incomplete" and "zrzy" in early.value.message
    panel = town.panel(await town.state_of(case_id), {"approver"})
    assert {(r.department, r.lead, r.opinion) for r in panel.reviews} == {
        ("sfz", True, Opinion.AGREE),
        ("zrzy", False, None),
        ("nync", False, Opinion.CONDITIONAL),
    }

    township.link_up = community.link_up = True
    await township.sync()
    reviews = (await _state(township, case_id)).reviews
    assert {r.department for r in reviews} == {"sfz", "zrzy", "nync"}

    # The county holds every opinion too, but the item is decided at the township.
    with pytest.raises(PermissionDeniedError):
        await center.decide(case_id, DecisionIn(outcome=Outcome.APPROVE), "approver-county")

    await town.decide(case_id, DecisionIn(outcome=Outcome.APPROVE), "approver-sfz")
    issued = await town.issue_certificate(case_id, CertificateIn(), "approver-sfz")
    assert issued.certificate_no is not None
    await township.sync()
    await community.sync()

    for member in (community, township, county):
        state = await _state(member, case_id)
        events = await _events(member, case_id)
        assert state.status is CaseStatus.APPROVED, member.node_id
        assert state.certificates == (issued.certificate_no,), member.node_id
        assert len([e for e in events if isinstance(e, Decided)]) == 1
        assert len([e for e in events if isinstance(e, CertificateIssued)]) == 1
        assert {(r.department, r.opinion) for r in state.reviews} == {
            ("sfz", Opinion.AGREE),
            ("zrzy", Opinion.AGREE),
            ("nync", Opinion.CONDITIONAL),
        }
    assert COUNTY_NODE_ID in {e.node_id for e in await _events(community, case_id)}


async def test_a_disagreeing_department_allows_only_a_reasoned_denial() -> None:
    tree = build_tree()
    township = tree.township
    intake = IntakeService(
        township.replica, Catalogs(CATALOG), _identity(township), Ledger(), lambda: NOW
    )
    taken = await intake.submit(
        Application(
            item_code="Z02",
            applicant=Applicant(
                name="李建国", id_type=IdType.RESIDENT_ID, id_number="110101196001011234"
            ),
            decision=Decision.ACCEPT,
            materials=("M01", "M03", "M04", "M05"),
        ),
        "clerk",
    )
    town = _handling(township)
    case_id = taken.case_id
    with pytest.raises(ConflictError):
        await town.decide(case_id, DecisionIn(outcome=Outcome.DENY, reason="不符合规划"), "a")
    for department, opinion in (("sfz", Opinion.AGREE), ("zrzy", Opinion.DISAGREE)):
        await town.review(
            case_id, ReviewIn(opinion=opinion, comment="占用耕地"), "r", acting_for=department
        )
    await town.review(case_id, ReviewIn(opinion=Opinion.AGREE), "r", acting_for="nync")
    with pytest.raises(ConflictError) as refused:
        await town.decide(case_id, DecisionIn(outcome=Outcome.APPROVE), "a")
    assert "zrzy" in refused.value.message
    result = await town.decide(case_id, DecisionIn(outcome=Outcome.DENY, reason="占用耕地"), "a")
    assert result.status == CaseStatus.DENIED.value


def test_joint_limit_is_45_plus_15_working_days_unless_the_item_promises_less() -> None:
    import msgspec

    from shared.catalog import TimeLimit

    z02 = CATALOG.item("Z02")
    terms = z02.case_terms()
    assert (terms.statutory_days, terms.extension_days) == (45, 15)
    assert terms.promised_days == 20
    longer = msgspec.structs.replace(z02, statutory=TimeLimit(days=60), extension_days=30)
    assert (longer.case_terms().statutory_days, longer.case_terms().extension_days) == (45, 15)
    shorter = msgspec.structs.replace(z02, statutory=TimeLimit(days=30), extension_days=10)
    assert (shorter.case_terms().statutory_days, shorter.case_terms().extension_days) == (30, 10)

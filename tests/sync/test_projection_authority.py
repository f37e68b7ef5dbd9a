"""Authority decisions are remembered per projection context: never a different answer.

A projection chunk asks :func:`shared.authority.unauthorized_reason` the same few questions for
thousands of similar cases, so :mod:`sync.projection` keeps each answer for the chunk. Whatever
the cases, projecting them with one shared context must give exactly what a fresh context per
case gives.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import official_calendar
from shared.events import CaseEvent, DepartmentReviewed, Opinion
from shared.hlc import Hlc
from shared.registry import COUNTY_NODE_ID
from sync.projection import UNAUTHORIZED_FLAG, ProjectionContext, _projection, decode_view
from tests.sync.tree import (
    CATALOG,
    NOW,
    accepted,
    build_tree,
    decided,
    forwarded,
    received,
    urged,
)

TOWN, COMMUNITY = "zhen-shifan", "she-dongcun"
NODES = (COUNTY_NODE_ID, TOWN, COMMUNITY)
ITEMS = ("X19", "X17", "X08", "X03", "Z01", "Z02")
DEPARTMENTS = ("sfz", "zrzy", "nync", "mzj")
REGISTRY = build_tree().registry
CALENDAR = official_calendar()
# Two hours before midnight in China, so that a few hours' offset crosses into the next day.
START_MS = int((NOW.replace(hour=14) - timedelta(days=3)).timestamp() * 1000)


def context() -> ProjectionContext:
    assert REGISTRY is not None
    return ProjectionContext(
        node_id=COUNTY_NODE_ID,
        registry=REGISTRY,
        catalog_for=lambda version: CATALOG if version == 1 else None,
        calendar=CALENDAR,
        now=NOW,
    )


def reviewed(case_id: str, node_id: str, department: str) -> Callable[[Hlc], CaseEvent]:
    def draft(hlc: Hlc) -> CaseEvent:
        return DepartmentReviewed(
            id=str(uuid.uuid4()),
            case_id=case_id,
            node_id=node_id,
            actor="clerk",
            hlc=hlc,
            department=department,
            opinion=Opinion.AGREE,
        )

    return draft


STEP = st.tuples(
    st.sampled_from(("accepted", "decided", "reviewed", "urged", "forwarded")),
    st.sampled_from(NODES),
    st.sampled_from(DEPARTMENTS),
    st.integers(min_value=0, max_value=72),
)
CASE = st.tuples(
    st.sampled_from(ITEMS),
    st.sampled_from(NODES),
    st.lists(STEP, max_size=6),
)


def build(item: str, origin: str, steps: list[tuple[str, str, str, int]]) -> list[CaseEvent]:
    """A case received by ``origin``; each step is (kind, node, the department of a review or
    the target of a forward, hours after the receipt)."""
    case_id = str(uuid.uuid4())
    drafts = [(received(case_id, origin, item), 0)]
    for kind, node, department, hours in steps:
        if kind == "accepted":
            drafts.append((accepted(case_id, node), hours))
        elif kind == "decided":
            drafts.append((decided(case_id, node), hours))
        elif kind == "reviewed":
            drafts.append((reviewed(case_id, node, department), hours))
        elif kind == "urged":
            drafts.append((urged(case_id, node), hours))
        else:
            to = department if department in NODES else next(n for n in NODES if n != node)
            record = REGISTRY.get(to) if REGISTRY else None
            tier = record.tier.value if record else ""
            drafts.append((forwarded(case_id, node, to, tier), hours))
    return [
        draft(Hlc(START_MS + hours * 3_600_000 + index, 0))
        for index, (draft, hours) in enumerate(drafts)
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(CASE, min_size=1, max_size=12))
def test_projection_shared_context_judges_every_case_like_a_fresh_one(
    cases: list[tuple[str, str, list[tuple[str, str, str, int]]]],
) -> None:
    shared = context()
    for item, origin, steps in cases:
        events = build(item, origin, steps)
        case_id = events[0].case_id
        fresh = _projection(case_id, b"", events, context(), rejected=(), pending=())
        again = _projection(case_id, b"", events, shared, rejected=(), pending=())
        assert again.row == fresh.row
        assert decode_view(again.row.state_json) == decode_view(fresh.row.state_json)


def test_projection_shared_context_answers_every_question_of_the_grid_like_a_fresh_one() -> None:
    # Every kind of step by every node (reviews by every department), on three days, for every
    # item received at every node, before and after a forward: each part of a remembered
    # decision changes its answer somewhere in here (the day through the reason's text).
    shared = context()
    flagged = total = 0
    for item, origin, handler, kind, node, hours in itertools.product(
        ITEMS, NODES, NODES, ("accepted", "decided", "reviewed", "urged", "forwarded"), NODES,
        (1, 12, 30),
    ):  # fmt: skip
        before = [] if handler == origin else [("forwarded", origin, handler, 0)]
        for department in DEPARTMENTS if kind == "reviewed" else ("",):
            events = build(item, origin, [*before, (kind, node, department, hours)])
            case_id = events[0].case_id
            got = _projection(case_id, b"", events, shared, rejected=(), pending=())
            want = _projection(case_id, b"", events, context(), rejected=(), pending=())
            assert got.row == want.row
            flagged += UNAUTHORIZED_FLAG in got.row.flags
            total += 1
    assert 0 < flagged < total

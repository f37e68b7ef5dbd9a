"""The clerk's queue and search agree with a plain reading of the rules, whatever the rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from node.storage import case_queue
from node.storage.case_queue import CaseQueueStore, QueueQuery
from node.storage.database import NodeDatabase

NAMES = ("王小明", "王小红", "王芳", "李雷", "韩梅梅", "张伟")
ITEMS = ("X01", "X02", "X03")
NODES = ("zhen-a", "cun-b")
STATUSES = ("accepted", "decided", "awaiting_correction")


@dataclass(frozen=True)
class Row:
    case_id: str
    receipt_no: str
    applicant_name: str
    item_code: str
    handling_node: str
    status: str
    finished: bool
    promised_due: str | None
    received_on: str


rows_strategy = st.lists(
    st.builds(
        Row,
        case_id=st.just(""),
        receipt_no=st.sampled_from(("TB2026", "TB2025", "XZ2026")),
        applicant_name=st.sampled_from(NAMES),
        item_code=st.sampled_from(ITEMS),
        handling_node=st.sampled_from(NODES),
        status=st.sampled_from(STATUSES),
        finished=st.booleans(),
        promised_due=st.none() | st.sampled_from(("2026-11-20", "2026-11-25", "2026-12-01")),
        received_on=st.sampled_from(("2026-11-02", "2026-11-03", "2026-11-10")),
    ),
    max_size=40,
)
query_strategy = st.builds(
    QueueQuery,
    handling_node=st.none() | st.sampled_from(NODES),
    text=st.sampled_from(("", "王", "王小", "李雷", "tb2026", "TB", "韩", "X")),
    item_codes=st.lists(st.sampled_from(ITEMS), max_size=2).map(tuple),
    status=st.sampled_from(("", *STATUSES)),
    page=st.integers(min_value=1, max_value=4),
    per_page=st.integers(min_value=1, max_value=7),
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[NodeDatabase]:
    database = NodeDatabase(tmp_path / "node.sqlite")
    yield database
    database.close()


def _store(database: NodeDatabase, rows: list[Row]) -> list[Row]:
    numbered = [
        Row(**{**r.__dict__, "case_id": f"c{i:03}", "receipt_no": f"{r.receipt_no}{i:04}"})
        for i, r in enumerate(rows)
    ]

    def write(db: Database) -> None:
        db.execute("DELETE FROM case_row")
        for r in numbered:
            db.execute(
                "INSERT INTO case_row (case_id, item_code, handling_node, status, receipt_no, "
                "applicant_name, received_on, promised_due, due_provisional, paused, finished, "
                "flags, events_count, last_hlc_wall, last_hlc_counter, state_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, '[]', 1, 0, 0, x'')",
                [
                    r.case_id,
                    r.item_code,
                    r.handling_node,
                    r.status,
                    r.receipt_no,
                    r.applicant_name,
                    r.received_on,
                    r.promised_due,
                    int(r.finished),
                ],
            )

    database.write(write)
    return numbered


def _expected(rows: list[Row], query: QueueQuery) -> list[Row]:
    text = query.text.strip()

    def matches(r: Row) -> bool:
        if query.handling_node is not None and r.handling_node != query.handling_node:
            return False
        if query.status and r.status != query.status:
            return False
        if not text:
            return True
        return (
            r.receipt_no.startswith(text.upper())
            or r.applicant_name.startswith(text)
            or r.item_code in query.item_codes
        )

    # finished last, then the nearest due day (none last), then the newest receipt day first.
    return sorted(
        (r for r in rows if matches(r)),
        key=lambda r: (r.finished, r.promised_due or "9999-12-31", _desc(r.received_on)),
    )


def _desc(day: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in day)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows_strategy, query=query_strategy)
def test_page_and_total_match_the_reference(
    database: NodeDatabase, rows: list[Row], query: QueueQuery
) -> None:
    stored = _store(database, rows)
    page = CaseQueueStore(database).page(query)
    expected = _expected(stored, query)
    assert page.total == len(expected)
    start = (query.page - 1) * query.per_page
    want = expected[start : start + query.per_page]
    # Rows equal in every sort key may come in any order; compare the keys, then the sets.
    got_keys = [
        (r.finished, r.promised_due.isoformat() if r.promised_due else "", str(r.received_on))
        for r in page.rows
    ]
    assert got_keys == [(r.finished, r.promised_due or "", r.received_on) for r in want]
    assert {r.case_id for r in page.rows} <= {r.case_id for r in expected}


def test_search_uses_indexes_not_a_scan(database: NodeDatabase) -> None:
    query = QueueQuery(handling_node="zhen-a", text="王", item_codes=("X01", "X02"))
    matches, params = case_queue._search(query)
    plan = database.read(lambda db: db.execute(f"EXPLAIN QUERY PLAN {matches}", params).fetchall())
    details = " | ".join(str(row[-1]) for row in plan)
    assert "SCAN case_row" not in details, details
    assert "case_row_item_sort" in details and "COVERING" in details, details

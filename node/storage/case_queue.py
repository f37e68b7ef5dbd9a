"""The clerk's queue and case search over the projected case rows (indexes from m008).

A list page reads only ``case_row`` columns, never the folded state: light and countdown are
derived from the row's promised due day by the caller, so a page costs the same at 100 cases
and at 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from node.storage.database import NodeDatabase

MAX_PER_PAGE = 100
_TOP = "\U0010ffff"  # above every character: ``x <= s < x + _TOP`` is "s starts with x"
_NO_DUE = "9999-12-31"

_COLUMNS = (
    "case_id, receipt_no, applicant_name, item_code, catalog_version, status, origin_node, "
    "handling_node, received_on, promised_due, finished"
)


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """What the clerk asked for.

    Attributes:
        handling_node: only cases this node handles; None for every case this node holds.
        text: matched as a prefix of the receipt number and of the applicant's name.
        item_codes: cases of these items also match ``text`` (the caller maps item names).
        status: one case status, or "" for all.
        page: from 1.
    """

    handling_node: str | None
    text: str = ""
    item_codes: tuple[str, ...] = field(default_factory=tuple)
    status: str = ""
    page: int = 1
    per_page: int = 30


@dataclass(frozen=True, slots=True)
class QueueRow:
    """The columns a queue line shows."""

    case_id: str
    receipt_no: str | None
    applicant_name: str | None
    item_code: str | None
    catalog_version: int | None
    status: str
    origin_node: str | None
    handling_node: str | None
    received_on: date | None
    promised_due: date | None
    finished: bool


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue and how many cases match in all."""

    rows: list[QueueRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))


class CaseQueueStore:
    """Queue and search reads on the node database."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    def page(self, query: QueueQuery) -> QueuePage:
        """Unfinished cases first, the nearest (or most overdue) due day first."""
        per_page = min(max(query.per_page, 1), MAX_PER_PAGE)
        page = max(query.page, 1)
        where, params = _where(query)
        # The WHERE text is made of fixed fragments only; every value is a bound parameter.
        select = (
            f"SELECT {_COLUMNS} FROM case_row {where} "  # noqa: S608
            f"ORDER BY finished, COALESCE(promised_due, '{_NO_DUE}'), received_on DESC "
            "LIMIT ? OFFSET ?"
        )
        count = f"SELECT COUNT(*) FROM case_row {where}"  # noqa: S608

        def read(db: Database) -> tuple[list[tuple[object, ...]], int]:
            rows = db.execute(select, [*params, per_page, (page - 1) * per_page]).fetchall()
            total = int(db.execute(count, params).fetchone()[0])
            return rows, total

        rows, total = self._database.read(read)
        return QueuePage(rows=[_row(r) for r in rows], total=total, page=page, per_page=per_page)


def _where(query: QueueQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    text = query.text.strip()
    if text:
        # Prefix ranges, not LIKE '%x%', each answered by its own index; the matching ids are
        # gathered first so SQLite never walks every row of the node to test the text.
        upper = text.upper()
        alternatives = [
            "SELECT case_id FROM case_row WHERE receipt_no >= ? AND receipt_no < ?",
            "SELECT case_id FROM case_row WHERE applicant_name >= ? AND applicant_name < ?",
        ]
        params += [upper, upper + _TOP, text, text + _TOP]
        codes = tuple(dict.fromkeys(query.item_codes))
        if codes:
            marks = ", ".join("?" * len(codes))  # placeholders only; the codes are bound
            alternatives.append(f"SELECT case_id FROM case_row WHERE item_code IN ({marks})")  # noqa: S608
            params += list(codes)
        clauses.append("case_id IN (" + " UNION ".join(alternatives) + ")")
    if query.handling_node is not None:
        # The unary plus keeps the planner on the text indexes when a search is given.
        clauses.append("+handling_node = ?" if text else "handling_node = ?")
        params.append(query.handling_node)
    if query.status:
        clauses.append("status = ?")
        params.append(query.status)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _day(value: object) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _row(r: tuple[object, ...]) -> QueueRow:
    return QueueRow(
        case_id=str(r[0]),
        receipt_no=None if r[1] is None else str(r[1]),
        applicant_name=None if r[2] is None else str(r[2]),
        item_code=None if r[3] is None else str(r[3]),
        catalog_version=None if r[4] is None else int(str(r[4])),
        status=str(r[5]),
        origin_node=None if r[6] is None else str(r[6]),
        handling_node=None if r[7] is None else str(r[7]),
        received_on=_day(r[8]),
        promised_due=_day(r[9]),
        finished=bool(r[10]),
    )

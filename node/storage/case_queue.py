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
        if query.text.strip():
            matches, params = _search(query)
            # Sort keys only, from the covering indexes; the wide rows are read for one page.
            keys = f"SELECT rid FROM ({matches}) ORDER BY {_ORDER} LIMIT ? OFFSET ?"  # noqa: S608
            select = (
                f"SELECT {_COLUMNS} FROM case_row WHERE rowid IN ({keys}) "  # noqa: S608
                f"ORDER BY {_ORDER}"
            )
            count = f"SELECT COUNT(*) FROM ({matches})"  # noqa: S608
        else:
            where, params = _filters(query, indexed=True)
            # The WHERE text is made of fixed fragments only; every value is a bound parameter.
            select = (
                f"SELECT {_COLUMNS} FROM case_row {where} ORDER BY {_ORDER} "  # noqa: S608
                "LIMIT ? OFFSET ?"
            )
            count = f"SELECT COUNT(*) FROM case_row {where}"  # noqa: S608

        def read(db: Database) -> tuple[list[tuple[object, ...]], int]:
            rows = db.execute(select, [*params, per_page, (page - 1) * per_page]).fetchall()
            total = int(db.execute(count, params).fetchone()[0])
            return rows, total

        rows, total = self._database.read(read)
        return QueuePage(rows=[_row(r) for r in rows], total=total, page=page, per_page=per_page)


_ORDER = f"finished, COALESCE(promised_due, '{_NO_DUE}'), received_on DESC"


def _filters(query: QueueQuery, *, indexed: bool) -> tuple[str, list[object]]:
    """The handling node and status conditions; ``indexed`` lets them pick the index."""
    clauses: list[str] = []
    params: list[object] = []
    if query.handling_node is not None:
        # The unary plus keeps the planner on the search's own index inside a search.
        clauses.append("handling_node = ?" if indexed else "+handling_node = ?")
        params.append(query.handling_node)
    if query.status:
        clauses.append("status = ?" if indexed else "+status = ?")
        params.append(query.status)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _search(query: QueueQuery) -> tuple[str, list[object]]:
    """Disjoint index ranges joined by UNION ALL, each giving (rowid, sort keys) of its cases.

    Prefix ranges, not LIKE '%x%', so SQLite never walks every row of the node to test the text.
    Each range leaves out what an earlier one matched, so no case comes twice and neither the
    page nor the count needs a de-duplicating pass over thousands of matches. The item range
    comes first and stays a pure covering-index range: it is the one that matches thousands.
    """
    text = query.text.strip()
    upper = text.upper()
    # (condition, its null-safe negation, the parameters of either)
    ranges: list[tuple[str, str, list[object]]] = []
    codes = tuple(dict.fromkeys(query.item_codes))
    if codes:
        marks = ", ".join("?" * len(codes))  # placeholders only; the codes are bound
        ranges.append(
            (
                f"item_code IN ({marks})",
                f"(item_code IS NULL OR item_code NOT IN ({marks}))",
                list(codes),
            )
        )
    for column, prefix in (("receipt_no", upper), ("applicant_name", text)):
        ranges.append(
            (
                f"{column} >= ? AND {column} < ?",
                f"({column} IS NULL OR {column} < ? OR {column} >= ?)",
                [prefix, prefix + _TOP],
            )
        )
    where, filter_params = _filters(query, indexed=False)
    extra = where.replace("WHERE ", " AND ", 1)
    parts: list[str] = []
    params: list[object] = []
    for position, (condition, _, values) in enumerate(ranges):
        earlier = ranges[:position]
        excluded = "".join(f" AND {negation}" for _, negation, _ in earlier)
        parts.append(
            "SELECT rowid AS rid, finished, promised_due, received_on "  # noqa: S608
            f"FROM case_row WHERE {condition}{excluded}{extra}"
        )
        params += [*values, *(v for _, _, before in earlier for v in before), *filter_params]
    return " UNION ALL ".join(parts), params


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

"""Portable raw SQL for bulk work through Piccolo, on SQLite and PostgreSQL.

Piccolo's query builder costs tens of microseconds per row and its ``QueryString`` parses every
``{}`` placeholder in Python (about 27 ms for one 1000-row insert). Replication writes thousands
of rows per batch, so the sync store writes plain SQL with ``{}`` placeholders, compiles each
statement shape once per dialect, and hands it to the engine's public ``run_querystring``, which
runs it inside the current ``engine.transaction()`` when there is one.
"""

# ruff: noqa: S608 - SQL text is built from constant identifiers; values are always bound.

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from piccolo.querystring import QueryString

MAX_PARAMS = 30_000
"""Bind parameters per statement: below SQLite's 32,766 and PostgreSQL's 32,767."""

MAX_ROWS = 1_000
"""Rows per multi-row INSERT."""

MAX_TERMS = 200
"""OR-ed terms per WHERE clause: SQLite refuses expression trees deeper than 1000."""

MIN_RANGE = 3
"""A run of this many consecutive ``seq`` values is matched with BETWEEN instead of IN."""


class Sql(QueryString):
    """A statement with ``{}`` placeholders, compiled once per shape and dialect."""

    def __init__(self, sql: str, params: Sequence[Any] = ()) -> None:
        super().__init__("")
        self.sql = sql
        self.params = list(params)

    def compile_string(self, engine_type: str = "postgres") -> tuple[str, list[Any]]:
        """The statement in the driver's placeholder style, and its parameters."""
        return _compiled(self.sql, engine_type), self.params

    def __str__(self) -> str:
        return self.sql


@lru_cache(maxsize=256)
def _compiled(sql: str, engine_type: str) -> str:
    parts = sql.split("{}")
    if engine_type == "sqlite":
        return "?".join(parts)
    numbered = "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], 1))
    return numbered + parts[-1]


def marks(count: int) -> str:
    """``{}, {}, …`` for an IN list."""
    return ", ".join(["{}"] * count)


@lru_cache(maxsize=256)
def insert_sql(table: str, columns: tuple[str, ...], rows: int, tail: str = "") -> str:
    """A multi-row INSERT of ``rows`` rows; ``tail`` is e.g. an ON CONFLICT clause."""
    row = "(" + marks(len(columns)) + ")"
    names = ", ".join(columns)
    return f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * rows)} {tail}".rstrip()


def row_chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterable[Sequence[Sequence[Any]]]:
    """Slices of ``rows`` small enough for one statement."""
    size = max(1, min(MAX_ROWS, MAX_PARAMS // width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def chunks(values: Sequence[Any], size: int = 5_000) -> Iterable[Sequence[Any]]:
    """Slices of ``values`` for IN lists."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def key_clauses(keys: Iterable[tuple[str, int]]) -> list[tuple[str, list[Any]]]:
    """WHERE clauses (with parameters) matching exactly these ``(origin, seq)`` keys.

    Per origin, each run of consecutive sequence numbers becomes one BETWEEN and the rest one
    IN list, so a batch of contiguous envelopes costs a handful of parameters and index seeks.
    Several clauses come back only when one would exceed the parameter or term limits.
    """
    by_origin: dict[str, set[int]] = {}
    for origin, seq in keys:
        by_origin.setdefault(origin, set()).add(seq)
    terms: list[tuple[str, list[Any]]] = []
    for origin, seqs in by_origin.items():
        singles: list[int] = []
        for low, high in _runs(sorted(seqs)):
            if high - low + 1 >= MIN_RANGE:
                terms.append(("(origin = {} AND seq BETWEEN {} AND {})", [origin, low, high]))
            else:
                singles.extend(range(low, high + 1))
        for part in chunks(singles):
            terms.append((f"(origin = {{}} AND seq IN ({marks(len(part))}))", [origin, *part]))
    clauses: list[tuple[str, list[Any]]] = []
    texts: list[str] = []
    params: list[Any] = []
    for text, values in terms:
        if texts and (len(texts) >= MAX_TERMS or len(params) + len(values) > MAX_PARAMS):
            clauses.append((" OR ".join(texts), params))
            texts, params = [], []
        texts.append(text)
        params.extend(values)
    if texts:
        clauses.append((" OR ".join(texts), params))
    return clauses


def _runs(ordered: list[int]) -> Iterable[tuple[int, int]]:
    if not ordered:
        return
    low = high = ordered[0]
    for value in ordered[1:]:
        if value == high + 1:
            high = value
        else:
            yield low, high
            low = high = value
    yield low, high

"""Set-based SQL of performance (绩效) indicators, on SQLite and PostgreSQL.

A refresh rebuilds ``perf_case`` from the projected states in one INSERT … SELECT (working-day
counts come from the ``supervision_day`` calendar table, whose ``wd`` ordinal turns "working days
between a and b" into ``wd(b) - wd(a)``), and adds new ratings and complaints found in the
states. Art. 45 excludes 特别程序 from the limits, so the working days inside a case's pauses are
subtracted from every count that runs from acceptance: one join of the pause intervals with the
calendar table counts each paused working day once, even where two pauses share a day. (Waiting
for 补正 needs no such step: it comes before acceptance, where no count starts.)

Indicator queries then aggregate those narrow tables with conditional sums, grouped by handling
node, item and the people who accepted and decided (``perf_actor``); every other grouping
(department, tier, clerk, the whole county) adds these counts up, so no query walks cases in
Python.

Dates and the rectification limit are literals produced here (as in
:mod:`central.db.reconcile_sql`); node ids of a subtree filter are always bound.
"""

# ruff: noqa: S608 - statements are built from constant identifiers and literals made here.

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from central.db.reconcile_sql import ESCALATION, Dialect, run, transaction

RATINGS_MARKER = b'"ratings":[{'
"""Bytes present in a projected state only when the case has at least one rating."""
COMPLAINTS_MARKER = b'"open_complaints":[{'
"""Bytes present in a projected state only when the case has an open complaint."""
PAUSES_MARKER = b'"pauses":[{'
"""Bytes present in a projected state only when the case has a finished 特别程序."""


def _doc_rows(d: Dialect, marker_filter: bool) -> str:
    """Accepted case rows with their state as a JSON value ``doc``."""
    where = f" AND {d.contains('c.state_json')}" if marker_filter else ""
    return (
        "SELECT c.case_id, c.item_code, COALESCE(c.handling_node, c.origin_node) AS node, "
        f"c.accepted_on, c.finished, c.promised_due, c.statutory_due, "
        f"{d.state_json('c.state_json')} AS doc FROM case_row c "
        f"WHERE c.state_json IS NOT NULL{where}"
    )


def _text(d: Dialect, doc: str, *path: str) -> str:
    if d.pg:
        return f"({doc} #>> '{{{','.join(path)}}}')"
    return f"json_extract({doc}, '$.{'.'.join(path)}')"


def _flag(d: Dialect, doc: str, *path: str) -> str:
    if d.pg:
        return f"CASE WHEN ({doc} #>> '{{{','.join(path)}}}') = 'true' THEN 1 ELSE 0 END"
    return f"CASE WHEN json_extract({doc}, '$.{'.'.join(path)}') THEN 1 ELSE 0 END"


def refresh_cases_sql(d: Dialect, today: date, w_today: int) -> str:
    """Rebuild ``perf_case`` (run after ``DELETE FROM perf_case``; binds :data:`PAUSES_MARKER`).

    ``used_wd``, ``promised_wd`` and ``statutory_wd`` leave out the paused working days up to
    the finish, the promised and the statutory due day; ``overdue_wd`` counts them as the fold's
    lights do.
    """
    t = d.day(today)
    return f"""
INSERT INTO perf_case (case_id, item_code, node, accepted_on, finished, finished_on,
    promised_due, timeliness, illegal, used_wd, promised_wd, statutory_wd, overdue_wd)
SELECT x.case_id, x.item_code, x.node, x.accepted_on, x.finished, x.finished_on,
    x.promised_due, x.timeliness, x.illegal,
    df.wd - da.wd - COALESCE(pz.in_used, 0),
    dp.wd - da.wd - COALESCE(pz.in_promised, 0),
    ds.wd - da.wd - COALESCE(pz.in_statutory, 0),
    CASE WHEN x.finished = 1 AND x.timeliness = 'late' THEN COALESCE(df.wd - dp.wd, 0)
         WHEN x.finished = 0 AND x.promised_due < {t} THEN COALESCE({w_today} - dp.wd, 0)
         ELSE 0 END
FROM (
    SELECT r.case_id, r.item_code, r.node, r.accepted_on,
        CASE WHEN r.finished THEN 1 ELSE 0 END AS finished,
        {d.json_date("r.doc", "state", "finished_on")} AS finished_on,
        r.promised_due, r.statutory_due,
        {_text(d, "r.doc", "state", "timeliness")} AS timeliness,
        {_flag(d, "r.doc", "state", "illegal_overdue")} AS illegal
    FROM ({_doc_rows(d, marker_filter=False)} AND c.accepted_on IS NOT NULL) r
) x
LEFT JOIN supervision_day da ON da.day = x.accepted_on
LEFT JOIN supervision_day df ON df.day = x.finished_on
LEFT JOIN supervision_day dp ON dp.day = x.promised_due
LEFT JOIN supervision_day ds ON ds.day = x.statutory_due
LEFT JOIN ({_paused_days(d)}) pz ON pz.case_id = x.case_id
"""


def _paused_days(d: Dialect) -> str:
    """Per finished case with pauses: its paused working days after acceptance, up to the finish
    (``in_used``), the promised (``in_promised``) and the statutory due day (``in_statutory``).

    A pause's first and last days are both excluded, as :mod:`shared.calendar` does; counting
    distinct days merges pauses that touch or overlap.
    """
    first = _field(d, "first", "date")
    last = _field(d, "last", "date")
    return f"""
    SELECT q.case_id,
        COUNT(DISTINCT CASE WHEN sd.day <= q.finished_on THEN sd.day END) AS in_used,
        COUNT(DISTINCT CASE WHEN sd.day <= q.promised_due THEN sd.day END) AS in_promised,
        COUNT(DISTINCT CASE WHEN sd.day <= q.statutory_due THEN sd.day END) AS in_statutory
    FROM (
        SELECT r.case_id, r.accepted_on, r.promised_due, r.statutory_due,
            {d.json_date("r.doc", "state", "finished_on")} AS finished_on,
            {first} AS first, COALESCE({last}, {first}) AS last
        FROM {_elements(d, "pauses")}
        WHERE r.finished AND r.accepted_on IS NOT NULL
    ) q
    JOIN supervision_day sd ON sd.day > q.accepted_on AND sd.day >= q.first
        AND sd.day <= q.last AND sd.is_working = TRUE
    GROUP BY q.case_id"""


def _elements(d: Dialect, array: str) -> str:
    """``FROM`` part expanding the state array ``array`` of each marked row into ``e.value``."""
    if d.pg:
        return (
            f"({_doc_rows(d, marker_filter=True)}) r "
            f"CROSS JOIN LATERAL jsonb_array_elements(r.doc #> '{{state,{array}}}') AS e(value)"
        )
    return f"({_doc_rows(d, marker_filter=True)}) r, json_each(r.doc, '$.state.{array}') e"


def _field(d: Dialect, name: str, cast: str = "") -> str:
    if d.pg:
        text = f"(e.value ->> '{name}')"
        return f"{text}::{cast}" if cast else text
    return f"json_extract(e.value, '$.{name}')"


def refresh_ratings_sql(d: Dialect, rectify_days: int) -> str:
    """Add ratings not seen before (bind :data:`RATINGS_MARKER`); a bad one gets its due day."""
    return f"""
INSERT INTO perf_rating (event_id, case_id, item_code, node, level, channel, rated_on,
    rectify_due)
SELECT x.event_id, x.case_id, x.item_code, x.node, x.level, x.channel, x.rated_on,
    CASE WHEN x.level <= 2 THEN (SELECT MIN(n.day) FROM supervision_day n
        WHERE n.wd = dr.wd + {int(rectify_days)} AND n.is_working) END
FROM (
    SELECT {_field(d, "event_id")} AS event_id, r.case_id, r.item_code, r.node,
        {_field(d, "level", "integer")} AS level, {_field(d, "channel")} AS channel,
        {_field(d, "rated_on", "date")} AS rated_on
    FROM {_elements(d, "ratings")}
) x
LEFT JOIN supervision_day dr ON dr.day = x.rated_on
WHERE x.event_id IS NOT NULL
ON CONFLICT (event_id) DO NOTHING
"""


def _open_complaints(d: Dialect) -> str:
    return f"""
    SELECT {_field(d, "complaint_id")} AS complaint_id, r.case_id, r.item_code, r.node,
        {_field(d, "filed_on", "date")} AS filed_on,
        {_field(d, "answer_due", "date")} AS answer_due
    FROM {_elements(d, "open_complaints")}"""


def refresh_complaints_sql(d: Dialect, today: date) -> tuple[str, str]:
    """Add complaints seen open for the first time; date the ones no longer open.

    Both statements bind :data:`COMPLAINTS_MARKER` once.
    """
    insert = f"""
INSERT INTO perf_complaint (complaint_id, case_id, item_code, node, filed_on, answer_due)
SELECT x.complaint_id, x.case_id, x.item_code, x.node, x.filed_on, x.answer_due
FROM ({_open_complaints(d)}) x
WHERE x.complaint_id IS NOT NULL
ON CONFLICT (complaint_id) DO NOTHING
"""
    close = f"""
UPDATE perf_complaint SET closed_seen_on = {d.day(today)}
WHERE closed_seen_on IS NULL AND complaint_id NOT IN (
    SELECT o.complaint_id FROM ({_open_complaints(d)}) o WHERE o.complaint_id IS NOT NULL)
"""
    return insert, close


@dataclass(frozen=True)
class Window:
    """A closed range of days ``first`` … ``last`` and the day the figures are taken."""

    first: date
    last: date
    today: date


ACTOR_COLUMNS = "a.accepted_node, a.accepted_by, a.decided_node, a.decided_by"
"""Who accepted and who decided, grouped on by every indicator query (NULL when unknown)."""


def case_counts_sql(d: Dialect, w: Window, where: str) -> str:
    """Case indicators of a window per (node, item, acceptor, decider); ``where`` filters ``p``
    (subtree)."""
    s, e, t = d.day(w.first), d.day(w.last), d.day(w.today)
    acc = f"p.accepted_on BETWEEN {s} AND {e}"
    fin = f"p.finished = 1 AND p.finished_on BETWEEN {s} AND {e}"
    late_open = f"p.finished = 0 AND p.promised_due < {t} AND p.promised_due <= {e}"
    full = "p.used_wd IS NOT NULL AND p.statutory_wd IS NOT NULL AND p.promised_wd IS NOT NULL"

    def count(cond: str) -> str:
        return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    def total(cond: str, value: str) -> str:
        return f"SUM(CASE WHEN {cond} THEN {value} ELSE 0 END)"

    return f"""
SELECT p.node AS node, p.item_code AS item_code, {ACTOR_COLUMNS},
    {count(acc)} AS accepted,
    {count(f"{acc} AND p.finished = 1 AND p.finished_on <= {e}")} AS accepted_finished,
    {count(fin)} AS finished,
    {count(f"{fin} AND p.timeliness IS NOT NULL")} AS timed,
    {count(f"{fin} AND p.timeliness IN ('early', 'on_time')")} AS on_time,
    {count(f"{fin} AND p.timeliness = 'early'")} AS early,
    {count(f"{fin} AND p.timeliness = 'late'")} AS late,
    {total(f"{fin} AND p.timeliness = 'late'", "p.overdue_wd")} AS late_days,
    {count(late_open)} AS open_overdue,
    {total(late_open, "p.overdue_wd")} AS open_overdue_days,
    {count(f"{fin} AND p.illegal = 1")} AS illegal,
    {count(f"{fin} AND {full}")} AS measured,
    {total(f"{fin} AND {full}", "p.used_wd")} AS used_wd,
    {total(f"{fin} AND {full}", "p.promised_wd")} AS promised_wd,
    {total(f"{fin} AND {full}", "p.statutory_wd")} AS statutory_wd
FROM perf_case p LEFT JOIN perf_actor a ON a.case_id = p.case_id
WHERE ({acc} OR ({fin}) OR ({late_open})) AND {where}
GROUP BY p.node, p.item_code, {ACTOR_COLUMNS}
"""


def rating_counts_sql(d: Dialect, w: Window, where: str) -> str:
    """Ratings of a window per (node, item, acceptor, decider, level) with the handling of the
    bad ones."""
    s, e = d.day(w.first), d.day(w.last)
    return f"""
SELECT p.node AS node, p.item_code AS item_code, {ACTOR_COLUMNS}, p.level AS level,
    COUNT(*) AS n,
    SUM(CASE WHEN f.rectified_on IS NOT NULL THEN 1 ELSE 0 END) AS rectified,
    SUM(CASE WHEN f.rectified_on IS NOT NULL AND f.rectified_on <= p.rectify_due
        THEN 1 ELSE 0 END) AS rectified_in_time,
    SUM(CASE WHEN f.called_back_on IS NOT NULL THEN 1 ELSE 0 END) AS called_back
FROM perf_rating p LEFT JOIN rating_followup f ON f.event_id = p.event_id
LEFT JOIN perf_actor a ON a.case_id = p.case_id
WHERE p.rated_on BETWEEN {s} AND {e} AND {where}
GROUP BY p.node, p.item_code, {ACTOR_COLUMNS}, p.level
"""


def complaint_counts_sql(d: Dialect, w: Window, where: str) -> str:
    """Complaints filed in a window per (node, item, acceptor, decider)."""
    s, e, t = d.day(w.first), d.day(w.last), d.day(w.today)
    return f"""
SELECT p.node AS node, p.item_code AS item_code, {ACTOR_COLUMNS}, COUNT(*) AS filed,
    SUM(CASE WHEN p.closed_seen_on IS NOT NULL THEN 1 ELSE 0 END) AS answered,
    SUM(CASE WHEN p.closed_seen_on IS NOT NULL
        AND (p.answer_due IS NULL OR p.closed_seen_on <= p.answer_due) THEN 1 ELSE 0 END)
        AS answered_in_time,
    SUM(CASE WHEN p.closed_seen_on IS NULL AND p.answer_due < {t} THEN 1 ELSE 0 END)
        AS answer_overdue
FROM perf_complaint p LEFT JOIN perf_actor a ON a.case_id = p.case_id
WHERE p.filed_on BETWEEN {s} AND {e} AND {where}
GROUP BY p.node, p.item_code, {ACTOR_COLUMNS}
"""


def daily_sql(d: Dialect, w: Window, where: str) -> str:
    """Per day: cases accepted, finished, finished on time and early (``where`` bound twice)."""
    s, e = d.day(w.first), d.day(w.last)
    return f"""
SELECT t.day AS day, SUM(t.accepted) AS accepted, SUM(t.finished) AS finished,
    SUM(t.on_time) AS on_time, SUM(t.early) AS early, SUM(t.timed) AS timed
FROM (
    SELECT p.accepted_on AS day, 1 AS accepted, 0 AS finished, 0 AS on_time, 0 AS early,
        0 AS timed
    FROM perf_case p WHERE p.accepted_on BETWEEN {s} AND {e} AND {where}
    UNION ALL
    SELECT p.finished_on, 0, 1,
        CASE WHEN p.timeliness IN ('early', 'on_time') THEN 1 ELSE 0 END,
        CASE WHEN p.timeliness = 'early' THEN 1 ELSE 0 END,
        CASE WHEN p.timeliness IS NOT NULL THEN 1 ELSE 0 END
    FROM perf_case p WHERE p.finished = 1 AND p.finished_on BETWEEN {s} AND {e} AND {where}
) t
GROUP BY t.day ORDER BY t.day
"""


async def refresh(
    engine: Any,
    *,
    today: date,
    w_today: int,
    rectify_days: int,
) -> None:
    """Rebuild ``perf_case`` and add new ratings and complaints, in one transaction."""
    d = Dialect(engine)
    insert_complaints, close_complaints = refresh_complaints_sql(d, today)
    async with transaction(engine):
        await run(engine, "DELETE FROM perf_case")
        await run(engine, refresh_cases_sql(d, today, w_today), [PAUSES_MARKER])
        await run(engine, refresh_ratings_sql(d, rectify_days), [RATINGS_MARKER])
        await run(engine, insert_complaints, [COMPLAINTS_MARKER])
        await run(engine, close_complaints, [COMPLAINTS_MARKER])


ACTOR_FIELDS = (
    "case_id",
    "seen_events",
    "seen_hlc_wall",
    "seen_hlc_counter",
    "accepted_node",
    "accepted_by",
    "decided_node",
    "decided_by",
)
ACTOR_UPSERT = "ON CONFLICT (case_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in ACTOR_FIELDS[1:]
)


def actors_due_sql(limit: int) -> str:
    """Accepted cases whose record changed since ``perf_actor`` read them, with their events.

    Binds the case id to start after; at most ``limit`` rows, in case id order.
    """
    return f"""
SELECT c.case_id AS case_id, c.events_count AS events_count, c.last_hlc_wall AS hlc_wall,
    c.last_hlc_counter AS hlc_counter, c.state_json AS state_json, s.state AS state
FROM case_row c
JOIN case_state s ON s.case_id = c.case_id
LEFT JOIN perf_actor a ON a.case_id = c.case_id
WHERE c.accepted_on IS NOT NULL AND c.case_id > {{}}
  AND (a.case_id IS NULL OR a.seen_events <> c.events_count OR a.seen_hlc_wall <> c.last_hlc_wall
       OR a.seen_hlc_counter <> c.last_hlc_counter)
ORDER BY c.case_id
LIMIT {int(limit)}
"""


def rating_lookup_sql(where: str) -> str:
    """A bad rating by event id (bound first), inside the subtree ``where``."""
    return (
        "SELECT p.case_id AS case_id, p.rated_on AS rated_on FROM perf_rating p "
        f"WHERE p.event_id = {{}} AND p.level <= 2 AND {where}"
    )


FOLLOWUP_UPSERT_SQL = (
    "INSERT INTO rating_followup (event_id, case_id, rectified_on, rectify_note, "
    "called_back_on, callback_note, changed_by, changed_at) "
    "VALUES ({}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (event_id) DO UPDATE SET "
    "rectified_on = excluded.rectified_on, rectify_note = excluded.rectify_note, "
    "called_back_on = excluded.called_back_on, callback_note = excluded.callback_note, "
    "changed_by = excluded.changed_by, changed_at = excluded.changed_at"
)


def bad_ratings_sql(where: str) -> str:
    """Bad ratings with their handling, newest first."""
    return (
        "SELECT p.event_id AS event_id, p.case_id AS case_id, p.node AS node, "
        "p.item_code AS item_code, p.level AS level, p.rated_on AS rated_on, "
        "p.rectify_due AS rectify_due, f.rectified_on AS rectified_on, "
        "f.called_back_on AS called_back_on FROM perf_rating p "
        "LEFT JOIN rating_followup f ON f.event_id = p.event_id "
        f"WHERE p.level <= 2 AND {where} ORDER BY p.rated_on DESC, p.event_id LIMIT 500"
    )


# ------------------------------------------------------------------ urges and the dashboard


def urge_targets_sql(kind: str, where: str, item_count: int = 0) -> str:
    """Open cases an urge reaches, with their handling node.

    ``kind``: ``case`` (binds the case id), ``node`` (binds the node id) or ``department``
    (binds ``item_count`` item codes); ``where`` filters ``case_row`` (subtree).
    """
    target = {
        "case": "case_row.case_id = {}",
        "node": "COALESCE(case_row.handling_node, case_row.origin_node) = {}",
        "department": f"case_row.item_code IN ({', '.join(['{}'] * max(item_count, 1))})",
    }[kind]
    return (
        "SELECT case_row.case_id AS case_id, case_row.finished AS finished, "
        "COALESCE(case_row.handling_node, case_row.origin_node) AS node FROM case_row "
        f"WHERE {target} AND {where} ORDER BY case_row.case_id"
    )


URGE_INSERT_SQL = (
    "INSERT INTO urge_issued (urge_id, case_id, node, level, content, feedback_due, "
    "target_kind, target, request_id, issued_by, issued_at) "
    "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (urge_id) DO NOTHING"
)

URGE_KNOWN_SQL = "SELECT urge_id FROM urge_issued WHERE request_id = {}"


def escalation_key_sql(case_id: str, urge_id: str) -> str:
    """SQL spelling of :func:`central.services.urges.escalation_key`."""
    return f"'{ESCALATION}|' || {case_id} || '|' || {urge_id}"


ESCALATIONS_DUE_SQL = f"""
SELECT a.case_id AS case_id, a.subject AS urge_id, a.node AS node, a.target_node AS target,
    u.level AS level, u.by_unit AS by_unit, u.feedback_due AS feedback_due, cs.state AS state
FROM supervision_action a
JOIN supervision_case sc ON sc.case_id = a.case_id
JOIN supervision_urge u ON u.case_id = a.case_id AND u.urge_id = a.subject
LEFT JOIN case_state cs ON cs.case_id = a.case_id
LEFT JOIN urge_issued prior
    ON prior.urge_id = a.subject AND prior.case_id = a.case_id
    AND prior.target_kind = '{ESCALATION}'
LEFT JOIN urge_issued sent ON sent.request_id = {escalation_key_sql("a.case_id", "a.subject")}
WHERE a.kind = 'escalation' AND u.open = TRUE AND sent.urge_id IS NULL
  AND (prior.target IS NULL OR prior.target <> a.target_node)
ORDER BY a.run, a.case_id, a.subject
"""
"""Escalations the reconciliation recorded that still owe their signed urge, oldest first, with
the case's document (to find an urge recorded just before a crash).

One is owed while the escalated urge is open on an open case and no urge was issued under the
escalation's key yet; an escalation that reaches no higher level than the urge it escalates
(the county escalating its own escalation) stays a recorded action.
"""


def urges_sql(where: str) -> str:
    """Issued urges with their case's state, newest first; ``where`` filters ``u.node``."""
    return (
        "SELECT u.urge_id AS urge_id, u.case_id AS case_id, u.node AS node, u.level AS level, "
        "u.content AS content, u.feedback_due AS feedback_due, u.target_kind AS target_kind, "
        "u.target AS target, u.issued_by AS issued_by, u.issued_at AS issued_at, "
        "c.receipt_no AS receipt_no, c.item_code AS item_code, c.state_json AS state_json "
        "FROM urge_issued u LEFT JOIN case_row c ON c.case_id = u.case_id "
        f"WHERE {where} ORDER BY u.issued_at DESC, u.urge_id LIMIT 500"
    )


def light_counts_sql(where: str) -> str:
    """Open cases per handling node and light (the reconciled light when there is one)."""
    return (
        "SELECT COALESCE(case_row.handling_node, case_row.origin_node) AS node, "
        "COALESCE(s.light, case_row.light, 'none') AS light, COUNT(*) AS n FROM case_row "
        "LEFT JOIN supervision_case s ON s.case_id = case_row.case_id "
        f"WHERE NOT case_row.finished AND {where} GROUP BY 1, 2"
    )


def node_cases_sql(where: str, light: bool, days: str) -> str:
    """Open cases handled at a node (bound first), optionally of one light (bound next);
    ``days`` selects ``remaining_days`` and ``overdue_days`` of ``s`` (LightsClock.columns)."""
    light_filter = " AND COALESCE(s.light, case_row.light, 'none') = {}" if light else ""
    return (
        "SELECT case_row.case_id AS case_id, case_row.receipt_no AS receipt_no, "
        "case_row.item_code AS item_code, case_row.status AS status, "
        "case_row.accepted_on AS accepted_on, "
        "COALESCE(s.due, case_row.promised_due) AS due, "
        "COALESCE(s.light, case_row.light, 'none') AS light, "
        f"{days} "
        "FROM case_row LEFT JOIN supervision_case s ON s.case_id = case_row.case_id "
        "WHERE NOT case_row.finished "
        "AND COALESCE(case_row.handling_node, case_row.origin_node) = {}"
        f"{light_filter} AND {where} "
        "ORDER BY COALESCE(s.due, case_row.promised_due), case_row.case_id LIMIT 1000"
    )

"""Set-based SQL of the county's reconciliation, on SQLite and PostgreSQL.

Every statement works on all open cases at once; nothing loops over cases in Python. The run's
constants (today, its working-day ordinal, the run number, rule values) are integers and dates
produced here, so they are written into the statement text as literals: the statements are long
and repeat them many times, and a literal lets each dialect type them without casts.

How a light is computed (the same rules as :func:`shared.fold.fold_case`):

* ``remaining = wd(due) - wd(today)``; red when ``today > due``, yellow when
  ``remaining <= warning window``, else green; overdue working days ``wd(today) - wd(due)``.
* A case in a running 特别程序 has a due day that moves with today, because the fold extends the
  open pause to today. Projection stored the due day ``D`` and the remaining days ``r`` at some
  day ``P``; with the pause starting on ``p``, the working days still to count after the pause
  are ``k = min(r, wd(D) - wd(p))`` (``r`` when ``P >= p``). When ``k > 0`` the due day today is
  the k-th working day after ``max(p, today)``; otherwise the due day came before the pause and
  stays. The statutory deadline of a paused case is past only if it was passed before the pause.
"""

# ruff: noqa: S608 - statements are built from constant identifiers and literals made here.

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from central.db.bulk_sql import Sql, insert_sql, row_chunks
from shared.registry import COUNTY_NODE_ID

URGES_MARKER = b'"open_urges":[{'
"""Bytes present in a projected state only when the case has an open urge."""
ESCALATION = "escalation"
"""``urge_issued.target_kind`` of an urge the reconciliation issued one level up."""


class Dialect:
    """The few spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, engine: Engine) -> None:  # type: ignore[type-arg]
        self.pg = isinstance(engine, PostgresEngine)

    def day(self, value: date) -> str:
        """A date literal."""
        return f"DATE '{value.isoformat()}'" if self.pg else f"'{value.isoformat()}'"

    def greatest(self, a: str, b: str) -> str:
        """The larger of two values (NULL if either is NULL)."""
        return f"GREATEST({a}, {b})" if self.pg else f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        """The smaller of two values."""
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

    def distinct(self, a: str, b: str) -> str:
        """Null-safe inequality."""
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    def as_text(self, column: str) -> str:
        """A date column as ``YYYY-MM-DD`` text."""
        return f"CAST({column} AS TEXT)"

    def state_json(self, column: str) -> str:
        """A projected state (bytes) as a JSON value."""
        return f"convert_from({column}, 'UTF8')::jsonb" if self.pg else f"CAST({column} AS TEXT)"

    def json_date(self, doc: str, *path: str) -> str:
        """A date inside a JSON value."""
        if self.pg:
            return f"({doc} #>> '{{{','.join(path)}}}')::date"
        return f"json_extract({doc}, '$.{'.'.join(path)}')"

    def json_int(self, doc: str, *path: str) -> str:
        """An integer inside a JSON value."""
        if self.pg:
            return f"({doc} #>> '{{{','.join(path)}}}')::bigint"
        return f"json_extract({doc}, '$.{'.'.join(path)}')"

    def contains(self, column: str) -> str:
        """Whether a bytes column contains the bound bytes parameter."""
        return f"position({{}}::bytea in {column}) > 0" if self.pg else f"instr({column}, {{}}) > 0"


def transaction(engine: Engine) -> Any:  # type: ignore[type-arg]
    """A write transaction; on SQLite it takes the write lock at once, so a concurrent sync
    waits instead of failing half-way."""
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


async def run(engine: Engine, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # type: ignore[type-arg]
    """Run one statement (inside the current transaction, if any)."""
    return list(await engine.run_querystring(Sql(sql, params)))


SCHEMA = (
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_rule_key ON supervision_rule (name, item_code)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_term_key "
    "ON supervision_term (catalog_version, item_code)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_urge_key ON supervision_urge (case_id, urge_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_action_key "
    "ON supervision_action (case_id, kind, subject)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_signal_key "
    "ON supervision_signal (kind, evidence)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_backlog_key ON supervision_backlog (node, day)",
)


async def ensure_supervision_schema(engine: Engine) -> None:  # type: ignore[type-arg]
    """Create the composite unique indexes (idempotent)."""
    for statement in SCHEMA:
        await engine.run_ddl(statement)


# ------------------------------------------------------------------ marks and bulk rows


async def get_mark(engine: Engine, name: str) -> str | None:  # type: ignore[type-arg]
    """A bookkeeping value, or None."""
    rows = await run(engine, "SELECT value FROM supervision_mark WHERE name = {}", [name])
    return str(rows[0]["value"]) if rows else None


async def set_mark(engine: Engine, name: str, value: str) -> None:  # type: ignore[type-arg]
    """Store a bookkeeping value."""
    await run(
        engine,
        "INSERT INTO supervision_mark (name, value) VALUES ({}, {}) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [name, value],
    )


async def insert_rows(
    engine: Engine,  # type: ignore[type-arg]
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    tail: str = "",
) -> None:
    """Multi-row INSERTs in chunks small enough for either driver."""
    for part in row_chunks(rows, len(columns)):
        sql = insert_sql(table, columns, len(part), tail)
        await run(engine, sql, [value for row in part for value in row])


async def working_ordinal(engine: Engine, day: date) -> int | None:  # type: ignore[type-arg]
    """``wd`` of a day, None when the calendar table does not reach it."""
    d = Dialect(engine)
    rows = await run(engine, f"SELECT wd FROM supervision_day WHERE day = {d.day(day)}")
    return int(rows[0]["wd"]) if rows else None


# ------------------------------------------------------------------ days left and overdue

LIGHTS_TODAY, LIGHTS_W_TODAY = "lights_today", "lights_w_today"
"""Marks naming the day (and its working-day ordinal) of the lights now stored."""


class LightsClock:
    """The day the stored lights were computed for, to derive days left and overdue from."""

    def __init__(self, today: date, w_today: int) -> None:
        self.today = today
        self.w_today = int(w_today)

    def remaining(self, d: Dialect, alias: str) -> str:
        """Working days left to the due day (negative once past), as the fold counts them."""
        return f"({alias}.wd_due - {self.w_today})"

    def overdue(self, d: Dialect, alias: str) -> str:
        """Working days past the due day; NULL while the due day has not passed."""
        return (
            f"(CASE WHEN {alias}.due < {d.day(self.today)} "
            f"THEN {self.w_today} - {alias}.wd_due ELSE NULL END)"
        )

    def columns(self, d: Dialect, alias: str) -> str:
        """``remaining_days`` and ``overdue_days`` select columns of ``alias``."""
        return (
            f"{self.remaining(d, alias)} AS remaining_days, "
            f"{self.overdue(d, alias)} AS overdue_days"
        )


class NoLights(LightsClock):
    """Before the first reconciliation: nothing is known, every count is NULL."""

    def __init__(self) -> None:
        super().__init__(date.min, 0)

    def remaining(self, d: Dialect, alias: str) -> str:
        return "CAST(NULL AS BIGINT)"

    def overdue(self, d: Dialect, alias: str) -> str:
        return "CAST(NULL AS BIGINT)"


async def lights_clock(engine: Engine) -> LightsClock:  # type: ignore[type-arg]
    """The day of the stored lights (:class:`NoLights` before the first reconciliation)."""
    today, w_today = await get_mark(engine, LIGHTS_TODAY), await get_mark(engine, LIGHTS_W_TODAY)
    if today is None or w_today is None:
        return NoLights()
    return LightsClock(date.fromisoformat(today), int(w_today))


def supervised_sql(d: Dialect, clock: LightsClock) -> str:
    """Every supervised case with its days left and overdue derived for ``clock``'s day."""
    return f"SELECT sc.*, {clock.columns(d, 'sc')} FROM supervision_case sc"


# ------------------------------------------------------------------ the reconciliation


class RunConstants:
    """What one reconciliation run writes into its statements."""

    def __init__(
        self,
        *,
        run: int,
        today: date,
        w_today: int,
        default_warning: int,
        yellow_after: int,
        red_after: int,
    ) -> None:
        self.run = int(run)
        self.today = today
        self.w_today = int(w_today)
        self.default_warning = int(default_warning)
        self.yellow_after = int(yellow_after)
        self.red_after = int(red_after)


def paused_due_sql(d: Dialect, c: RunConstants) -> str:
    """Fill ``supervision_pause`` with today's promised due day of every open paused case."""
    doc = d.state_json("cr.state_json")
    pause_first = d.json_date("s.j", "state", "open_pause", "first")
    remaining = d.json_int("s.j", "state", "remaining_working_days")
    q = d.greatest("x.paused_from", d.day(c.today))
    k = d.least("x.r", "dd.wd - dp.wd")
    return f"""
INSERT INTO supervision_pause (case_id, due, paused_from)
SELECT y.case_id,
       CASE WHEN y.k > 0
            THEN (SELECT n.day FROM supervision_day n
                  WHERE n.wd = y.wq + y.k AND n.is_working = TRUE)
            ELSE y.promised_due END,
       y.paused_from
FROM (
    SELECT x.case_id, x.promised_due, x.paused_from, {k} AS k, dq.wd AS wq
    FROM (
        SELECT s.case_id, s.promised_due, {pause_first} AS paused_from, {remaining} AS r
        FROM (
            SELECT cr.case_id, cr.promised_due, {doc} AS j
            FROM case_row cr
            WHERE cr.paused = TRUE AND cr.finished = FALSE AND cr.promised_due IS NOT NULL
        ) s
    ) x
    JOIN supervision_day dd ON dd.day = x.promised_due
    JOIN supervision_day dp ON dp.day = x.paused_from
    JOIN supervision_day dq ON dq.day = {q}
) y
"""


def upsert_cases_sql(d: Dialect, c: RunConstants) -> str:
    """Recompute every open case and write only the rows whose supervision state changed.

    The row keeps the due day's working-day ordinal, not the days left or overdue: those change
    for every open case every working day, and readers derive them from the ordinal and the
    reconciliation's day (:class:`LightsClock`). So a run writes only the cases whose light,
    card, due day or record changed, instead of rewriting every open case each morning.
    """
    today = d.day(c.today)
    run_ = c.run
    card = (
        f"CASE WHEN b.overdue > {c.red_after} THEN 2 "
        f"WHEN b.overdue > {c.yellow_after} THEN 1 ELSE 0 END"
    )
    light = (
        "CASE WHEN b.due IS NULL THEN 'none' "
        f"WHEN b.due < {today} THEN 'red' "
        "WHEN b.remaining IS NOT NULL AND b.remaining <= b.warning THEN 'yellow' "
        "ELSE 'green' END"
    )
    sc = "supervision_case"
    enters_yellow = (
        f"excluded.light = 'yellow' AND ({sc}.warned_due IS NULL "
        f"OR {sc}.warned_due <> excluded.due)"
    )
    new_card = f"excluded.card > {sc}.card"
    seen_changed = (
        f"excluded.seen_events <> {sc}.seen_events "
        f"OR excluded.seen_hlc_wall <> {sc}.seen_hlc_wall "
        f"OR excluded.seen_hlc_counter <> {sc}.seen_hlc_counter"
    )
    changed = " OR ".join(
        [
            d.distinct(f"excluded.{col}", f"{sc}.{col}")
            for col in ("light", "due", "wd_due", "node", "item_code")
        ]
        + [f"excluded.illegal <> {sc}.illegal", new_card, seen_changed]
    )
    # The same test on the computed row ``n`` and the stored one ``s0``: the rows that did not
    # change are left out before the INSERT, which on SQLite costs far more per row (an insert
    # attempt, a conflict, then the DO UPDATE test) than this join.
    unchanged_not = changed.replace("excluded.", "n.").replace(f"{sc}.", "s0.")
    return f"""
INSERT INTO supervision_case (case_id, node, item_code, due, wd_due, light,
    illegal, warned_due, warned_run, card, carded_run, seen_events, seen_hlc_wall,
    seen_hlc_counter, urge_run)
SELECT n.* FROM (
SELECT b.case_id AS case_id, b.node AS node, b.item_code AS item_code, b.due AS due,
       b.wd_due AS wd_due,
       {light} AS light,
       b.illegal AS illegal,
       CASE WHEN ({light}) = 'yellow' THEN b.due ELSE NULL END AS warned_due,
       CASE WHEN ({light}) = 'yellow' THEN {run_} ELSE NULL END AS warned_run,
       {card} AS card,
       CASE WHEN ({card}) > 0 THEN {run_} ELSE NULL END AS carded_run,
       b.events_count AS seen_events, b.last_hlc_wall AS seen_hlc_wall,
       b.last_hlc_counter AS seen_hlc_counter, {run_} AS urge_run
FROM (
    SELECT a.*, dd.wd AS wd_due, dd.wd - {c.w_today} AS remaining,
           CASE WHEN a.due < {today} THEN {c.w_today} - dd.wd ELSE 0 END AS overdue
    FROM (
        SELECT cr.case_id, cr.handling_node AS node, cr.item_code, cr.events_count,
               cr.last_hlc_wall, cr.last_hlc_counter,
               CASE WHEN cr.paused = TRUE THEN sp.due ELSE cr.promised_due END AS due,
               COALESCE(CASE WHEN cr.statutory_due IS NULL THEN FALSE
                    WHEN cr.paused = TRUE
                        THEN cr.statutory_due < {today} AND cr.statutory_due < sp.paused_from
                    ELSE cr.statutory_due < {today} END, FALSE) AS illegal,
               COALESCE(ri.value, t.warning_days, {c.default_warning}) AS warning
        FROM case_row cr
        LEFT JOIN supervision_pause sp ON sp.case_id = cr.case_id
        LEFT JOIN supervision_term t
            ON t.catalog_version = cr.catalog_version AND t.item_code = cr.item_code
        LEFT JOIN supervision_rule ri ON ri.name = 'warning_days' AND ri.item_code = cr.item_code
        WHERE cr.finished = FALSE
    ) a
    LEFT JOIN supervision_day dd ON dd.day = a.due
) b
) n
LEFT JOIN supervision_case s0 ON s0.case_id = n.case_id
WHERE s0.case_id IS NULL OR {unchanged_not}
ON CONFLICT (case_id) DO UPDATE SET
    node = excluded.node,
    item_code = excluded.item_code,
    due = excluded.due,
    wd_due = excluded.wd_due,
    light = excluded.light,
    illegal = excluded.illegal,
    warned_due = CASE WHEN {enters_yellow} THEN excluded.due ELSE {sc}.warned_due END,
    warned_run = CASE WHEN {enters_yellow} THEN {run_} ELSE {sc}.warned_run END,
    card = CASE WHEN {new_card} THEN excluded.card ELSE {sc}.card END,
    carded_run = CASE WHEN {new_card} THEN {run_} ELSE {sc}.carded_run END,
    seen_events = excluded.seen_events,
    seen_hlc_wall = excluded.seen_hlc_wall,
    seen_hlc_counter = excluded.seen_hlc_counter,
    urge_run = CASE WHEN {seen_changed} THEN {run_} ELSE {sc}.urge_run END
WHERE {changed}
"""


CLOSE_FINISHED_SQL = (
    "DELETE FROM supervision_case WHERE case_id IN "
    "(SELECT case_id FROM case_row WHERE finished = TRUE)"
)
"""Finished cases leave supervision; what was issued for them stays in supervision_action."""


def actions_sql(d: Dialect, c: RunConstants) -> list[str]:
    """Record the warnings and cards this run issued (once per case, kind and due day)."""
    today = d.day(c.today)
    due = d.as_text("due")
    return [
        f"""
INSERT INTO supervision_action (run, case_id, kind, subject, node, target_node, on_day, detail)
SELECT {c.run}, case_id, 'warning', {due}, node, node, {today}, ''
FROM supervision_case WHERE warned_run = {c.run}
ON CONFLICT (case_id, kind, subject) DO NOTHING
""",
        f"""
INSERT INTO supervision_action (run, case_id, kind, subject, node, target_node, on_day, detail)
SELECT {c.run}, case_id, CASE WHEN card = 2 THEN 'red_card' ELSE 'yellow_card' END, {due},
       node, node, {today}, ''
FROM supervision_case WHERE carded_run = {c.run}
ON CONFLICT (case_id, kind, subject) DO NOTHING
""",
    ]


def urges_sql(d: Dialect, c: RunConstants) -> tuple[str, str]:
    """Refresh the open urges of the cases whose record changed, then close answered ones.

    The first statement takes the bytes marker of :data:`URGES_MARKER` as its one parameter.
    """
    doc = d.state_json("cr.state_json")
    if d.pg:
        source = (
            f"FROM case_row cr JOIN supervision_case sc ON sc.case_id = cr.case_id, "
            f"jsonb_array_elements({doc} #> '{{state,open_urges}}') u "
        )

        def field(name: str) -> str:
            return f"u.value ->> '{name}'"

        due = "(u.value ->> 'feedback_due')::date"
    else:
        source = (
            "FROM case_row cr JOIN supervision_case sc ON sc.case_id = cr.case_id, "
            f"json_each({doc}, '$.state.open_urges') u "
        )

        def field(name: str) -> str:
            return f"json_extract(u.value, '$.{name}')"

        due = field("feedback_due")
    refresh = f"""
INSERT INTO supervision_urge (case_id, urge_id, level, by_unit, feedback_due, event_id, open,
    seen_run, escalated_run)
SELECT cr.case_id, {field("urge_id")}, {field("level")}, {field("by_unit")}, {due},
       {field("event_id")}, TRUE, {c.run}, NULL
{source}
WHERE sc.urge_run = {c.run} AND {d.contains("cr.state_json")}
ON CONFLICT (case_id, urge_id) DO UPDATE SET open = TRUE, seen_run = excluded.seen_run
"""
    close = f"""
UPDATE supervision_urge SET open = FALSE
WHERE open = TRUE AND seen_run < {c.run}
  AND case_id IN (SELECT case_id FROM supervision_case WHERE urge_run = {c.run})
"""
    return refresh, close


def escalation_sql(d: Dialect, c: RunConstants) -> tuple[str, str]:
    """Escalate every open urge whose feedback day has passed, once, to the next level up.

    The level up is the parent of the node the urge was addressed to: the handling node for an
    urge a supervisor issued, the node named in ``urge_issued`` for an escalation itself (so an
    unanswered escalation climbs on), and the county when there is no parent.
    """
    today = d.day(c.today)
    mark = f"""
UPDATE supervision_urge SET escalated_run = {c.run}
WHERE open = TRUE AND escalated_run IS NULL AND feedback_due < {today}
  AND case_id IN (SELECT case_id FROM supervision_case)
"""
    record = f"""
INSERT INTO supervision_action (run, case_id, kind, subject, node, target_node, on_day, detail)
SELECT {c.run}, u.case_id, 'escalation', u.urge_id, sc.node,
       COALESCE(n.parent, '{COUNTY_NODE_ID}'), {today}, u.by_unit
FROM supervision_urge u
JOIN supervision_case sc ON sc.case_id = u.case_id
LEFT JOIN urge_issued i
    ON i.urge_id = u.urge_id AND i.case_id = u.case_id AND i.target_kind = '{ESCALATION}'
LEFT JOIN node_entry n ON n.node_id = COALESCE(i.target, sc.node)
WHERE u.escalated_run = {c.run}
ON CONFLICT (case_id, kind, subject) DO NOTHING
"""
    return mark, record


def count_actions_sql(c: RunConstants) -> str:
    """What this run recorded, by kind."""
    return f"SELECT kind, COUNT(*) AS n FROM supervision_action WHERE run = {c.run} GROUP BY kind"


# ------------------------------------------------------------------ tamper and health signals

SIGNAL_COLUMNS = (
    "kind, severity, node, case_id, evidence_kind, evidence, detail, first_seen, last_seen, "
    "resolved_at"
)
SIGNAL_UPSERT = (
    "ON CONFLICT (kind, evidence) DO UPDATE SET last_seen = excluded.last_seen, "
    "resolved_at = NULL, detail = excluded.detail, node = excluded.node"
)
CONDITION_KINDS = ("chain_gap", "quarantined_origin", "silent_node", "backlog")
"""Signals about a condition that can end; the others are facts kept for good."""

STRUCTURAL_REASONS = (
    "fork",
    "bad_signature",
    "deletes_history",
    "foreign_node_event",
    "foreign_client",
    "unknown_root",
    "malformed_event",
    "case_mismatch",
    "undecodable_update",
)


class SignalSql:
    """Statements that refresh ``supervision_signal``; each binds ``now`` where it shows ``{}``."""

    def __init__(self, d: Dialect) -> None:
        self.d = d

    def _hex(self, column: str) -> str:
        return f"encode({column}, 'hex')" if self.d.pg else f"lower(hex({column}))"

    def _epoch_ms(self, column: str) -> str:
        if self.d.pg:
            return f"(EXTRACT(EPOCH FROM {column}) * 1000)"
        return f"((julianday({column}) - 2440587.5) * 86400000.0)"

    def _before(self, column: str) -> str:
        """``column`` earlier than the bound instant."""
        return f"{column} < {{}}" if self.d.pg else f"julianday({column}) < julianday({{}})"

    def backdated(self, after_pos: int, window_ms: int) -> str:
        """Envelopes whose HLC is older than their arrival by more than the offline window.

        Binds: now, now.
        """
        lag = f"{self._epoch_ms('l.received_at')} - l.hlc_wall"
        hours = f"CAST(({lag}) / 3600000 AS BIGINT)"
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'backdated', 'high', l.origin, l.case_id, 'envelope', {self._hex("l.hash")},
       'seq ' || CAST(l.seq AS TEXT) || ': ' || CAST({hours} AS TEXT) || 'h', {{}}, {{}}, NULL
FROM sync_log l
WHERE l.pos > {int(after_pos)} AND {lag} > {int(window_ms)}
{SIGNAL_UPSERT}
"""

    def flagged(self, kind: str, flag: str, node_column: str, severity: str) -> str:
        """One signal per case carrying a projection flag. Binds: now, now."""
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT '{kind}', '{severity}', cr.{node_column}, cr.case_id, 'case', cr.case_id, '{flag}',
       {{}}, {{}}, NULL
FROM case_row cr
WHERE cr.flags LIKE '%"{flag}"%'
{SIGNAL_UPSERT}
"""

    def unauthorized(self) -> str:
        """One signal per unauthorised action kept as evidence in a case. Binds: now, now."""
        doc = self.d.state_json("cr.state_json")
        if self.d.pg:
            source = f"jsonb_array_elements({doc} -> 'unauthorized') u"
            node, event_id = "(u.value ->> 'node_id')", "(u.value ->> 'event_id')"
            detail = "(u.value ->> 'kind') || ': ' || (u.value ->> 'reason')"
        else:
            source = f"json_each({doc}, '$.unauthorized') u"
            node = "json_extract(u.value, '$.node_id')"
            event_id = "json_extract(u.value, '$.event_id')"
            detail = "json_extract(u.value, '$.kind') || ': ' || json_extract(u.value, '$.reason')"
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'unauthorized_action', 'high', {node}, cr.case_id, 'event',
       cr.case_id || '/' || {event_id}, {detail}, {{}}, {{}}, NULL
FROM case_row cr, {source}
WHERE cr.flags LIKE '%"unauthorized_action"%'
{SIGNAL_UPSERT}
"""

    def rejections(self, after_id: int) -> str:
        """Forks and every other rejected envelope, each linked to its rejection row.

        Binds: now, now.
        """
        structural = ", ".join(f"'{r}'" for r in STRUCTURAL_REASONS)
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT CASE WHEN r.reason = 'fork' THEN 'fork' ELSE 'rejected_record' END,
       CASE WHEN r.reason IN ({structural}) THEN 'high' ELSE 'medium' END,
       r.origin, r.case_id, 'rejection', CAST(r.id AS TEXT),
       r.reason || ': ' || r.detail, {{}}, {{}}, NULL
FROM sync_rejection r
WHERE r.id > {int(after_id)}
{SIGNAL_UPSERT}
"""

    def chain_gaps(self) -> str:
        """Origins with envelopes held back (a gap in the chain). Binds: now, now."""
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'chain_gap', 'medium', h.origin, NULL, 'node', h.origin,
       CAST(COUNT(*) AS TEXT) || ' held from seq ' || CAST(MIN(h.seq) AS TEXT), {{}}, {{}}, NULL
FROM sync_held h
WHERE TRUE
GROUP BY h.origin
{SIGNAL_UPSERT}
"""

    def quarantined(self) -> str:
        """Quarantined origins. Binds: now, now."""
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'quarantined_origin', 'high', q.origin, NULL, 'node', q.origin, q.reason, {{}}, {{}}, NULL
FROM sync_quarantine q
WHERE TRUE
{SIGNAL_UPSERT}
"""

    def silent(self) -> str:
        """Enrolled, active nodes with no sign of life since the cutoff.

        A sign of life is the latest of: the node's own authenticated sync call, the arrival of
        its records relayed by its township (``node_contact``, recorded by the sync endpoint),
        its newest logged record, and its enrollment. Binds: now, now, cutoff.
        """
        e = "n.enrolled_at"
        last = self.d.greatest(
            self.d.greatest(f"COALESCE(c.last_contact, {e})", f"COALESCE(c.last_relayed, {e})"),
            f"COALESCE(l.received_at, {e})",
        )
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'silent_node', 'medium', n.node_id, NULL, 'node', n.node_id,
       'last contact ' || CAST({last} AS TEXT), {{}}, {{}}, NULL
FROM node_entry n
LEFT JOIN sync_head h ON h.origin = n.node_id
LEFT JOIN sync_log l ON l.origin = h.origin AND l.seq = h.seq
LEFT JOIN node_contact c ON c.node_id = n.node_id
WHERE n.node_id <> '{COUNTY_NODE_ID}' AND n.status = 'active' AND n.enrolled_at IS NOT NULL
  AND {self._before(last)}
{SIGNAL_UPSERT}
"""

    def backlog_snapshot(self, today: date) -> str:
        """Today's open and overdue counts per handling node."""
        return f"""
INSERT INTO supervision_backlog (node, day, open_count, overdue_count)
SELECT node, {self.d.day(today)}, COUNT(*), SUM(CASE WHEN light = 'red' THEN 1 ELSE 0 END)
FROM supervision_case WHERE node IS NOT NULL GROUP BY node
ON CONFLICT (node, day) DO UPDATE SET open_count = excluded.open_count,
    overdue_count = excluded.overdue_count
"""

    def backlog(self, today: date, since: date, min_open: int, growth_percent: int) -> str:
        """Nodes whose open cases grew by the configured share within the window.

        Binds: now, now.
        """
        return f"""
INSERT INTO supervision_signal ({SIGNAL_COLUMNS})
SELECT 'backlog', 'medium', t.node, NULL, 'node', t.node,
       CAST(b.open_count AS TEXT) || ' -> ' || CAST(t.open_count AS TEXT), {{}}, {{}}, NULL
FROM supervision_backlog t
JOIN supervision_backlog b ON b.node = t.node AND b.day = (
    SELECT MIN(x.day) FROM supervision_backlog x
    WHERE x.node = t.node AND x.day >= {self.d.day(since)} AND x.day < {self.d.day(today)})
WHERE t.day = {self.d.day(today)} AND t.open_count >= {int(min_open)}
  AND t.open_count * 100 >= b.open_count * (100 + {int(growth_percent)})
{SIGNAL_UPSERT}
"""

    @staticmethod
    def resolve() -> str:
        """Conditions not seen in this refresh have ended. Binds: now, now."""
        kinds = ", ".join(f"'{k}'" for k in CONDITION_KINDS)
        return (
            f"UPDATE supervision_signal SET resolved_at = {{}} "
            f"WHERE kind IN ({kinds}) AND resolved_at IS NULL AND last_seen <> {{}}"
        )

"""Piccolo tables of electronic supervision (电子监察) at the county.

The working calendar is copied into ``supervision_day`` so deadline arithmetic runs inside SQL:
``wd`` counts the working days up to and including each day, so the working days d with
a < d <= b are ``wd(b) - wd(a)`` for every pair of dates in the table, which is exactly what
:meth:`shared.calendar.WorkingCalendar.working_days_between` counts without pauses.

Composite unique indexes are created by :func:`central.db.reconcile_sql.ensure_supervision_schema`
because Piccolo has no helper for them.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, Date, Integer, Text, Timestamptz
from piccolo.table import Table


class SupervisionDay(Table, tablename="supervision_day"):
    """One calendar day: whether offices are open and the working-day ordinal up to it."""

    day = Date(primary_key=True)
    is_working = Boolean()
    wd = BigInt(index=True)


class SupervisionMark(Table, tablename="supervision_mark"):
    """Named bookkeeping values: run counter, calendar fingerprint, log cursor."""

    name = Text(primary_key=True)
    value = Text()


class SupervisionRule(Table, tablename="supervision_rule"):
    """A configured rule value; ``item_code`` '' applies to every item."""

    name = Text()
    item_code = Text(default="")
    value = BigInt()
    changed_by = Text(default="")
    changed_at = Timestamptz(null=True, default=None)


class SupervisionTerm(Table, tablename="supervision_term"):
    """Each catalog version's warning window per item, read from the signed releases."""

    catalog_version = BigInt()
    item_code = Text()
    warning_days = Integer()
    unit = Text()


class SupervisionPause(Table, tablename="supervision_pause"):
    """Scratch table of one run: today's promised due day of each case in a 特别程序."""

    case_id = Text(primary_key=True)
    due = Date(null=True, default=None)
    paused_from = Date(null=True, default=None)


class SupervisionCase(Table, tablename="supervision_case"):
    """The supervision state of each open case, recomputed set-based by every reconciliation.

    ``warned_due`` / ``card`` remember what was already issued, so a warning or card is recorded
    once per due day; ``*_run`` columns name the run that last changed them, which is how the
    run finds the transitions it must record without a second pass over all cases.
    """

    case_id = Text(primary_key=True)
    node = Text(null=True, default=None, index=True)
    item_code = Text(null=True, default=None)
    due = Date(null=True, default=None)
    light = Text(index=True)
    illegal = Boolean(default=False)
    warned_due = Date(null=True, default=None)
    warned_run = BigInt(null=True, default=None, index=True)
    card = Integer(default=0)  # 0 none, 1 yellow card (黄牌), 2 red card (红牌)
    carded_run = BigInt(null=True, default=None, index=True)
    seen_events = BigInt(default=0)
    seen_hlc_wall = BigInt(default=0)
    seen_hlc_counter = BigInt(default=0)
    urge_run = BigInt(null=True, default=None, index=True)
    # Working-day ordinal of ``due`` (supervision_day.wd): days left and overdue derive from it.
    wd_due = BigInt(null=True, default=None)


class SupervisionUrge(Table, tablename="supervision_urge"):
    """An urge (催办/督办) seen open in a case's projected state."""

    case_id = Text(index=True)
    urge_id = Text()
    level = Text()
    by_unit = Text()
    feedback_due = Date()
    event_id = Text()
    open = Boolean(default=True)
    seen_run = BigInt()
    escalated_run = BigInt(null=True, default=None)


class SupervisionAction(Table, tablename="supervision_action"):
    """A recorded transition: a warning (预警), a yellow or red card, or an escalation.

    ``subject`` makes each transition unique per case (the due day it concerns, or the urge id).
    """

    run = BigInt(index=True)
    case_id = Text(index=True)
    kind = Text()
    subject = Text()
    node = Text(null=True, default=None)
    target_node = Text(null=True, default=None)
    on_day = Date()
    detail = Text(default="")


class SupervisionSignal(Table, tablename="supervision_signal"):
    """A tamper or health signal with a link to its evidence.

    ``evidence`` is unique per kind (an envelope hash in hex, a case id, a rejection id, a node
    id), so refreshing keeps ``first_seen``. ``resolved_at`` is set when a condition that can end
    (a silent node, a held gap, a backlog) is no longer seen.
    """

    kind = Text(index=True)
    severity = Text()
    node = Text(null=True, default=None, index=True)
    case_id = Text(null=True, default=None)
    evidence_kind = Text()
    evidence = Text()
    detail = Text(default="")
    first_seen = Timestamptz()
    last_seen = Timestamptz()
    resolved_at = Timestamptz(null=True, default=None)


class SupervisionBacklog(Table, tablename="supervision_backlog"):
    """Open cases per handling node per day, to see backlogs grow."""

    node = Text()
    day = Date()
    open_count = BigInt()
    overdue_count = BigInt()


SUPERVISION_TABLES: tuple[type[Table], ...] = (
    SupervisionDay,
    SupervisionMark,
    SupervisionRule,
    SupervisionTerm,
    SupervisionPause,
    SupervisionCase,
    SupervisionUrge,
    SupervisionAction,
    SupervisionSignal,
    SupervisionBacklog,
)

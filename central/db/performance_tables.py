"""Piccolo tables of performance (绩效) and urges issued at the county.

``perf_*`` tables are derived: :mod:`central.db.performance_sql` rebuilds them set-based from the
projected ``case_row`` states (``perf_actor`` from the case events), so they can be dropped at
any time. ``rating_followup`` and
``urge_issued`` hold what only the county knows (the handling of a bad rating, who urged what)
and are never rebuilt.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Date, Integer, Text, Timestamptz
from piccolo.table import Table


class PerfCase(Table, tablename="perf_case"):
    """One accepted case with what performance needs that ``case_row`` lacks.

    Working-day counts run from acceptance (``*_wd``); ``overdue_wd`` counts the working days
    past the promised due day when finished late, or up to the refresh day while still open.
    """

    case_id = Text(primary_key=True)
    item_code = Text(null=True, default=None, index=True)
    node = Text(null=True, default=None, index=True)
    accepted_on = Date(null=True, default=None, index=True)
    finished = Integer(default=0)
    finished_on = Date(null=True, default=None, index=True)
    promised_due = Date(null=True, default=None)
    timeliness = Text(null=True, default=None)
    illegal = Integer(default=0)
    used_wd = BigInt(null=True, default=None)
    promised_wd = BigInt(null=True, default=None)
    statutory_wd = BigInt(null=True, default=None)
    overdue_wd = BigInt(default=0)


class PerfActor(Table, tablename="perf_actor"):
    """Who accepted (受理人) and who decided (决定人) a case: the node and the account.

    The projected state does not name the people who acted, so a refresh reads the events of
    the cases whose record changed since it last looked (``seen_*``), and only those. Usernames
    are unique within a node only, hence the node beside each one. Derived like ``perf_case``.
    """

    case_id = Text(primary_key=True)
    seen_events = BigInt(default=0)
    seen_hlc_wall = BigInt(default=0)
    seen_hlc_counter = BigInt(default=0)
    accepted_node = Text(null=True, default=None)
    accepted_by = Text(null=True, default=None)
    decided_node = Text(null=True, default=None)
    decided_by = Text(null=True, default=None)


class PerfRating(Table, tablename="perf_rating"):
    """One 好差评 evaluation; a bad one (1-2) must be rectified by ``rectify_due``."""

    event_id = Text(primary_key=True)
    case_id = Text(index=True)
    item_code = Text(null=True, default=None)
    node = Text(null=True, default=None)
    level = Integer()
    channel = Text()
    rated_on = Date(index=True)
    rectify_due = Date(null=True, default=None)


class PerfComplaint(Table, tablename="perf_complaint"):
    """A complaint seen open in a case state; ``closed_seen_on`` is the first refresh it was gone.

    The fold keeps only open complaints, so an answer is dated by the refresh that first sees the
    complaint closed (refreshes run daily with reconciliation).
    """

    complaint_id = Text(primary_key=True)
    case_id = Text(index=True)
    item_code = Text(null=True, default=None)
    node = Text(null=True, default=None)
    filed_on = Date(index=True)
    answer_due = Date(null=True, default=None)
    closed_seen_on = Date(null=True, default=None)


class RatingFollowup(Table, tablename="rating_followup"):
    """The county's handling of a bad rating: rectification (整改) and the call-back (回访)."""

    event_id = Text(primary_key=True)
    case_id = Text(index=True)
    rectified_on = Date(null=True, default=None)
    rectify_note = Text(default="")
    called_back_on = Date(null=True, default=None)
    callback_note = Text(default="")
    changed_by = Text(default="")
    changed_at = Timestamptz(null=True, default=None)


class UrgeIssued(Table, tablename="urge_issued"):
    """An urge the county recorded: who issued it and for what target (a case, node or dept.)."""

    urge_id = Text(primary_key=True)
    case_id = Text(index=True)
    node = Text(null=True, default=None, index=True)
    level = Text()
    content = Text()
    feedback_due = Date()
    target_kind = Text()
    target = Text()
    request_id = Text(index=True)
    issued_by = Text()
    issued_at = Timestamptz()


PERFORMANCE_TABLES: tuple[type[Table], ...] = (
    PerfCase,
    PerfActor,
    PerfRating,
    PerfComplaint,
    RatingFollowup,
    UrgeIssued,
)

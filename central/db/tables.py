"""Piccolo tables of the county centre (singular names)."""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, Bytea, Date, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class CatalogRelease(Table):
    """An immutable, versioned snapshot of the county catalog, stored exactly as published."""

    version = Integer(unique=True, index=True)
    content_hash = Varchar(length=64)
    body = Text()
    published_at = Timestamptz()
    published_by = Varchar(length=100)


# Replication (sync/store.py). Strings are Text, never VARCHAR(n): a length limit on a field that
# arrives inside a signed envelope would turn one odd envelope into a failed batch. Integers that
# come from envelopes (seq, HLC, client ids) are BigInt. Composite unique indexes are created by
# central.db.sync_store.ensure_sync_schema, because Piccolo has no helper for them.


class SyncLog(Table, tablename="sync_log"):
    """Every accepted envelope exactly as received; ``pos`` is the arrival order."""

    pos = BigInt(primary_key=True)  # SQLite: INTEGER PRIMARY KEY, i.e. the rowid
    origin = Text()
    seq = BigInt()
    hash = Bytea(unique=True)
    prev = Bytea()
    case_id = Text()
    hlc_wall = BigInt()
    hlc_counter = BigInt()
    client_id = BigInt()
    update_hash = Bytea(index=True)
    body = Bytea()
    sig = Bytea()
    received_at = Timestamptz()


class SyncHead(Table, tablename="sync_head"):
    """The newest accepted envelope of each origin."""

    origin = Text(primary_key=True)
    seq = BigInt()
    hash = Bytea()
    hlc_wall = BigInt()
    hlc_counter = BigInt()


class SyncHeld(Table, tablename="sync_held"):
    """Envelopes kept aside until a gap closes or a clock catches up."""

    origin = Text()
    seq = BigInt()
    hash = Bytea()
    prev = Bytea()
    case_id = Text()
    hlc_wall = BigInt()
    hlc_counter = BigInt()
    client_id = BigInt()
    update_hash = Bytea()
    body = Bytea()
    sig = Bytea()


class SyncClient(Table, tablename="sync_client"):
    """Which node owns each CRDT client id (53-bit)."""

    client_id = BigInt(primary_key=True)
    node = Text()


class SyncRejection(Table, tablename="sync_rejection"):
    """Evidence: a rejected envelope, its reason and when it arrived; ``id`` orders them."""

    origin = Text(index=True)
    seq = BigInt()
    hash = Bytea()
    case_id = Text()
    reason = Text()
    detail = Text()
    body = Bytea()
    sig = Bytea()
    received_at = Timestamptz()


class SyncQuarantine(Table, tablename="sync_quarantine"):
    """Origins whose envelopes are no longer trusted, with the first reason."""

    origin = Text(primary_key=True)
    reason = Text()


class CaseState(Table, tablename="case_state"):
    """Projected CRDT state of each case."""

    case_id = Text(primary_key=True)
    state = Bytea()


class CaseRowRecord(Table, tablename="case_row"):
    """The queryable projection of each case (``sync.store.CaseRow``)."""

    case_id = Text(primary_key=True)
    item_code = Text(null=True, default=None)
    catalog_version = BigInt(null=True, default=None)
    origin_node = Text(null=True, default=None)
    handling_node = Text(null=True, default=None, index=True)
    status = Text(index=True)
    receipt_no = Text(null=True, default=None, index=True)
    applicant_name = Text(null=True, default=None)
    received_on = Date(null=True, default=None)
    accepted_on = Date(null=True, default=None)
    promised_due = Date(null=True, default=None, index=True)
    statutory_due = Date(null=True, default=None)
    due_provisional = Boolean()
    paused = Boolean()
    finished = Boolean()
    light = Text(null=True, default=None)
    flags = Text()  # JSON array of strings
    events_count = BigInt()
    last_hlc_wall = BigInt()
    last_hlc_counter = BigInt()
    state_json = Bytea()


class CaseParty(Table, tablename="case_party"):
    """A node taking part in a case."""

    case_id = Text()
    node = Text(index=True)


class ProjectionWatermark(Table, tablename="projection_watermark"):
    """One row (``id`` 1): the log position up to which every entry is projected."""

    id = Integer(primary_key=True)
    watermark = BigInt()


class SyncFeed(Table, tablename="sync_feed"):
    """Log entries queued for each child node, numbered by ``feed_pos`` across all children."""

    feed_pos = BigInt(primary_key=True)
    child = Text()
    origin = Text()
    seq = BigInt()


class SyncCursor(Table, tablename="sync_cursor"):
    """Named positions that only move forward (e.g. how far the county pulled from a node)."""

    name = Text(primary_key=True)
    value = BigInt()


SYNC_TABLES: tuple[type[Table], ...] = (
    SyncLog,
    SyncHead,
    SyncHeld,
    SyncClient,
    SyncRejection,
    SyncQuarantine,
    CaseState,
    CaseRowRecord,
    CaseParty,
    ProjectionWatermark,
    SyncFeed,
    SyncCursor,
)

ALL_TABLES: tuple[type[Table], ...] = (CatalogRelease, *SYNC_TABLES)

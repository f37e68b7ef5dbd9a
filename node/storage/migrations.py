"""Schema of the node database as registered, transactional migrations.

Migrations are applied at start-up. A database written by a newer tongban (a migration this
version does not know) is refused instead of being guessed at: an offline node's records are
the only copy until they reach the parent.
"""

from __future__ import annotations

import secrets

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from shared.errors import ConflictError

MIGRATIONS = Migrations("node")


@MIGRATIONS()
def m001_catalog_release(db: Database) -> None:
    """Catalog releases received from the parent, stored as the exact published bytes."""
    db.table("catalog_release").create(
        {
            "version": int,
            "content_hash": str,
            "body": str,
            "published_at": str,
            "received_at": str,
            "source": str,
        },
        pk="version",
    )


_REPLICATION_SCHEMA = (
    # The envelope log. pos is the rowid: arrival order, never reused (AUTOINCREMENT), and the
    # clustering order that log_after and case_log read by. (origin, seq) is the logical key.
    """CREATE TABLE sync_log (
        pos INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL UNIQUE,
        prev BLOB NOT NULL,
        case_id TEXT NOT NULL,
        hlc_wall INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        client_id INTEGER NOT NULL,
        update_hash BLOB NOT NULL,
        body BLOB NOT NULL,
        sig BLOB NOT NULL,
        UNIQUE (origin, seq)
    )""",
    "CREATE INDEX sync_log_case ON sync_log (case_id)",
    "CREATE INDEX sync_log_client ON sync_log (client_id)",
    "CREATE INDEX sync_log_update ON sync_log (update_hash)",
    """CREATE TABLE sync_head (
        origin TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        hlc_wall INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE sync_held (
        origin TEXT NOT NULL,
        seq INTEGER NOT NULL,
        pos INTEGER NOT NULL,
        hash BLOB NOT NULL,
        prev BLOB NOT NULL,
        case_id TEXT NOT NULL,
        hlc_wall INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        client_id INTEGER NOT NULL,
        update_hash BLOB NOT NULL,
        body BLOB NOT NULL,
        sig BLOB NOT NULL,
        PRIMARY KEY (origin, seq)
    )""",
    "CREATE TABLE sync_client (client_id INTEGER PRIMARY KEY, node TEXT NOT NULL)",
    """CREATE TABLE sync_rejection (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        case_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        body BLOB NOT NULL,
        sig BLOB NOT NULL,
        received_at TEXT NOT NULL
    )""",
    "CREATE INDEX sync_rejection_origin ON sync_rejection (origin, id)",
    """CREATE TABLE sync_quarantine (
        origin TEXT PRIMARY KEY,
        reason TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE TABLE case_state (case_id TEXT PRIMARY KEY, state BLOB NOT NULL)",
    """CREATE TABLE case_row (
        case_id TEXT PRIMARY KEY,
        item_code TEXT,
        catalog_version INTEGER,
        origin_node TEXT,
        handling_node TEXT,
        status TEXT NOT NULL,
        receipt_no TEXT,
        applicant_name TEXT,
        received_on TEXT,
        accepted_on TEXT,
        promised_due TEXT,
        statutory_due TEXT,
        due_provisional INTEGER NOT NULL,
        paused INTEGER NOT NULL,
        finished INTEGER NOT NULL,
        light TEXT,
        flags TEXT NOT NULL,
        events_count INTEGER NOT NULL,
        last_hlc_wall INTEGER NOT NULL,
        last_hlc_counter INTEGER NOT NULL,
        state_json BLOB NOT NULL
    )""",
    "CREATE INDEX case_row_status ON case_row (status)",
    "CREATE INDEX case_row_handling ON case_row (handling_node)",
    "CREATE INDEX case_row_receipt ON case_row (receipt_no)",
    "CREATE INDEX case_row_promised_due ON case_row (promised_due)",
    """CREATE TABLE case_party (
        case_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        PRIMARY KEY (case_id, node_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX case_party_node ON case_party (node_id)",
    """CREATE TABLE sync_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        watermark INTEGER NOT NULL
    )""",
    "INSERT INTO sync_meta (id, watermark) VALUES (1, 0)",
    """CREATE TABLE sync_feed (
        feed_pos INTEGER PRIMARY KEY AUTOINCREMENT,
        child TEXT NOT NULL,
        origin TEXT NOT NULL,
        seq INTEGER NOT NULL,
        FOREIGN KEY (origin, seq) REFERENCES sync_log (origin, seq)
    )""",
    "CREATE INDEX sync_feed_child ON sync_feed (child, feed_pos)",
    """CREATE TABLE sync_cursor (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID""",
)


@MIGRATIONS()
def m002_replication(db: Database) -> None:
    """Replication: the envelope log, heads, held and rejected envelopes, the case projection,
    the feed to children and named cursors (see node/storage/sync_store.py)."""
    for statement in _REPLICATION_SCHEMA:
        db.execute(statement)


_ACCOUNTS_SCHEMA = (
    # Staff of this node. Accounts are node-local so that a hall keeps working offline; roles
    # are the space-separated codes of node.services.accounts.Role.
    """CREATE TABLE staff_user (
        user_id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        password_changed_at TEXT NOT NULL
    )""",
    # Only the SHA-256 of a session token is stored: a copy of the database opens no session.
    """CREATE TABLE staff_session (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES staff_user (user_id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX staff_session_user ON staff_session (user_id)",
    "CREATE INDEX staff_session_expires ON staff_session (expires_at)",
    # Failed log-ins by the name typed, known or not, so a lock says nothing about who exists.
    """CREATE TABLE login_failure (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL,
        failed_at TEXT NOT NULL
    )""",
    "CREATE INDEX login_failure_user ON login_failure (username, failed_at)",
    # Secrets of the web layer (the CSRF signing secret) that must survive a restart.
    """CREATE TABLE web_secret (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
)


@MIGRATIONS()
def m003_accounts(db: Database) -> None:
    """Staff accounts, their sessions, failed log-ins and the web layer's secrets
    (see node/storage/accounts.py)."""
    for statement in _ACCOUNTS_SCHEMA:
        db.execute(statement)


def known_migration_names() -> list[str]:
    """Names this version of tongban can apply, in order."""
    return [m.name for m in MIGRATIONS._migrations]


def migrate(db: Database) -> None:
    """Apply pending migrations; refuse a database from a newer version.

    Raises:
        ConflictError: the database has migrations this version does not know.
    """
    known = set(known_migration_names())
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in known]
    if unknown:
        raise ConflictError(
            "节点数据库由更新版本的通办创建（未知迁移："
            + "、".join(unknown)
            + "）。请升级通办后再启动，切勿删除数据库。",
            code="schema_too_new",
        )
    MIGRATIONS.apply(db)


@MIGRATIONS()
def m004_drop_log_client_index(db: Database) -> None:
    """Client ownership is read from sync_client; the log's client id index only slowed ingest."""
    db.execute("DROP INDEX IF EXISTS sync_log_client")


_INTAKE_SCHEMA = (
    # Per-day receipt serials: day is the China-time date (yyyy-mm-dd) printed in the number.
    """CREATE TABLE receipt_serial (
        day TEXT PRIMARY KEY,
        serial INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # Secrets of the intake desk (the query-code HMAC key), made once per node.
    """CREATE TABLE intake_secret (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID""",
    # A client's request id → the answer first given, so a double submit makes one case.
    """CREATE TABLE intake_request (
        request_id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL,
        result BLOB NOT NULL,
        created_at TEXT NOT NULL
    ) WITHOUT ROWID""",
)


@MIGRATIONS()
def m005_receipt_serials(db: Database) -> None:
    """Receipt serials per China-time day, the query-code secret and intake request ids
    (see node/storage/intake_store.py)."""
    for statement in _INTAKE_SCHEMA:
        db.execute(statement)
    db.execute(
        "INSERT INTO intake_secret (name, value) VALUES ('query_code', ?)",
        [secrets.token_bytes(32)],
    )


_KIOSK_SCHEMA = (
    # Self pre-applications made at the kiosk, waiting for a clerk to pick them up. number is
    # what the resident reads to the clerk; request_id stops a double-tapped submit from
    # making a second one. applicant holds the msgspec JSON of shared.events.Applicant.
    """CREATE TABLE kiosk_preapplication (
        number TEXT PRIMARY KEY,
        request_id TEXT UNIQUE,
        item_code TEXT NOT NULL,
        applicant BLOB NOT NULL,
        materials TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        case_id TEXT,
        picked_up_at TEXT
    ) WITHOUT ROWID""",
    "CREATE INDEX kiosk_preapplication_status ON kiosk_preapplication (status, created_at)",
    # Per-day serials of pre-application numbers (China-time day, yyyy-mm-dd).
    """CREATE TABLE kiosk_serial (
        day TEXT PRIMARY KEY,
        serial INTEGER NOT NULL
    ) WITHOUT ROWID""",
    # Failed receipt/query-code checks per client address: the six-digit code is only safe
    # behind a limit that survives a restart.
    """CREATE TABLE kiosk_lookup_failure (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        client TEXT NOT NULL,
        failed_at TEXT NOT NULL
    )""",
    "CREATE INDEX kiosk_lookup_failure_client ON kiosk_lookup_failure (client, failed_at)",
)


@MIGRATIONS()
def m006_kiosk(db: Database) -> None:
    """The resident kiosk: pre-applications, their daily serials and failed lookups
    (see node/storage/kiosk_store.py)."""
    for statement in _KIOSK_SCHEMA:
        db.execute(statement)


_DOCUMENT_SCHEMA = (
    # Yearly serials of document numbers per prefix (机关简称+文书性质, e.g. 示范镇受).
    """CREATE TABLE document_serial (
        prefix TEXT NOT NULL,
        year INTEGER NOT NULL,
        serial INTEGER NOT NULL,
        PRIMARY KEY (prefix, year)
    ) WITHOUT ROWID""",
    # Every notice or certificate issued, as the exact signed bytes: a reprint is the same paper.
    """CREATE TABLE issued_document (
        case_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        document_no TEXT NOT NULL UNIQUE,
        signed BLOB NOT NULL,
        issued_at TEXT NOT NULL,
        PRIMARY KEY (case_id, kind)
    ) WITHOUT ROWID""",
    # The clerk's queue: cases this node handles, unfinished first, nearest due day first.
    "CREATE INDEX case_row_queue ON case_row "
    "(handling_node, finished, COALESCE(promised_due, '9999-12-31'), received_on DESC)",
    "CREATE INDEX case_row_urgency ON case_row "
    "(finished, COALESCE(promised_due, '9999-12-31'), received_on DESC)",
    "CREATE INDEX case_row_applicant ON case_row (applicant_name)",
    "CREATE INDEX case_row_item ON case_row (item_code)",
)


@MIGRATIONS()
def m008_documents(db: Database) -> None:
    """Signed window documents and their number serials (see node/storage/document_store.py),
    and the indexes of the clerk's queue and search (see node/storage/case_queue.py)."""
    for statement in _DOCUMENT_SCHEMA:
        db.execute(statement)


@MIGRATIONS()
def m009_certificate_serials(db: Database) -> None:
    """Per-year serials of the certificates this node issues
    (see node/storage/handling_store.py)."""
    db.execute(
        """CREATE TABLE certificate_serial (
            year INTEGER PRIMARY KEY,
            serial INTEGER NOT NULL
        ) WITHOUT ROWID"""
    )


_REMINDER_SCHEMA = (
    # Deadline reminders for this node's clerks, written by the worker's offline reconciliation.
    # (case_id, kind, subject) names one transition (the promised due day that was entered, a
    # material, an urge), so a reminder appears once however often the task runs.
    """CREATE TABLE reminder (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        due TEXT,
        receipt_no TEXT,
        item_code TEXT,
        applicant_name TEXT,
        created_at TEXT NOT NULL,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        resolved_at TEXT,
        UNIQUE (case_id, kind, subject)
    )""",
    "CREATE INDEX reminder_open ON reminder (resolved_at, acknowledged_at, level)",
    # What the reconciliation last folded per case: the case's events (count and last stamp)
    # and the China-time day; an unchanged case is folded again only when the day changes.
    """CREATE TABLE reminder_watch (
        case_id TEXT PRIMARY KEY,
        events_count INTEGER NOT NULL,
        hlc_wall INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        folded_on TEXT NOT NULL
    ) WITHOUT ROWID""",
)


@MIGRATIONS()
def m007_reminders(db: Database) -> None:
    """Local deadline reminders and the reconciliation's per-case watermark
    (see node/storage/reminder_store.py)."""
    for statement in _REMINDER_SCHEMA:
        db.execute(statement)


_SEARCH_INDEXES = (
    "DROP INDEX IF EXISTS case_row_applicant",
    "DROP INDEX IF EXISTS case_row_item",
    # Covering indexes: a search that matches thousands of cases (every case of a popular item,
    # every 王) sorts its matches from the index alone and reads the table for one page only.
    "CREATE INDEX case_row_applicant_sort ON case_row "
    "(applicant_name, handling_node, status, finished, promised_due, received_on)",
    "CREATE INDEX case_row_item_sort ON case_row "
    "(item_code, handling_node, status, finished, promised_due, received_on)",
)


@MIGRATIONS()
def m010_covering_search_indexes(db: Database) -> None:
    """Search indexes that carry the queue's sort keys (see node/storage/case_queue.py)."""
    for statement in _SEARCH_INDEXES:
        db.execute(statement)

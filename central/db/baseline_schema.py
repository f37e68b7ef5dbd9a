"""The county database as tongban 0.1.0 left it: the DDL of the baseline migration, frozen.

Written out from the Piccolo tables (``central/db/*_tables.py``) and the composite indexes their
stores declared (``ensure_sync_schema``, ``ensure_supervision_schema``, ``ensure_portal_schema``)
as they stood when migrations were introduced. It is text rather than ``create_table()`` of those
classes because a later migration that alters a table must find the table as it was here, not as
its class has become since; ``tests/central/test_migrations.py`` checks that applying every
migration gives exactly the schema the classes declare.

Every statement is idempotent (``IF NOT EXISTS``), so the baseline also adopts a database created
by tongban before migrations: what exists is kept with its rows, what a development build lacked
is added.

Spelled as Piccolo writes PostgreSQL; :func:`baseline_statements` gives the SQLite spelling,
which is what Piccolo declares there (its SQLite type converters key on these declared types).
"""

from __future__ import annotations

TABLES: tuple[str, ...] = (
    # central/db/tables.py: catalog releases, the envelope log and the case projection
    """CREATE TABLE IF NOT EXISTS "catalog_release" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "version" INTEGER UNIQUE NOT NULL DEFAULT 0,
        "content_hash" VARCHAR(64) NOT NULL DEFAULT '',
        "body" TEXT NOT NULL DEFAULT '',
        "published_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "published_by" VARCHAR(100) NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS catalog_release_version "
    'ON "catalog_release" USING btree ("version")',
    """CREATE TABLE IF NOT EXISTS "sync_log" (
        "pos" BIGINT PRIMARY KEY NOT NULL DEFAULT 0,
        "origin" TEXT NOT NULL DEFAULT '',
        "seq" BIGINT NOT NULL DEFAULT 0,
        "hash" BYTEA UNIQUE NOT NULL DEFAULT '',
        "prev" BYTEA NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "hlc_wall" BIGINT NOT NULL DEFAULT 0,
        "hlc_counter" BIGINT NOT NULL DEFAULT 0,
        "client_id" BIGINT NOT NULL DEFAULT 0,
        "update_hash" BYTEA NOT NULL DEFAULT '',
        "body" BYTEA NOT NULL DEFAULT '',
        "sig" BYTEA NOT NULL DEFAULT '',
        "received_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    'CREATE INDEX IF NOT EXISTS sync_log_update_hash ON "sync_log" USING btree ("update_hash")',
    """CREATE TABLE IF NOT EXISTS "sync_head" (
        "origin" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "seq" BIGINT NOT NULL DEFAULT 0,
        "hash" BYTEA NOT NULL DEFAULT '',
        "hlc_wall" BIGINT NOT NULL DEFAULT 0,
        "hlc_counter" BIGINT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS "sync_held" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "origin" TEXT NOT NULL DEFAULT '',
        "seq" BIGINT NOT NULL DEFAULT 0,
        "hash" BYTEA NOT NULL DEFAULT '',
        "prev" BYTEA NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "hlc_wall" BIGINT NOT NULL DEFAULT 0,
        "hlc_counter" BIGINT NOT NULL DEFAULT 0,
        "client_id" BIGINT NOT NULL DEFAULT 0,
        "update_hash" BYTEA NOT NULL DEFAULT '',
        "body" BYTEA NOT NULL DEFAULT '',
        "sig" BYTEA NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "sync_client" (
        "client_id" BIGINT PRIMARY KEY NOT NULL DEFAULT 0,
        "node" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "sync_rejection" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "origin" TEXT NOT NULL DEFAULT '',
        "seq" BIGINT NOT NULL DEFAULT 0,
        "hash" BYTEA NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "reason" TEXT NOT NULL DEFAULT '',
        "detail" TEXT NOT NULL DEFAULT '',
        "body" BYTEA NOT NULL DEFAULT '',
        "sig" BYTEA NOT NULL DEFAULT '',
        "received_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    'CREATE INDEX IF NOT EXISTS sync_rejection_origin ON "sync_rejection" USING btree ("origin")',
    """CREATE TABLE IF NOT EXISTS "sync_quarantine" (
        "origin" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "reason" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "case_state" (
        "case_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "state" BYTEA NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "case_row" (
        "case_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "item_code" TEXT DEFAULT null,
        "catalog_version" BIGINT DEFAULT null,
        "origin_node" TEXT DEFAULT null,
        "handling_node" TEXT DEFAULT null,
        "status" TEXT NOT NULL DEFAULT '',
        "receipt_no" TEXT DEFAULT null,
        "applicant_name" TEXT DEFAULT null,
        "received_on" DATE DEFAULT null,
        "accepted_on" DATE DEFAULT null,
        "promised_due" DATE DEFAULT null,
        "statutory_due" DATE DEFAULT null,
        "due_provisional" BOOLEAN NOT NULL DEFAULT false,
        "paused" BOOLEAN NOT NULL DEFAULT false,
        "finished" BOOLEAN NOT NULL DEFAULT false,
        "light" TEXT DEFAULT null,
        "flags" TEXT NOT NULL DEFAULT '',
        "events_count" BIGINT NOT NULL DEFAULT 0,
        "last_hlc_wall" BIGINT NOT NULL DEFAULT 0,
        "last_hlc_counter" BIGINT NOT NULL DEFAULT 0,
        "state_json" BYTEA NOT NULL DEFAULT ''
    )""",
    'CREATE INDEX IF NOT EXISTS case_row_handling_node ON "case_row" USING btree ("handling_node")',
    'CREATE INDEX IF NOT EXISTS case_row_status ON "case_row" USING btree ("status")',
    'CREATE INDEX IF NOT EXISTS case_row_receipt_no ON "case_row" USING btree ("receipt_no")',
    'CREATE INDEX IF NOT EXISTS case_row_promised_due ON "case_row" USING btree ("promised_due")',
    """CREATE TABLE IF NOT EXISTS "case_party" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "case_id" TEXT NOT NULL DEFAULT '',
        "node" TEXT NOT NULL DEFAULT ''
    )""",
    'CREATE INDEX IF NOT EXISTS case_party_node ON "case_party" USING btree ("node")',
    """CREATE TABLE IF NOT EXISTS "projection_watermark" (
        "id" INTEGER PRIMARY KEY NOT NULL DEFAULT 0,
        "watermark" BIGINT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS "sync_feed" (
        "feed_pos" BIGINT PRIMARY KEY NOT NULL DEFAULT 0,
        "child" TEXT NOT NULL DEFAULT '',
        "origin" TEXT NOT NULL DEFAULT '',
        "seq" BIGINT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS "sync_cursor" (
        "name" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "value" BIGINT NOT NULL DEFAULT 0
    )""",
    # central/db/registry_tables.py: the node registry and enrollment tokens
    """CREATE TABLE IF NOT EXISTS "node_entry" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "node_id" VARCHAR(63) UNIQUE NOT NULL DEFAULT '',
        "name" VARCHAR(200) NOT NULL DEFAULT '',
        "tier" VARCHAR(20) NOT NULL DEFAULT '',
        "parent" VARCHAR(63) DEFAULT null,
        "short_code" VARCHAR(8) UNIQUE NOT NULL DEFAULT '',
        "public_key" TEXT NOT NULL DEFAULT '',
        "status" VARCHAR(20) NOT NULL DEFAULT 'active',
        "status_reason" TEXT NOT NULL DEFAULT '',
        "status_since" TIMESTAMPTZ DEFAULT null,
        "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "enrolled_at" TIMESTAMPTZ DEFAULT null
    )""",
    'CREATE INDEX IF NOT EXISTS node_entry_node_id ON "node_entry" USING btree ("node_id")',
    """CREATE TABLE IF NOT EXISTS "enrollment_token" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "token_hash" VARCHAR(64) UNIQUE NOT NULL DEFAULT '',
        "node_id" VARCHAR(63) NOT NULL DEFAULT '',
        "expires_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "used_at" TIMESTAMPTZ DEFAULT null,
        "created_by" VARCHAR(100) NOT NULL DEFAULT '',
        "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS enrollment_token_token_hash "
    'ON "enrollment_token" USING btree ("token_hash")',
    "CREATE INDEX IF NOT EXISTS enrollment_token_node_id "
    'ON "enrollment_token" USING btree ("node_id")',
    # central/db/account_tables.py: county staff, sessions and failed log-ins
    """CREATE TABLE IF NOT EXISTS "county_account" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "username" VARCHAR(32) UNIQUE NOT NULL DEFAULT '',
        "name" VARCHAR(40) NOT NULL DEFAULT '',
        "roles" TEXT NOT NULL DEFAULT '',
        "home_node" VARCHAR(63) NOT NULL DEFAULT 'county',
        "department" VARCHAR(60) DEFAULT null,
        "password_hash" TEXT NOT NULL DEFAULT '',
        "active" BOOLEAN NOT NULL DEFAULT true,
        "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "password_changed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS county_account_username "
    'ON "county_account" USING btree ("username")',
    """CREATE TABLE IF NOT EXISTS "county_session" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "token_hash" VARCHAR(64) UNIQUE NOT NULL DEFAULT '',
        "account_id" INTEGER NOT NULL DEFAULT 0,
        "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "last_seen_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "expires_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS county_session_token_hash "
    'ON "county_session" USING btree ("token_hash")',
    "CREATE INDEX IF NOT EXISTS county_session_account_id "
    'ON "county_session" USING btree ("account_id")',
    "CREATE INDEX IF NOT EXISTS county_session_expires_at "
    'ON "county_session" USING btree ("expires_at")',
    """CREATE TABLE IF NOT EXISTS "county_login_failure" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "username" VARCHAR(64) NOT NULL DEFAULT '',
        "failed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS county_login_failure_username "
    'ON "county_login_failure" USING btree ("username")',
    "CREATE INDEX IF NOT EXISTS county_login_failure_failed_at "
    'ON "county_login_failure" USING btree ("failed_at")',
    # central/db/catalog_admin_tables.py: catalog drafts and their audit trail
    """CREATE TABLE IF NOT EXISTS "catalog_draft" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "state" VARCHAR(20) NOT NULL DEFAULT '',
        "revision" INTEGER NOT NULL DEFAULT 0,
        "base_version" INTEGER DEFAULT null,
        "base_digest" VARCHAR(64) NOT NULL DEFAULT '',
        "content" TEXT NOT NULL DEFAULT '',
        "created_by" VARCHAR(100) NOT NULL DEFAULT '',
        "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "updated_by" VARCHAR(100) NOT NULL DEFAULT '',
        "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "submitted_by" VARCHAR(100) DEFAULT null,
        "submitted_at" TIMESTAMPTZ DEFAULT null,
        "reviewed_by" VARCHAR(100) DEFAULT null,
        "reviewed_at" TIMESTAMPTZ DEFAULT null,
        "review_comment" TEXT NOT NULL DEFAULT '',
        "published_version" INTEGER DEFAULT null
    )""",
    'CREATE INDEX IF NOT EXISTS catalog_draft_state ON "catalog_draft" USING btree ("state")',
    """CREATE TABLE IF NOT EXISTS "catalog_audit" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "actor" VARCHAR(100) NOT NULL DEFAULT '',
        "action" VARCHAR(40) NOT NULL DEFAULT '',
        "draft_id" INTEGER DEFAULT null,
        "subject" TEXT NOT NULL DEFAULT '',
        "detail" TEXT NOT NULL DEFAULT ''
    )""",
    'CREATE INDEX IF NOT EXISTS catalog_audit_action ON "catalog_audit" USING btree ("action")',
    'CREATE INDEX IF NOT EXISTS catalog_audit_draft_id ON "catalog_audit" USING btree ("draft_id")',
    # central/db/supervision_tables.py: electronic supervision
    """CREATE TABLE IF NOT EXISTS "supervision_day" (
        "day" DATE PRIMARY KEY NOT NULL DEFAULT CURRENT_DATE,
        "is_working" BOOLEAN NOT NULL DEFAULT false,
        "wd" BIGINT NOT NULL DEFAULT 0
    )""",
    'CREATE INDEX IF NOT EXISTS supervision_day_wd ON "supervision_day" USING btree ("wd")',
    """CREATE TABLE IF NOT EXISTS "supervision_mark" (
        "name" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "value" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "supervision_rule" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "name" TEXT NOT NULL DEFAULT '',
        "item_code" TEXT NOT NULL DEFAULT '',
        "value" BIGINT NOT NULL DEFAULT 0,
        "changed_by" TEXT NOT NULL DEFAULT '',
        "changed_at" TIMESTAMPTZ DEFAULT null
    )""",
    """CREATE TABLE IF NOT EXISTS "supervision_term" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "catalog_version" BIGINT NOT NULL DEFAULT 0,
        "item_code" TEXT NOT NULL DEFAULT '',
        "warning_days" INTEGER NOT NULL DEFAULT 0,
        "unit" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "supervision_pause" (
        "case_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "due" DATE DEFAULT null,
        "paused_from" DATE DEFAULT null
    )""",
    """CREATE TABLE IF NOT EXISTS "supervision_case" (
        "case_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "node" TEXT DEFAULT null,
        "item_code" TEXT DEFAULT null,
        "due" DATE DEFAULT null,
        "remaining_days" BIGINT DEFAULT null,
        "overdue_days" BIGINT DEFAULT null,
        "light" TEXT NOT NULL DEFAULT '',
        "illegal" BOOLEAN NOT NULL DEFAULT false,
        "warned_due" DATE DEFAULT null,
        "warned_run" BIGINT DEFAULT null,
        "card" INTEGER NOT NULL DEFAULT 0,
        "carded_run" BIGINT DEFAULT null,
        "seen_events" BIGINT NOT NULL DEFAULT 0,
        "seen_hlc_wall" BIGINT NOT NULL DEFAULT 0,
        "seen_hlc_counter" BIGINT NOT NULL DEFAULT 0,
        "urge_run" BIGINT DEFAULT null
    )""",
    'CREATE INDEX IF NOT EXISTS supervision_case_node ON "supervision_case" USING btree ("node")',
    'CREATE INDEX IF NOT EXISTS supervision_case_light ON "supervision_case" USING btree ("light")',
    "CREATE INDEX IF NOT EXISTS supervision_case_warned_run "
    'ON "supervision_case" USING btree ("warned_run")',
    "CREATE INDEX IF NOT EXISTS supervision_case_carded_run "
    'ON "supervision_case" USING btree ("carded_run")',
    "CREATE INDEX IF NOT EXISTS supervision_case_urge_run "
    'ON "supervision_case" USING btree ("urge_run")',
    """CREATE TABLE IF NOT EXISTS "supervision_urge" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "case_id" TEXT NOT NULL DEFAULT '',
        "urge_id" TEXT NOT NULL DEFAULT '',
        "level" TEXT NOT NULL DEFAULT '',
        "by_unit" TEXT NOT NULL DEFAULT '',
        "feedback_due" DATE NOT NULL DEFAULT CURRENT_DATE,
        "event_id" TEXT NOT NULL DEFAULT '',
        "open" BOOLEAN NOT NULL DEFAULT true,
        "seen_run" BIGINT NOT NULL DEFAULT 0,
        "escalated_run" BIGINT DEFAULT null
    )""",
    "CREATE INDEX IF NOT EXISTS supervision_urge_case_id "
    'ON "supervision_urge" USING btree ("case_id")',
    """CREATE TABLE IF NOT EXISTS "supervision_action" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "run" BIGINT NOT NULL DEFAULT 0,
        "case_id" TEXT NOT NULL DEFAULT '',
        "kind" TEXT NOT NULL DEFAULT '',
        "subject" TEXT NOT NULL DEFAULT '',
        "node" TEXT DEFAULT null,
        "target_node" TEXT DEFAULT null,
        "on_day" DATE NOT NULL DEFAULT CURRENT_DATE,
        "detail" TEXT NOT NULL DEFAULT ''
    )""",
    'CREATE INDEX IF NOT EXISTS supervision_action_run ON "supervision_action" USING btree ("run")',
    "CREATE INDEX IF NOT EXISTS supervision_action_case_id "
    'ON "supervision_action" USING btree ("case_id")',
    """CREATE TABLE IF NOT EXISTS "supervision_signal" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "kind" TEXT NOT NULL DEFAULT '',
        "severity" TEXT NOT NULL DEFAULT '',
        "node" TEXT DEFAULT null,
        "case_id" TEXT DEFAULT null,
        "evidence_kind" TEXT NOT NULL DEFAULT '',
        "evidence" TEXT NOT NULL DEFAULT '',
        "detail" TEXT NOT NULL DEFAULT '',
        "first_seen" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "last_seen" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "resolved_at" TIMESTAMPTZ DEFAULT null
    )""",
    "CREATE INDEX IF NOT EXISTS supervision_signal_kind "
    'ON "supervision_signal" USING btree ("kind")',
    "CREATE INDEX IF NOT EXISTS supervision_signal_node "
    'ON "supervision_signal" USING btree ("node")',
    """CREATE TABLE IF NOT EXISTS "supervision_backlog" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "node" TEXT NOT NULL DEFAULT '',
        "day" DATE NOT NULL DEFAULT CURRENT_DATE,
        "open_count" BIGINT NOT NULL DEFAULT 0,
        "overdue_count" BIGINT NOT NULL DEFAULT 0
    )""",
    # central/db/portal_tables.py: the resident portal
    """CREATE TABLE IF NOT EXISTS "portal_failure" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "client" TEXT NOT NULL DEFAULT '',
        "at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    'CREATE INDEX IF NOT EXISTS portal_failure_client ON "portal_failure" USING btree ("client")',
    """CREATE TABLE IF NOT EXISTS "portal_serial" (
        "name" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "serial" BIGINT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS "portal_certificate" (
        "certificate_no" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "case_id" TEXT UNIQUE NOT NULL DEFAULT '',
        "signed" BYTEA NOT NULL DEFAULT '',
        "issued_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        "issued_by" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "portal_certificate_index" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "certificate_no" TEXT NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS portal_certificate_index_certificate_no "
    'ON "portal_certificate_index" USING btree ("certificate_no")',
    "CREATE INDEX IF NOT EXISTS portal_certificate_index_case_id "
    'ON "portal_certificate_index" USING btree ("case_id")',
    """CREATE TABLE IF NOT EXISTS "portal_complaint" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "case_id" TEXT NOT NULL DEFAULT '',
        "complaint_id" TEXT NOT NULL DEFAULT '',
        "node" TEXT DEFAULT null,
        "filed_on" DATE NOT NULL DEFAULT CURRENT_DATE,
        "answer_due" DATE DEFAULT null,
        "reopens" TEXT DEFAULT null
    )""",
    "CREATE INDEX IF NOT EXISTS portal_complaint_case_id "
    'ON "portal_complaint" USING btree ("case_id")',
    'CREATE INDEX IF NOT EXISTS portal_complaint_node ON "portal_complaint" USING btree ("node")',
    """CREATE TABLE IF NOT EXISTS "portal_mark" (
        "name" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "value" TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS "portal_setting" (
        "name" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "value" BIGINT NOT NULL DEFAULT 0,
        "changed_by" TEXT NOT NULL DEFAULT '',
        "changed_at" TIMESTAMPTZ DEFAULT null
    )""",
    # central/db/performance_tables.py: performance and county urges
    """CREATE TABLE IF NOT EXISTS "perf_case" (
        "case_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "item_code" TEXT DEFAULT null,
        "node" TEXT DEFAULT null,
        "accepted_on" DATE DEFAULT null,
        "finished" INTEGER NOT NULL DEFAULT 0,
        "finished_on" DATE DEFAULT null,
        "promised_due" DATE DEFAULT null,
        "timeliness" TEXT DEFAULT null,
        "illegal" INTEGER NOT NULL DEFAULT 0,
        "used_wd" BIGINT DEFAULT null,
        "promised_wd" BIGINT DEFAULT null,
        "statutory_wd" BIGINT DEFAULT null,
        "overdue_wd" BIGINT NOT NULL DEFAULT 0
    )""",
    'CREATE INDEX IF NOT EXISTS perf_case_item_code ON "perf_case" USING btree ("item_code")',
    'CREATE INDEX IF NOT EXISTS perf_case_node ON "perf_case" USING btree ("node")',
    'CREATE INDEX IF NOT EXISTS perf_case_accepted_on ON "perf_case" USING btree ("accepted_on")',
    'CREATE INDEX IF NOT EXISTS perf_case_finished_on ON "perf_case" USING btree ("finished_on")',
    """CREATE TABLE IF NOT EXISTS "perf_rating" (
        "event_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "item_code" TEXT DEFAULT null,
        "node" TEXT DEFAULT null,
        "level" INTEGER NOT NULL DEFAULT 0,
        "channel" TEXT NOT NULL DEFAULT '',
        "rated_on" DATE NOT NULL DEFAULT CURRENT_DATE,
        "rectify_due" DATE DEFAULT null
    )""",
    'CREATE INDEX IF NOT EXISTS perf_rating_case_id ON "perf_rating" USING btree ("case_id")',
    'CREATE INDEX IF NOT EXISTS perf_rating_rated_on ON "perf_rating" USING btree ("rated_on")',
    """CREATE TABLE IF NOT EXISTS "perf_complaint" (
        "complaint_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "item_code" TEXT DEFAULT null,
        "node" TEXT DEFAULT null,
        "filed_on" DATE NOT NULL DEFAULT CURRENT_DATE,
        "answer_due" DATE DEFAULT null,
        "closed_seen_on" DATE DEFAULT null
    )""",
    'CREATE INDEX IF NOT EXISTS perf_complaint_case_id ON "perf_complaint" USING btree ("case_id")',
    "CREATE INDEX IF NOT EXISTS perf_complaint_filed_on "
    'ON "perf_complaint" USING btree ("filed_on")',
    """CREATE TABLE IF NOT EXISTS "rating_followup" (
        "event_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "rectified_on" DATE DEFAULT null,
        "rectify_note" TEXT NOT NULL DEFAULT '',
        "called_back_on" DATE DEFAULT null,
        "callback_note" TEXT NOT NULL DEFAULT '',
        "changed_by" TEXT NOT NULL DEFAULT '',
        "changed_at" TIMESTAMPTZ DEFAULT null
    )""",
    "CREATE INDEX IF NOT EXISTS rating_followup_case_id "
    'ON "rating_followup" USING btree ("case_id")',
    """CREATE TABLE IF NOT EXISTS "urge_issued" (
        "urge_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "node" TEXT DEFAULT null,
        "level" TEXT NOT NULL DEFAULT '',
        "content" TEXT NOT NULL DEFAULT '',
        "feedback_due" DATE NOT NULL DEFAULT CURRENT_DATE,
        "target_kind" TEXT NOT NULL DEFAULT '',
        "target" TEXT NOT NULL DEFAULT '',
        "request_id" TEXT NOT NULL DEFAULT '',
        "issued_by" TEXT NOT NULL DEFAULT '',
        "issued_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    'CREATE INDEX IF NOT EXISTS urge_issued_case_id ON "urge_issued" USING btree ("case_id")',
    'CREATE INDEX IF NOT EXISTS urge_issued_node ON "urge_issued" USING btree ("node")',
    'CREATE INDEX IF NOT EXISTS urge_issued_request_id ON "urge_issued" USING btree ("request_id")',
    # central/db/node_contact_tables.py: each node's contact with the county
    """CREATE TABLE IF NOT EXISTS "node_contact" (
        "node_id" TEXT PRIMARY KEY NOT NULL DEFAULT '',
        "last_contact" TIMESTAMPTZ DEFAULT null,
        "calls" BIGINT NOT NULL DEFAULT 0,
        "software" TEXT NOT NULL DEFAULT '',
        "reported_waiting" BIGINT DEFAULT null,
        "pull_after" BIGINT NOT NULL DEFAULT 0,
        "last_relayed" TIMESTAMPTZ DEFAULT null,
        "relayed_by" TEXT DEFAULT null
    )""",
    # central/db/casework_tables.py: the county window's case work
    """CREATE TABLE IF NOT EXISTS "casework_counter" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "name" VARCHAR(40) UNIQUE NOT NULL DEFAULT '',
        "value" INTEGER NOT NULL DEFAULT 0
    )""",
    'CREATE INDEX IF NOT EXISTS casework_counter_name ON "casework_counter" USING btree ("name")',
    """CREATE TABLE IF NOT EXISTS "casework_secret" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "name" VARCHAR(40) UNIQUE NOT NULL DEFAULT '',
        "value" TEXT NOT NULL DEFAULT ''
    )""",
    'CREATE INDEX IF NOT EXISTS casework_secret_name ON "casework_secret" USING btree ("name")',
    """CREATE TABLE IF NOT EXISTS "casework_request" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "request_id" VARCHAR(100) UNIQUE NOT NULL DEFAULT '',
        "case_id" VARCHAR(36) NOT NULL DEFAULT '',
        "result" TEXT NOT NULL DEFAULT '',
        "answered_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS casework_request_request_id "
    'ON "casework_request" USING btree ("request_id")',
    """CREATE TABLE IF NOT EXISTS "casework_document" (
        "id" SERIAL PRIMARY KEY NOT NULL,
        "document_key" TEXT UNIQUE NOT NULL DEFAULT '',
        "case_id" TEXT NOT NULL DEFAULT '',
        "kind" VARCHAR(40) NOT NULL DEFAULT '',
        "document_no" TEXT NOT NULL DEFAULT '',
        "signed" TEXT NOT NULL DEFAULT '',
        "issued_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
    )""",
    "CREATE INDEX IF NOT EXISTS casework_document_document_key "
    'ON "casework_document" USING btree ("document_key")',
    "CREATE INDEX IF NOT EXISTS casework_document_case_id "
    'ON "casework_document" USING btree ("case_id")',
)
"""Each Piccolo table with the single-column indexes of its ``index=True`` columns."""

COMPOSITE_INDEXES: tuple[str, ...] = (
    "CREATE UNIQUE INDEX IF NOT EXISTS sync_log_origin_seq ON sync_log (origin, seq)",
    "CREATE INDEX IF NOT EXISTS sync_log_case_pos ON sync_log (case_id, pos)",
    "CREATE UNIQUE INDEX IF NOT EXISTS sync_held_origin_seq ON sync_held (origin, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS case_party_case_node ON case_party (case_id, node)",
    "CREATE INDEX IF NOT EXISTS sync_feed_child_pos ON sync_feed (child, feed_pos)",
    "DROP INDEX IF EXISTS sync_log_client_id",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_rule_key ON supervision_rule (name, item_code)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_term_key "
    "ON supervision_term (catalog_version, item_code)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_urge_key ON supervision_urge (case_id, urge_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_action_key "
    "ON supervision_action (case_id, kind, subject)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_signal_key "
    "ON supervision_signal (kind, evidence)",
    "CREATE UNIQUE INDEX IF NOT EXISTS supervision_backlog_key ON supervision_backlog (node, day)",
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_certificate_index_key "
    "ON portal_certificate_index (certificate_no, case_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS portal_complaint_key "
    "ON portal_complaint (case_id, complaint_id)",
)
"""The multi-column unique indexes the upserts rely on, and the queries' composite indexes."""

_SQLITE_SPELLING = (
    # Piccolo's SQLite column types for Serial, BigInt and Bytea; SQLite has one index method.
    ('" SERIAL PRIMARY KEY', '" INTEGER PRIMARY KEY'),
    ('" BIGINT', '" INTEGER'),
    ('" BYTEA', '" BLOB'),
    (" USING btree", ""),
)


def baseline_statements(*, postgres: bool) -> list[str]:
    """The baseline DDL for one backend, in order."""
    statements = [*TABLES, *COMPOSITE_INDEXES]
    if postgres:
        return statements
    for pg, sqlite in _SQLITE_SPELLING:
        statements = [statement.replace(pg, sqlite) for statement in statements]
    return statements

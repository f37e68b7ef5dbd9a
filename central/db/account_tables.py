"""Piccolo tables of county staff accounts, their sessions and failed log-ins.

Session tokens and passwords are never stored: only the SHA-256 of a token (hex) and the scrypt
hash of a password (shared.credentials).
"""

from __future__ import annotations

from piccolo.columns import Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class CountyAccount(Table, tablename="county_account"):
    """A member of county staff; ``home_node`` bounds the part of the county they see."""

    username = Varchar(length=32, unique=True, index=True)
    name = Varchar(length=40)
    roles = Text()  # space-separated codes of central.services.accounts.CountyRole
    home_node = Varchar(length=63, default="county")
    department = Varchar(length=60, null=True, default=None)
    password_hash = Text()
    active = Boolean(default=True)
    created_at = Timestamptz()
    password_changed_at = Timestamptz()


class CountySession(Table, tablename="county_session"):
    """An open log-in session, found by the hash of the cookie's token."""

    token_hash = Varchar(length=64, unique=True, index=True)
    account_id = Integer(index=True)  # CountyAccount.id
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz(index=True)


class CountyLoginFailure(Table, tablename="county_login_failure"):
    """One failed log-in under the (normalized, truncated) name typed."""

    username = Varchar(length=64, index=True)
    failed_at = Timestamptz(index=True)


ACCOUNT_TABLES: tuple[type[Table], ...] = (CountyAccount, CountySession, CountyLoginFailure)

"""Piccolo tables of the node registry and its one-time enrollment tokens."""

from __future__ import annotations

from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.table import Table


class NodeEntry(Table):
    """A service point of the county tree; its key arrives when the node enrolls."""

    node_id = Varchar(length=63, unique=True, index=True)
    name = Varchar(length=200)
    tier = Varchar(length=20)
    parent = Varchar(length=63, null=True, default=None)
    short_code = Varchar(length=8, unique=True)
    public_key = Text(default="")
    status = Varchar(length=20, default="active")
    status_reason = Text(default="")
    status_since = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    enrolled_at = Timestamptz(null=True, default=None)


class EnrollmentToken(Table):
    """A one-time, expiring secret that lets one node register its public key."""

    token_hash = Varchar(length=64, unique=True, index=True)
    node_id = Varchar(length=63, index=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100)
    created_at = Timestamptz()


REGISTRY_TABLES: tuple[type[Table], ...] = (NodeEntry, EnrollmentToken)

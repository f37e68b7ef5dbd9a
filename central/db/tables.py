"""Piccolo tables of the county centre (singular names)."""

from __future__ import annotations

from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class CatalogRelease(Table):
    """An immutable, versioned snapshot of the county catalog, stored exactly as published."""

    version = Integer(unique=True, index=True)
    content_hash = Varchar(length=64)
    body = Text()
    published_at = Timestamptz()
    published_by = Varchar(length=100)


ALL_TABLES: tuple[type[Table], ...] = (CatalogRelease,)

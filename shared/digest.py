"""Content hashes: the identity of a stored or transmitted byte string."""

from __future__ import annotations

import hashlib


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()

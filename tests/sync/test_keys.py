"""Private key files are created 0600, refused when readable by others, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.errors import InvalidError, NotFoundError
from shared.signing import SigningKey
from sync.keys import ensure_private_key, load_private_key, write_private_key


def test_written_key_is_0600_and_loads_back(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "keys" / "node.key"
    write_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path).public_key == key.public_key


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    write_private_key(path, SigningKey.generate())
    path.chmod(0o644)
    with pytest.raises(InvalidError) as caught:
        load_private_key(path)
    assert caught.value.code == "key_permissions"


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    first = ensure_private_key(path)
    assert ensure_private_key(path).public_key == first.public_key
    with pytest.raises(InvalidError):
        write_private_key(path, SigningKey.generate())
    assert load_private_key(path).public_key == first.public_key


def test_missing_or_garbage_key_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_private_key(tmp_path / "absent.key")
    path = tmp_path / "garbage.key"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(InvalidError):
        load_private_key(path)

"""Private key files: 0600, in the instance's data directory, never anywhere else.

A key file that other users can read is refused rather than used: a leaked node key lets anyone
write case records in that node's name, and the county key signs every catalog release.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shared.errors import InvalidError, NotFoundError
from shared.signing import SigningKey

KEY_FILE_MODE = 0o600


def write_private_key(path: Path, key: SigningKey) -> None:
    """Create the key file with mode 0600 from the first byte on.

    Raises:
        InvalidError: a key file already exists there. Keys are never overwritten silently:
            that would orphan every record signed with the old key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, KEY_FILE_MODE)
    except FileExistsError as exc:
        raise InvalidError(f"密钥文件已存在，不会覆盖：{path}", code="key_exists") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
        handle.flush()
        os.fsync(handle.fileno())


def load_private_key(path: Path) -> SigningKey:
    """Read a key file, refusing one that group or others can read.

    Raises:
        NotFoundError: no key file at that path.
        InvalidError: the permissions are too open or the content is not an Ed25519 key.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError as exc:
        raise NotFoundError(f"找不到密钥文件：{path}") from exc
    if mode & 0o077:
        raise InvalidError(
            f"密钥文件权限过宽（{mode:04o}），应为 0600：{path}。请执行 chmod 600 后重试。",
            code="key_permissions",
        )
    return SigningKey.from_pem(path.read_bytes())


def ensure_private_key(path: Path) -> SigningKey:
    """Load the key at ``path``, generating it first if the file does not exist yet."""
    if not path.exists():
        write_private_key(path, SigningKey.generate())
    return load_private_key(path)

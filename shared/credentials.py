"""Staff credentials every tier checks the same way: passwords, session tokens, lock-out.

Passwords are hashed with scrypt and stored as a self-describing PHC-style string
(``$scrypt$ln=14,r=8,p=1$salt$hash``), so the cost can be raised later without breaking stored
hashes. Session tokens are random; only their SHA-256 is stored, so a copied database opens no
session. Storage and logging belong to the services that use these functions: nothing here
keeps state or writes anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from shared.errors import AuthenticationError, InvalidError

SCRYPT_LOG2_N = 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
"""Long enough for any passphrase; bounds the work one log-in attempt can cause."""

SESSION_IDLE = timedelta(hours=8)
"""A session ends after this long without a request (one working day at a window)."""
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
"""Activity is written at most this often per session, to spare the database a write per page."""
TOKEN_BYTES = 32
TOKEN_MAX_LENGTH = 128
"""Longer cookie values are not ours and are refused before any lookup."""
LOCK_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
FAILURE_KEY_LENGTH = 64
"""Failures are remembered under at most this much of the name typed."""
NAME_MAX_LENGTH = 40

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")

USERNAME_RULE = "用户名须为 2–32 位小写字母、数字、点、下划线或连字符，并以字母或数字开头。"
LOGIN_FAILED_MESSAGE = "用户名或密码不正确。"


# Usernames


def normalize_username(text: str) -> str:
    """The form a username is stored and looked up in (trimmed, lower case)."""
    return text.strip().lower()


def is_valid_username(username: str) -> bool:
    """Whether a normalized username follows the rule in :data:`USERNAME_RULE`."""
    return bool(_USERNAME.match(username))


def failure_key(username: str) -> str:
    """The key failed log-ins are counted under for a name as typed."""
    return normalize_username(username)[:FAILURE_KEY_LENGTH]


def account_problems(username: str, name: str, password: str) -> list[str]:
    """What is wrong with a new account's normalized username, trimmed name and password."""
    problems: list[str] = []
    if not is_valid_username(username):
        problems.append(USERNAME_RULE)
    if not name or len(name) > NAME_MAX_LENGTH:
        problems.append(f"姓名不能为空，且不超过 {NAME_MAX_LENGTH} 个字符。")
    problems.extend(password_problems(password))
    return problems


# Passwords


def password_problems(password: str) -> list[str]:
    """What is wrong with a new password (empty when it may be used)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return [f"密码至少需要 {PASSWORD_MIN_LENGTH} 个字符。"]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [f"密码不能超过 {PASSWORD_MAX_LENGTH} 个字符。"]
    return []


def check_password_rules(password: str) -> None:
    """Refuse a password that breaks the rules.

    Raises:
        InvalidError: too short (code ``password_too_short``) or too long.
    """
    problems = password_problems(password)
    if problems:
        code = "password_too_short" if len(password) < PASSWORD_MIN_LENGTH else "password_too_long"
        raise InvalidError(problems[0], code=code)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, *, log2_n: int, r: int, p: int, length: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=length,
        maxmem=2 * 128 * r * (n + p),
    )


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a fresh 16-byte salt.

    Returns:
        ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>`` (base64 without padding).
    """
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(
        password, salt, log2_n=SCRYPT_LOG2_N, r=SCRYPT_R, p=SCRYPT_P, length=HASH_BYTES
    )
    params = f"ln={SCRYPT_LOG2_N},r={SCRYPT_R},p={SCRYPT_P}"
    return f"$scrypt${params}${_b64(salt)}${_b64(digest)}"


def hash_is_usable(encoded: str) -> bool:
    """Whether a stored hash is well formed with parameters we agree to compute."""
    return _parsed(encoded) is not None


def _parsed(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        _, scheme, params_text, salt_text, digest_text = encoded.split("$")
        params = dict(item.split("=", 1) for item in params_text.split(","))
        log2_n, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, KeyError):
        return None
    # Bounds keep a tampered row from making one log-in allocate gigabytes.
    if scheme != "scrypt" or not (10 <= log2_n <= 18 and 1 <= r <= 16 and 1 <= p <= 4):
        return None
    if not 16 <= len(expected) <= 64:
        return None
    return log2_n, r, p, salt, expected


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time).

    A malformed or hostile stored hash never verifies.
    """
    parsed = _parsed(encoded)
    if parsed is None:
        return False
    log2_n, r, p, salt, expected = parsed
    actual = _scrypt(password, salt, log2_n=log2_n, r=r, p=p, length=len(expected))
    return hmac.compare_digest(actual, expected)


@cache
def decoy_hash() -> str:
    """A hash to verify against for unknown usernames, so both cases cost the same time."""
    return hash_password(secrets.token_hex(16))


def check_login_password(password: str, encoded: str | None) -> bool:
    """Verify a typed password against a stored hash, or against the decoy when there is none."""
    return verify_password(password[:PASSWORD_MAX_LENGTH], encoded or decoy_hash()) and bool(
        encoded
    )


# Lock-out


class LoginLockedError(AuthenticationError):
    """Too many failed log-ins under one username in the lock window."""

    code = "login_locked"

    def __init__(self, minutes: int, *, helper: str = "管理员") -> None:
        super().__init__(
            f"该用户名 {LOCK_WINDOW.seconds // 60} 分钟内登录失败已达 {LOCK_FAILURES} 次，"
            f"已暂时锁定。请 {minutes} 分钟后再试，或请{helper}协助。"
        )
        self.minutes = minutes


def lock_minutes_left(recent_failures: Sequence[datetime], now: datetime) -> int | None:
    """Minutes until a name may try again, or None when it is not locked.

    Args:
        recent_failures: failures under the name within :data:`LOCK_WINDOW` before ``now``,
            newest first.
    """
    if len(recent_failures) < LOCK_FAILURES:
        return None
    until = recent_failures[LOCK_FAILURES - 1] + LOCK_WINDOW
    return max(1, math.ceil((until - now).total_seconds() / 60))


# Session tokens


def new_session_token() -> str:
    """A fresh session token for the cookie; never stored in clear."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def plausible_token(token: str | None) -> bool:
    """Whether a cookie value is worth looking up at all."""
    return bool(token) and len(token or "") <= TOKEN_MAX_LENGTH


def new_secret() -> str:
    """A random secret for the web layer (the CSRF signing key)."""
    return secrets.token_hex(32)

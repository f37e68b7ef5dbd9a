"""Staff accounts of a node: roles, password hashing, log-in with lock-out, sessions.

Accounts live in the node's own database so that a township hall can log in while the link to
the county is down. Passwords are hashed with scrypt and stored as a self-describing PHC-style
string (``$scrypt$ln=14,r=8,p=1$salt$hash``), so the cost can be raised later without breaking
stored hashes. No password, and no session token, is ever stored or logged in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from node.storage.accounts import AccountStore, UserRow
from shared.errors import AuthenticationError, InvalidError, ValidationError

logger = logging.getLogger(__name__)

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
LOCK_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
CSRF_SECRET_NAME = "csrf"  # noqa: S105 - the name of a stored secret, not the secret

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
_NAME_MAX_LENGTH = 40
_FAILURE_KEY_LENGTH = 64


class Role(StrEnum):
    """What a member of staff may do at the node; a user holds one or more."""

    CLERK = "clerk"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        """The role's Chinese name."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.CLERK: "窗口人员",
    Role.REVIEWER: "审核",
    Role.APPROVER: "决定",
    Role.ADMIN: "节点管理员",
}

ANY_STAFF: tuple[Role, ...] = tuple(Role)
"""Every role: a guard with these admits anyone logged in."""


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their codes (``clerk``) or Chinese names (``窗口人员``).

    Raises:
        InvalidError: a value names no role, or no role is given.
    """
    by_name = {role.value: role for role in Role} | {role.label: role for role in Role}
    roles: set[Role] = set()
    unknown: list[str] = []
    for value in values:
        role = by_name.get(value.strip().lower()) or by_name.get(value.strip())
        if role is None:
            unknown.append(value)
        else:
            roles.add(role)
    known = "、".join(f"{role.value}（{role.label}）" for role in Role)
    if unknown:
        raise InvalidError(
            f"未知角色：{'、'.join(unknown)}。可用角色：{known}。", code="unknown_role"
        )
    if not roles:
        raise InvalidError(f"至少需要一个角色。可用角色：{known}。", code="role_missing")
    return frozenset(roles)


def _roles_text(roles: Iterable[Role]) -> str:
    return " ".join(role.value for role in Role if role in set(roles))


def _roles_from_text(text: str) -> frozenset[Role]:
    # Tolerant on read: an unknown code must not lock a whole hall out of its node.
    known = {role.value: role for role in Role}
    return frozenset(known[code] for code in text.split() if code in known)


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


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time)."""
    try:
        _, scheme, params_text, salt_text, digest_text = encoded.split("$")
        params = dict(item.split("=", 1) for item in params_text.split(","))
        log2_n, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, KeyError):
        logger.warning("a stored password hash is malformed; the log-in is refused")
        return False
    # Bounds keep a tampered row from making one log-in allocate gigabytes.
    if scheme != "scrypt" or not (10 <= log2_n <= 18 and 1 <= r <= 16 and 1 <= p <= 4):
        logger.warning("a stored password hash has unsupported parameters; refused")
        return False
    if not 16 <= len(expected) <= 64:
        return False
    actual = _scrypt(password, salt, log2_n=log2_n, r=r, p=p, length=len(expected))
    return hmac.compare_digest(actual, expected)


@cache
def _decoy_hash() -> str:
    # Verified against for unknown usernames so both cases cost the same time.
    return hash_password(secrets.token_hex(16))


# Accounts and sessions


@dataclass(frozen=True)
class StaffUser:
    """A logged-in member of staff, as handlers and guards see them."""

    user_id: int
    username: str
    name: str
    roles: frozenset[Role]

    def has_any(self, roles: Iterable[Role]) -> bool:
        """Whether the user holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @property
    def ordered_roles(self) -> list[Role]:
        """The user's roles in the fixed order clerk, reviewer, approver, admin."""
        return [role for role in Role if role in self.roles]


@dataclass(frozen=True)
class NewSession:
    """A session just opened; ``token`` goes into the cookie and nowhere else."""

    token: str
    user: StaffUser
    expires_at: datetime


class LoginLockedError(AuthenticationError):
    """Too many failed log-ins under one username in the lock window."""

    code = "login_locked"

    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"该用户名 {LOCK_WINDOW.seconds // 60} 分钟内登录失败已达 {LOCK_FAILURES} 次，"
            f"已暂时锁定。请 {minutes} 分钟后再试，或请节点管理员协助。"
        )
        self.minutes = minutes


LOGIN_FAILED_MESSAGE = "用户名或密码不正确。"


def normalize_username(text: str) -> str:
    """The form a username is stored and looked up in (trimmed, lower case)."""
    return text.strip().lower()


def _staff(row: UserRow) -> StaffUser:
    return StaffUser(
        user_id=row.user_id,
        username=row.username,
        name=row.name,
        roles=_roles_from_text(row.roles),
    )


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class AccountService:
    """Accounts, log-in and sessions of one node."""

    def __init__(self, store: AccountStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def add_user(
        self, *, username: str, name: str, roles: Iterable[str], password: str
    ) -> StaffUser:
        """Create an account; every problem with the input is reported at once.

        Raises:
            ValidationError: the username, name, roles or password break a rule.
            ConflictError: the username is taken.
        """
        username = normalize_username(username)
        name = name.strip()
        problems: list[str] = []
        if not _USERNAME.match(username):
            problems.append(
                "用户名须为 2–32 位小写字母、数字、点、下划线或连字符，并以字母或数字开头。"
            )
        if not name or len(name) > _NAME_MAX_LENGTH:
            problems.append(f"姓名不能为空，且不超过 {_NAME_MAX_LENGTH} 个字符。")
        parsed: frozenset[Role] = frozenset()
        try:
            parsed = parse_roles(roles)
        except InvalidError as exc:
            problems.append(exc.message)
        problems.extend(password_problems(password))
        if problems:
            raise ValidationError(problems)
        row = self._store.insert_user(
            username=username,
            name=name,
            roles=_roles_text(parsed),
            password_hash=hash_password(password),
            at=self._clock(),
        )
        logger.info("staff account %s created with roles %s", username, row.roles)
        return _staff(row)

    def set_password(self, username: str, password: str) -> int:
        """Give an account a new password and end its open sessions.

        Returns:
            How many sessions were ended.

        Raises:
            InvalidError: the password breaks a rule.
            NotFoundError: no such account.
        """
        check_password_rules(password)
        username = normalize_username(username)
        closed = self._store.set_password_hash(username, hash_password(password), self._clock())
        logger.info("password of %s changed; %d session(s) ended", username, closed)
        return closed

    def user(self, username: str) -> StaffUser | None:
        """The account with this username, if any."""
        row = self._store.user_by_username(normalize_username(username))
        return None if row is None else _staff(row)

    def authenticate(self, username: str, password: str) -> StaffUser:
        """Check a log-in. Unknown user and wrong password fail alike, in time and message.

        Raises:
            LoginLockedError: five failures under this username in the last 15 minutes.
            AuthenticationError: unknown user, wrong password or disabled account
                (code ``login_failed``, always the same message).
        """
        key = normalize_username(username)[:_FAILURE_KEY_LENGTH]
        now = self._clock()
        recent = self._store.failures_since(key, now - LOCK_WINDOW)
        if len(recent) >= LOCK_FAILURES:
            until = recent[LOCK_FAILURES - 1] + LOCK_WINDOW
            raise LoginLockedError(max(1, math.ceil((until - now).total_seconds() / 60)))
        row = self._store.user_by_username(key) if _USERNAME.match(key) else None
        password_ok = verify_password(
            password[:PASSWORD_MAX_LENGTH], row.password_hash if row else _decoy_hash()
        )
        if row is None or not row.active or not password_ok:
            self._store.record_failure(key, now, forget_before=now - LOCK_WINDOW)
            # A name that matches no account may be a password typed into the wrong field.
            logger.info("failed log-in for %s", row.username if row else "an unknown username")
            raise AuthenticationError(LOGIN_FAILED_MESSAGE, code="login_failed")
        if recent:
            self._store.clear_failures(key)
        logger.info("%s logged in", row.username)
        return _staff(row)

    def start_session(self, user: StaffUser) -> NewSession:
        """Open a session for a user who has just logged in."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        expires_at = now + SESSION_IDLE
        self._store.insert_session(_token_hash(token), user.user_id, at=now, expires_at=expires_at)
        return NewSession(token=token, user=user, expires_at=expires_at)

    def user_for_session(self, token: str) -> StaffUser | None:
        """The user a session token belongs to; None when unknown, expired or disabled.

        Each use pushes the idle expiry out by :data:`SESSION_IDLE`.
        """
        if not token or len(token) > 128:
            return None
        token_hash = _token_hash(token)
        row = self._store.session(token_hash)
        if row is None:
            return None
        now = self._clock()
        if now >= row.expires_at or not row.user.active:
            self._store.delete_session(token_hash)
            return None
        if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
            self._store.touch_session(token_hash, at=now, expires_at=now + SESSION_IDLE)
        return _staff(row.user)

    def end_session(self, token: str) -> None:
        """Close a session (log-out); an unknown token is ignored."""
        if token and len(token) <= 128:
            self._store.delete_session(_token_hash(token))

    def csrf_secret(self) -> str:
        """The secret that signs CSRF tokens, kept in the database across restarts."""
        return self._store.secret(CSRF_SECRET_NAME, lambda: secrets.token_hex(32))

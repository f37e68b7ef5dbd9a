"""Staff accounts of a node: roles, password hashing, log-in with lock-out, sessions.

Accounts live in the node's own database so that a township hall can log in while the link to
the county is down. Passwords are hashed with scrypt and stored as a self-describing PHC-style
string (``$scrypt$ln=14,r=8,p=1$salt$hash``), so the cost can be raised later without breaking
stored hashes. No password, and no session token, is ever stored or logged in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from node.storage.accounts import AccountStore, UserRow
from shared import credentials
from shared.credentials import (
    LOCK_FAILURES,
    LOCK_WINDOW,
    LOGIN_FAILED_MESSAGE,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    SESSION_IDLE,
    SESSION_TOUCH_INTERVAL,
    LoginLockedError,
    account_problems,
    check_password_rules,
    decoy_hash,
    failure_key,
    hash_password,
    is_valid_username,
    lock_minutes_left,
    new_secret,
    new_session_token,
    normalize_username,
    password_problems,
    plausible_token,
    token_hash,
)
from shared.errors import AuthenticationError, InvalidError, ValidationError

__all__ = [
    "LOCK_FAILURES",
    "LOCK_WINDOW",
    "LOGIN_FAILED_MESSAGE",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "SESSION_IDLE",
    "AccountService",
    "LoginLockedError",
    "NewSession",
    "Role",
    "StaffUser",
    "check_password_rules",
    "hash_password",
    "normalize_username",
    "parse_roles",
    "password_problems",
    "verify_password",
]

logger = logging.getLogger(__name__)

CSRF_SECRET_NAME = "csrf"  # noqa: S105 - the name of a stored secret, not the secret
LOCK_HELPER = "节点管理员"


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


# Passwords (the rules and hashing are shared with the county: shared.credentials)


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a stored hash; a malformed or hostile hash never does."""
    if not credentials.hash_is_usable(encoded):
        logger.warning("a stored password hash is malformed or unsupported; the log-in is refused")
        return False
    return credentials.verify_password(password, encoded)


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


def _staff(row: UserRow) -> StaffUser:
    return StaffUser(
        user_id=row.user_id,
        username=row.username,
        name=row.name,
        roles=_roles_from_text(row.roles),
    )


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
        problems = account_problems(username, name, password)
        parsed: frozenset[Role] = frozenset()
        try:
            parsed = parse_roles(roles)
        except InvalidError as exc:
            problems.insert(len(problems) - len(password_problems(password)), exc.message)
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
        key = failure_key(username)
        now = self._clock()
        recent = self._store.failures_since(key, now - LOCK_WINDOW)
        minutes = lock_minutes_left(recent, now)
        if minutes is not None:
            raise LoginLockedError(minutes, helper=LOCK_HELPER)
        row = self._store.user_by_username(key) if is_valid_username(key) else None
        password_ok = verify_password(
            password[:PASSWORD_MAX_LENGTH], row.password_hash if row else decoy_hash()
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
        token = new_session_token()
        now = self._clock()
        expires_at = now + SESSION_IDLE
        self._store.insert_session(token_hash(token), user.user_id, at=now, expires_at=expires_at)
        return NewSession(token=token, user=user, expires_at=expires_at)

    def user_for_session(self, token: str) -> StaffUser | None:
        """The user a session token belongs to; None when unknown, expired or disabled.

        Each use pushes the idle expiry out by :data:`SESSION_IDLE`.
        """
        if not plausible_token(token):
            return None
        hashed = token_hash(token)
        row = self._store.session(hashed)
        if row is None:
            return None
        now = self._clock()
        if now >= row.expires_at or not row.user.active:
            self._store.delete_session(hashed)
            return None
        if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
            self._store.touch_session(hashed, at=now, expires_at=now + SESSION_IDLE)
        return _staff(row.user)

    def end_session(self, token: str) -> None:
        """Close a session (log-out); an unknown token is ignored."""
        if plausible_token(token):
            self._store.delete_session(token_hash(token))

    def csrf_secret(self) -> str:
        """The secret that signs CSRF tokens, kept in the database across restarts."""
        return self._store.secret(CSRF_SECRET_NAME, new_secret)

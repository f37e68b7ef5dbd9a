"""County staff accounts: roles, a home node that bounds what each account sees, log-in, sessions.

Each account has a home node. The county's own accounts see every node and case; an account
homed at a township (a township's electronic supervisor) sees only that township and the
communities below it, as the registry in force says. The subtree is computed again on every
request, so a node moved or added by a new release is seen (or no longer seen) at once.

Password hashing, token handling and the lock-out rule are the ones the nodes use
(:mod:`shared.credentials`); only storage differs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import anyio

from shared.credentials import (
    LOCK_WINDOW,
    LOGIN_FAILED_MESSAGE,
    SESSION_IDLE,
    SESSION_TOUCH_INTERVAL,
    LoginLockedError,
    account_problems,
    check_login_password,
    check_password_rules,
    failure_key,
    hash_password,
    is_valid_username,
    lock_minutes_left,
    new_secret,
    new_session_token,
    normalize_username,
    plausible_token,
    token_hash,
)
from shared.errors import (
    AuthenticationError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from shared.registry import COUNTY_NODE_ID, Registry

logger = logging.getLogger(__name__)

DEPARTMENT_MAX_LENGTH = 60
LOCK_HELPER = "系统管理员"


class CountyRole(StrEnum):
    """What a member of county staff may do; an account holds one or more."""

    ADMIN = "admin"
    CATALOG_REVIEWER = "catalog_reviewer"
    SUPERVISOR = "supervisor"
    CLERK = "clerk"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    DEPARTMENT = "department"

    @property
    def label(self) -> str:
        """The role's Chinese name."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    CountyRole.ADMIN: "系统管理员",
    CountyRole.CATALOG_REVIEWER: "目录审核",
    CountyRole.SUPERVISOR: "电子监察",
    CountyRole.CLERK: "窗口人员",
    CountyRole.REVIEWER: "审核",
    CountyRole.APPROVER: "决定",
    CountyRole.DEPARTMENT: "部门审查",
}

ANY_COUNTY_STAFF: tuple[CountyRole, ...] = tuple(CountyRole)
"""Every role: a guard with these admits anyone logged in."""

COUNTY_ONLY_ROLES = frozenset({CountyRole.ADMIN, CountyRole.CATALOG_REVIEWER})
"""Roles acting on the whole county (catalog, registry, accounts): their home node is the county."""

EXCLUSIVE_ROLES = (frozenset({CountyRole.ADMIN, CountyRole.CATALOG_REVIEWER}),)
"""Pairs no single account may hold: whoever edits the catalog must not also approve it."""


def parse_county_roles(values: Iterable[str]) -> frozenset[CountyRole]:
    """Roles from their codes (``supervisor``) or Chinese names (``电子监察``); commas allowed.

    Raises:
        InvalidError: a value names no role, or no role is given.
    """
    by_name = {role.value: role for role in CountyRole} | {role.label: role for role in CountyRole}
    roles: set[CountyRole] = set()
    unknown: list[str] = []
    for value in values:
        for part in value.replace("，", ",").split(","):
            text = part.strip()
            if not text:
                continue
            role = by_name.get(text.lower()) or by_name.get(text)
            if role is None:
                unknown.append(text)
            else:
                roles.add(role)
    known = "、".join(f"{role.value}（{role.label}）" for role in CountyRole)
    if unknown:
        raise InvalidError(
            f"未知角色：{'、'.join(unknown)}。可用角色：{known}。", code="unknown_role"
        )
    if not roles:
        raise InvalidError(f"至少需要一个角色。可用角色：{known}。", code="role_missing")
    return frozenset(roles)


def roles_text(roles: Iterable[CountyRole]) -> str:
    """Roles as stored: space-separated codes in the fixed order."""
    wanted = set(roles)
    return " ".join(role.value for role in CountyRole if role in wanted)


def roles_from_text(text: str) -> frozenset[CountyRole]:
    """Stored roles; an unknown code is skipped so one bad row cannot lock everybody out."""
    known = {role.value: role for role in CountyRole}
    return frozenset(known[code] for code in text.split() if code in known)


@dataclass(frozen=True)
class CountyUser:
    """A member of county staff, as handlers and guards see them.

    Attributes:
        home_node: the node whose subtree the account sees (``county`` for all).
        department: the department an account with the ``department`` role speaks for.
        visible: nodes the account may see, None for every node; computed from the registry
            in force when the account was loaded.
    """

    user_id: int
    username: str
    name: str
    roles: frozenset[CountyRole]
    home_node: str
    department: str | None = None
    active: bool = True
    visible: frozenset[str] | None = None

    def has_any(self, roles: Iterable[CountyRole]) -> bool:
        """Whether the user holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @property
    def ordered_roles(self) -> list[CountyRole]:
        """The user's roles in the fixed order of :class:`CountyRole`."""
        return [role for role in CountyRole if role in self.roles]

    @property
    def role_labels(self) -> str:
        """The roles' Chinese names, joined for display."""
        return "、".join(role.label for role in self.ordered_roles)


# What an account may see


def subtree_of(home_node: str, registry: Registry) -> frozenset[str] | None:
    """Nodes visible from a home node: None (everything) for the county."""
    if home_node == COUNTY_NODE_ID:
        return None
    return registry.subtree(home_node)


def visible_nodes(user: CountyUser) -> frozenset[str] | None:
    """The nodes ``user`` may see; None means every node of the county."""
    return user.visible


def can_see_node(user: CountyUser, node_id: str | None) -> bool:
    """Whether ``node_id`` lies in the user's subtree."""
    return user.visible is None or (node_id is not None and node_id in user.visible)


def can_see_case(user: CountyUser, nodes: Iterable[str | None]) -> bool:
    """Whether a case whose origin, handling node or parties are ``nodes`` is the user's to see."""
    return user.visible is None or any(node in user.visible for node in nodes if node)


def ensure_node_visible(user: CountyUser, node_id: str) -> None:
    """Refuse a node outside the user's subtree.

    Raises:
        PermissionDeniedError: code ``outside_subtree``.
    """
    if not can_see_node(user, node_id):
        raise PermissionDeniedError(
            f"节点 {node_id} 不在您的管辖范围内（您的账号只能查看 {user.home_node} 及其下级）。",
            code="outside_subtree",
        )


def ensure_case_visible(user: CountyUser, case_id: str, nodes: Iterable[str | None]) -> None:
    """Refuse a case none of whose nodes lies in the user's subtree.

    Raises:
        PermissionDeniedError: code ``outside_subtree``.
    """
    if not can_see_case(user, nodes):
        raise PermissionDeniedError(
            f"办件 {case_id} 不在您的管辖范围内（您的账号只能查看 {user.home_node} 及其下级）。",
            code="outside_subtree",
        )


@dataclass(frozen=True)
class SqlFilter:
    """A WHERE fragment with ``{}`` placeholders (central.db.bulk_sql style) and its values."""

    sql: str
    params: tuple[str, ...]


ALL_ROWS = SqlFilter("1 = 1", ())


def node_filter(visible: Collection[str] | None, column: str) -> SqlFilter:
    """Rows whose ``column`` (a node id) lies in ``visible``; every row when it is None.

    ``column`` must be a constant identifier chosen by the caller, never user input.
    """
    if visible is None:
        return ALL_ROWS
    nodes = tuple(sorted(visible))
    if not nodes:
        return SqlFilter("1 = 0", ())
    return SqlFilter(f"{column} IN ({', '.join(['{}'] * len(nodes))})", nodes)


def case_filter(visible: Collection[str] | None, case_table: str = "case_row") -> SqlFilter:
    """``case_row`` rows the subtree may see: origin, handling node or any party inside it.

    For set-based queries over ``case_row`` (aliased ``case_table``); a party is any node that
    recorded an event on the case or had it forwarded to it (table ``case_party``).
    """
    if visible is None:
        return ALL_ROWS
    nodes = tuple(sorted(visible))
    if not nodes:
        return SqlFilter("1 = 0", ())
    marks = ", ".join(["{}"] * len(nodes))
    # Identifiers are the caller's constants; node ids are always bound.
    party = "SELECT 1 FROM case_party vis_party WHERE vis_party.case_id = {table}.case_id"
    sql = (
        f"({case_table}.origin_node IN ({marks}) OR {case_table}.handling_node IN ({marks})"
        f" OR EXISTS ({party.format(table=case_table)} AND vis_party.node IN ({marks})))"
    )
    return SqlFilter(sql, nodes * 3)


# Storage


@dataclass(frozen=True)
class StoredUser:
    """One account as stored."""

    user_id: int
    username: str
    name: str
    roles: str
    home_node: str
    department: str | None
    password_hash: str
    active: bool


@dataclass(frozen=True)
class StoredSession:
    """One open session and its account."""

    user: StoredUser
    last_seen_at: datetime
    expires_at: datetime


class AccountStore(Protocol):
    """Where county accounts live (central.db.account_store.PiccoloAccountStore)."""

    async def insert_user(
        self,
        *,
        username: str,
        name: str,
        roles: str,
        home_node: str,
        department: str | None,
        password_hash: str,
        at: datetime,
    ) -> StoredUser:
        """Create an account; ConflictError when the username is taken."""
        ...

    async def users(self) -> list[StoredUser]:
        """Every account, by username."""
        ...

    async def user_by_username(self, username: str) -> StoredUser | None:
        """One account."""
        ...

    async def update_user(
        self,
        username: str,
        *,
        name: str | None = None,
        roles: str | None = None,
        home_node: str | None = None,
        department: str | None = None,
        clear_department: bool = False,
        active: bool | None = None,
    ) -> StoredUser:
        """Change an account's details; NotFoundError when there is none."""
        ...

    async def set_password_hash(self, username: str, password_hash: str, at: datetime) -> int:
        """New password; closes the account's sessions and returns how many."""
        ...

    async def close_sessions(self, user_id: int) -> int:
        """Close every session of an account."""
        ...

    async def record_failure(self, key: str, at: datetime, *, forget_before: datetime) -> None:
        """Remember a failed log-in."""
        ...

    async def failures_since(self, key: str, since: datetime) -> list[datetime]:
        """Failures under ``key`` after ``since``, newest first."""
        ...

    async def clear_failures(self, key: str) -> None:
        """Forget failures under ``key``."""
        ...

    async def insert_session(
        self, token_hash: bytes, user_id: int, *, at: datetime, expires_at: datetime
    ) -> None:
        """Open a session (and drop expired ones)."""
        ...

    async def session(self, token_hash: bytes) -> StoredSession | None:
        """A session and its account."""
        ...

    async def touch_session(self, token_hash: bytes, *, at: datetime, expires_at: datetime) -> None:
        """Record activity on a session."""
        ...

    async def delete_session(self, token_hash: bytes) -> None:
        """Close one session."""
        ...


@dataclass(frozen=True)
class NewSession:
    """A session just opened; ``token`` goes into the cookie and nowhere else."""

    token: str
    user: CountyUser
    expires_at: datetime


class AccountService:
    """County staff accounts, log-in and sessions."""

    def __init__(
        self,
        store: AccountStore,
        registry: Callable[[], Registry],
        clock: Callable[[], datetime],
        departments: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        # Department code → name in the catalog in force; a review names its department by code.
        self._departments = departments or dict
        self._subtrees: tuple[Registry, dict[str, frozenset[str] | None]] | None = None

    # Reading

    def _user(self, row: StoredUser) -> CountyUser:
        return CountyUser(
            user_id=row.user_id,
            username=row.username,
            name=row.name,
            roles=roles_from_text(row.roles),
            home_node=row.home_node,
            department=row.department,
            active=row.active,
            visible=self._subtree(row.home_node),
        )

    def _subtree(self, home_node: str) -> frozenset[str] | None:
        registry = self._registry()
        if self._subtrees is None or self._subtrees[0] is not registry:
            # A new release brings a new Registry object; subtrees are recomputed once each.
            self._subtrees = (registry, {})
        cache = self._subtrees[1]
        if home_node not in cache:
            cache[home_node] = subtree_of(home_node, registry)
        return cache[home_node]

    def registry(self) -> Registry:
        """The registry in force (home nodes are chosen from it)."""
        return self._registry()

    def visible_nodes(self, user: CountyUser) -> frozenset[str] | None:
        """The user's subtree under the registry in force now (None: everything)."""
        return self._subtree(user.home_node)

    async def users(self) -> list[CountyUser]:
        """Every account, disabled ones included, by username."""
        return [self._user(row) for row in await self._store.users()]

    async def user(self, username: str) -> CountyUser | None:
        """The account with this username, if any."""
        row = await self._store.user_by_username(normalize_username(username))
        return None if row is None else self._user(row)

    def departments(self) -> Mapping[str, str]:
        """The catalog's departments (code → name) a department account may speak for."""
        return self._departments()

    # Changing accounts

    def _placement_problems(
        self, roles: frozenset[CountyRole], home_node: str, department: str | None
    ) -> list[str]:
        problems: list[str] = []
        registry = self._registry()
        if home_node != COUNTY_NODE_ID and registry.get(home_node) is None:
            problems.append(f"所属节点 {home_node} 不在现行节点登记表中。")
        if home_node != COUNTY_NODE_ID:
            scoped = [role.label for role in CountyRole if role in roles & COUNTY_ONLY_ROLES]
            if scoped:
                problems.append(
                    f"{'、'.join(scoped)}面向全县，所属节点必须是县中心（{COUNTY_NODE_ID}）。"
                )
        for pair in EXCLUSIVE_ROLES:
            if pair <= roles:
                names = "与".join(role.label for role in CountyRole if role in pair)
                problems.append(f"{names}不能由同一账号兼任（编辑与审核须分属两人）。")
        if CountyRole.DEPARTMENT in roles and not department:
            problems.append("部门审查角色须选择所属部门。")
        if department and CountyRole.DEPARTMENT not in roles:
            problems.append("只有部门审查角色的账号需要填写部门。")
        if department and len(department) > DEPARTMENT_MAX_LENGTH:
            problems.append(f"部门编号不超过 {DEPARTMENT_MAX_LENGTH} 个字符。")
        known = self._departments()
        if department and known and department not in known:
            problems.append(
                f"部门 {department} 不在现行事项目录中；请选择目录中的部门"
                f"（{'、'.join(f'{name}（{code}）' for code, name in known.items())}）。"
            )
        return problems

    async def add_user(
        self,
        *,
        username: str,
        name: str,
        roles: Iterable[str],
        home_node: str = COUNTY_NODE_ID,
        department: str | None = None,
        password: str,
    ) -> CountyUser:
        """Create an account; every problem with the input is reported at once.

        Raises:
            ValidationError: username, name, roles, home node, department or password break a
                rule.
            ConflictError: the username is taken.
        """
        username = normalize_username(username)
        name = name.strip()
        home_node = home_node.strip() or COUNTY_NODE_ID
        department = (department or "").strip() or None
        problems = account_problems(username, name, password)
        parsed: frozenset[CountyRole] = frozenset()
        try:
            parsed = parse_county_roles(roles)
        except InvalidError as exc:
            problems.append(exc.message)
        problems.extend(self._placement_problems(parsed, home_node, department))
        if problems:
            raise ValidationError(problems)
        encoded = await anyio.to_thread.run_sync(hash_password, password)
        row = await self._store.insert_user(
            username=username,
            name=name,
            roles=roles_text(parsed),
            home_node=home_node,
            department=department,
            password_hash=encoded,
            at=self._clock(),
        )
        logger.info("county account %s created with roles %s at %s", username, row.roles, home_node)
        return self._user(row)

    async def change_user(
        self,
        username: str,
        *,
        roles: Iterable[str],
        home_node: str,
        department: str | None,
        name: str | None = None,
    ) -> CountyUser:
        """Change an account's roles, home node, department (and name).

        Raises:
            ValidationError: the new combination breaks a rule.
            NotFoundError: no such account.
        """
        current = await self._existing(username)
        home_node = home_node.strip() or COUNTY_NODE_ID
        department = (department or "").strip() or None
        problems: list[str] = []
        parsed: frozenset[CountyRole] = frozenset()
        try:
            parsed = parse_county_roles(roles)
        except InvalidError as exc:
            problems.append(exc.message)
        if name is not None and (not name.strip() or len(name.strip()) > 40):
            problems.append("姓名不能为空，且不超过 40 个字符。")
        problems.extend(self._placement_problems(parsed, home_node, department))
        if problems:
            raise ValidationError(problems)
        row = await self._store.update_user(
            current.username,
            name=name.strip() if name is not None else None,
            roles=roles_text(parsed),
            home_node=home_node,
            department=department,
            clear_department=department is None,
        )
        logger.info("county account %s now has roles %s at %s", row.username, row.roles, home_node)
        return self._user(row)

    async def set_active(
        self, username: str, active: bool, *, by: CountyUser | None = None
    ) -> None:
        """Disable (closing every session) or re-enable an account.

        Raises:
            NotFoundError: no such account.
            InvalidError: an administrator tried to disable their own account.
        """
        current = await self._existing(username)
        if not active and by is not None and by.user_id == current.user_id:
            raise InvalidError("不能停用自己正在使用的账号。", code="cannot_disable_self")
        await self._store.update_user(current.username, active=active)
        if not active:
            await self._store.close_sessions(current.user_id)
        logger.info("county account %s %s", current.username, "enabled" if active else "disabled")

    async def set_password(self, username: str, password: str) -> int:
        """Give an account a new password and end its open sessions.

        Returns:
            How many sessions were ended.

        Raises:
            InvalidError: the password breaks a rule.
            NotFoundError: no such account.
        """
        check_password_rules(password)
        current = await self._existing(username)
        encoded = await anyio.to_thread.run_sync(hash_password, password)
        closed = await self._store.set_password_hash(current.username, encoded, self._clock())
        logger.info("password of %s changed; %d session(s) ended", current.username, closed)
        return closed

    async def _existing(self, username: str) -> StoredUser:
        row = await self._store.user_by_username(normalize_username(username))
        if row is None:
            raise NotFoundError(f"没有用户名为“{username}”的账号。", code="user_not_found")
        return row

    # Log-in and sessions

    async def authenticate(self, username: str, password: str) -> CountyUser:
        """Check a log-in. Unknown user and wrong password fail alike, in time and message.

        Raises:
            LoginLockedError: five failures under this username in the last 15 minutes.
            AuthenticationError: unknown user, wrong password or disabled account
                (code ``login_failed``, always the same message).
        """
        key = failure_key(username)
        now = self._clock()
        recent = await self._store.failures_since(key, now - LOCK_WINDOW)
        minutes = lock_minutes_left(recent, now)
        if minutes is not None:
            raise LoginLockedError(minutes, helper=LOCK_HELPER)
        row = await self._store.user_by_username(key) if is_valid_username(key) else None
        stored = row.password_hash if row else None
        password_ok = await anyio.to_thread.run_sync(check_login_password, password, stored)
        if row is None or not row.active or not password_ok:
            await self._store.record_failure(key, now, forget_before=now - LOCK_WINDOW)
            # A name that matches no account may be a password typed into the wrong field.
            logger.info("failed log-in for %s", row.username if row else "an unknown username")
            raise AuthenticationError(LOGIN_FAILED_MESSAGE, code="login_failed")
        if recent:
            await self._store.clear_failures(key)
        logger.info("%s logged in", row.username)
        return self._user(row)

    async def start_session(self, user: CountyUser) -> NewSession:
        """Open a session for a user who has just logged in."""
        token = new_session_token()
        now = self._clock()
        expires_at = now + SESSION_IDLE
        await self._store.insert_session(
            token_hash(token), user.user_id, at=now, expires_at=expires_at
        )
        return NewSession(token=token, user=user, expires_at=expires_at)

    async def user_for_session(self, token: str) -> CountyUser | None:
        """The user a session token belongs to; None when unknown, expired or disabled.

        Each use pushes the idle expiry out by :data:`SESSION_IDLE`.
        """
        if not plausible_token(token):
            return None
        hashed = token_hash(token)
        row = await self._store.session(hashed)
        if row is None:
            return None
        now = self._clock()
        if now >= row.expires_at or not row.user.active:
            await self._store.delete_session(hashed)
            return None
        if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
            await self._store.touch_session(hashed, at=now, expires_at=now + SESSION_IDLE)
        return self._user(row.user)

    async def end_session(self, token: str) -> None:
        """Close a session (log-out); an unknown token is ignored."""
        if plausible_token(token):
            await self._store.delete_session(token_hash(token))


def with_visibility(user: CountyUser, visible: frozenset[str] | None) -> CountyUser:
    """The same user seen through another subtree (tests and previews)."""
    return replace(user, visible=visible)


def ensure_web_secret(path: Path) -> str:
    """The CSRF signing secret kept in a 0600 file, created on first use.

    A file rather than a database row because the app needs it while it is being built,
    before the database is opened, and every county process on this data folder must share it.
    """
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = new_secret()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it between our read and our create.
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return secret

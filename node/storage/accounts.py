"""Staff accounts, sessions and failed log-ins of a node (tables of migration m003).

Times are stored as UTC ISO-8601 text in one fixed format, so comparing the text compares the
instants. Nothing here sees a password: only the encoded hash the service computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from node.storage.database import NodeDatabase
from shared.errors import ConflictError, NotFoundError


@dataclass(frozen=True)
class UserRow:
    """One staff account as stored."""

    user_id: int
    username: str
    name: str
    roles: str
    password_hash: str
    active: bool


@dataclass(frozen=True)
class SessionRow:
    """One open session and the account it belongs to."""

    user: UserRow
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def stamp(moment: datetime) -> str:
    """The stored text of an instant (UTC, microseconds, always the same width)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _instant(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


_USER_COLUMNS = "user_id, username, name, roles, password_hash, active"


def _user(row: tuple[object, ...]) -> UserRow:
    return UserRow(
        user_id=int(str(row[0])),
        username=str(row[1]),
        name=str(row[2]),
        roles=str(row[3]),
        password_hash=str(row[4]),
        active=bool(row[5]),
    )


class AccountStore:
    """Reads and writes the account tables through the node's single-writer database."""

    def __init__(self, database: NodeDatabase) -> None:
        self._database = database

    # Accounts

    def insert_user(
        self, *, username: str, name: str, roles: str, password_hash: str, at: datetime
    ) -> UserRow:
        """Create an account.

        Raises:
            ConflictError: the username is taken.
        """

        def insert(db: Database) -> UserRow:
            if _user_where(db, "username = ?", username) is not None:
                raise ConflictError(f"用户名“{username}”已存在。", code="username_taken")
            db.execute(
                "INSERT INTO staff_user (username, name, roles, password_hash, active,"
                " created_at, password_changed_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                [username, name, roles, password_hash, stamp(at), stamp(at)],
            )
            created = _user_where(db, "username = ?", username)
            assert created is not None
            return created

        return self._database.write(insert)

    def user_by_username(self, username: str) -> UserRow | None:
        """The account with this username, if any."""
        return self._database.read(lambda db: _user_where(db, "username = ?", username))

    def set_password_hash(self, username: str, password_hash: str, at: datetime) -> int:
        """Replace an account's password and close all its sessions, in one transaction.

        Returns:
            How many sessions were closed.

        Raises:
            NotFoundError: no account has this username.
        """

        def update(db: Database) -> int:
            user = _user_where(db, "username = ?", username)
            if user is None:
                raise NotFoundError(f"没有用户名为“{username}”的账号。", code="user_not_found")
            db.execute(
                "UPDATE staff_user SET password_hash = ?, password_changed_at = ?"
                " WHERE user_id = ?",
                [password_hash, stamp(at), user.user_id],
            )
            cursor = db.execute("DELETE FROM staff_session WHERE user_id = ?", [user.user_id])
            return int(cursor.rowcount)

        return self._database.write(update)

    # Failed log-ins

    def record_failure(self, username: str, at: datetime, *, forget_before: datetime) -> None:
        """Remember a failed log-in under the name typed; drop failures too old to matter."""

        def insert(db: Database) -> None:
            db.execute("DELETE FROM login_failure WHERE failed_at < ?", [stamp(forget_before)])
            db.execute(
                "INSERT INTO login_failure (username, failed_at) VALUES (?, ?)",
                [username, stamp(at)],
            )

        self._database.write(insert)

    def failures_since(self, username: str, since: datetime) -> list[datetime]:
        """Failed log-ins under this name strictly after ``since``, newest first."""

        def query(db: Database) -> list[datetime]:
            rows = db.execute(
                "SELECT failed_at FROM login_failure WHERE username = ? AND failed_at > ?"
                " ORDER BY failed_at DESC",
                [username, stamp(since)],
            ).fetchall()
            return [_instant(row[0]) for row in rows]

        return self._database.read(query)

    def clear_failures(self, username: str) -> None:
        """Forget the failures under this name (after a successful log-in)."""
        self._database.write(
            lambda db: db.execute("DELETE FROM login_failure WHERE username = ?", [username])
        )

    # Sessions

    def insert_session(
        self, token_hash: bytes, user_id: int, *, at: datetime, expires_at: datetime
    ) -> None:
        """Open a session; sessions already expired at ``at`` are removed on the way."""

        def insert(db: Database) -> None:
            db.execute("DELETE FROM staff_session WHERE expires_at <= ?", [stamp(at)])
            db.execute(
                "INSERT INTO staff_session (token_hash, user_id, created_at, last_seen_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?)",
                [token_hash, user_id, stamp(at), stamp(at), stamp(expires_at)],
            )

        self._database.write(insert)

    def session(self, token_hash: bytes) -> SessionRow | None:
        """The session with this token hash and its account, expired or not."""

        def query(db: Database) -> SessionRow | None:
            row = db.execute(
                "SELECT u.user_id, u.username, u.name, u.roles, u.password_hash, u.active,"
                " s.created_at, s.last_seen_at, s.expires_at"
                " FROM staff_session s JOIN staff_user u ON u.user_id = s.user_id"
                " WHERE s.token_hash = ?",
                [token_hash],
            ).fetchone()
            if row is None:
                return None
            return SessionRow(
                user=_user(row[:6]),
                created_at=_instant(row[6]),
                last_seen_at=_instant(row[7]),
                expires_at=_instant(row[8]),
            )

        return self._database.read(query)

    def touch_session(self, token_hash: bytes, *, at: datetime, expires_at: datetime) -> None:
        """Record activity on a session and push its idle expiry out."""
        self._database.write(
            lambda db: db.execute(
                "UPDATE staff_session SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
                [stamp(at), stamp(expires_at), token_hash],
            )
        )

    def delete_session(self, token_hash: bytes) -> None:
        """Close a session (log-out or expiry)."""
        self._database.write(
            lambda db: db.execute("DELETE FROM staff_session WHERE token_hash = ?", [token_hash])
        )

    # Secrets

    def secret(self, name: str, create: Callable[[], str]) -> str:
        """A named secret of the web layer, created on first use and kept from then on."""

        def get_or_create(db: Database) -> str:
            row = db.execute("SELECT value FROM web_secret WHERE name = ?", [name]).fetchone()
            if row is not None:
                return str(row[0])
            value = create()
            db.execute("INSERT INTO web_secret (name, value) VALUES (?, ?)", [name, value])
            return value

        return self._database.write(get_or_create)


def _user_where(db: Database, condition: str, value: object) -> UserRow | None:
    row = db.execute(
        f"SELECT {_USER_COLUMNS} FROM staff_user WHERE {condition}",  # noqa: S608
        [value],
    ).fetchone()
    return None if row is None else _user(tuple(row))

"""County staff accounts, sessions and failed log-ins in the county database (Piccolo).

Few rows and low traffic (one lookup per request, a write per minute per session), so the
query builder is fine here; nothing below ever sees a password or a token in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from central.db.account_tables import CountyAccount, CountyLoginFailure, CountySession
from central.services.accounts import StoredSession, StoredUser
from shared.errors import ConflictError, NotFoundError


def _user(row: dict[str, Any]) -> StoredUser:
    return StoredUser(
        user_id=int(row["id"]),
        username=str(row["username"]),
        name=str(row["name"]),
        roles=str(row["roles"]),
        home_node=str(row["home_node"]),
        department=row["department"],
        password_hash=str(row["password_hash"]),
        active=bool(row["active"]),
    )


class PiccoloAccountStore:
    """Implements central.services.accounts.AccountStore."""

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
        """Create an account.

        Raises:
            ConflictError: the username is taken.
        """
        if await CountyAccount.exists().where(CountyAccount.username == username).run():
            raise ConflictError(f"用户名“{username}”已存在。", code="username_taken")
        try:
            await CountyAccount.insert(
                CountyAccount(
                    username=username,
                    name=name,
                    roles=roles,
                    home_node=home_node,
                    department=department,
                    password_hash=password_hash,
                    active=True,
                    created_at=at,
                    password_changed_at=at,
                )
            ).run()
        except Exception as exc:
            # Two simultaneous submissions: the unique index refuses the second one.
            if await CountyAccount.exists().where(CountyAccount.username == username).run():
                raise ConflictError(f"用户名“{username}”已存在。", code="username_taken") from exc
            raise
        created = await self.user_by_username(username)
        assert created is not None
        return created

    async def users(self) -> list[StoredUser]:
        """Every account, by username."""
        rows = await CountyAccount.select().order_by(CountyAccount.username).run()
        return [_user(row) for row in rows]

    async def user_by_username(self, username: str) -> StoredUser | None:
        """One account."""
        row = await CountyAccount.select().where(CountyAccount.username == username).first().run()
        return None if row is None else _user(row)

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
        """Change an account's details.

        Raises:
            NotFoundError: no account has this username.
        """
        values: dict[Any, Any] = {}
        if name is not None:
            values[CountyAccount.name] = name
        if roles is not None:
            values[CountyAccount.roles] = roles
        if home_node is not None:
            values[CountyAccount.home_node] = home_node
        if department is not None or clear_department:
            values[CountyAccount.department] = department
        if active is not None:
            values[CountyAccount.active] = active
        if values:
            await CountyAccount.update(values).where(CountyAccount.username == username).run()
        row = await self.user_by_username(username)
        if row is None:
            raise NotFoundError(f"没有用户名为“{username}”的账号。", code="user_not_found")
        return row

    async def set_password_hash(self, username: str, password_hash: str, at: datetime) -> int:
        """Replace an account's password and close all its sessions, in one transaction.

        Raises:
            NotFoundError: no account has this username.
        """
        async with CountyAccount._meta.db.transaction():
            row = await self.user_by_username(username)
            if row is None:
                raise NotFoundError(f"没有用户名为“{username}”的账号。", code="user_not_found")
            await (
                CountyAccount.update(
                    {
                        CountyAccount.password_hash: password_hash,
                        CountyAccount.password_changed_at: at,
                    }
                )
                .where(CountyAccount._meta.primary_key == row.user_id)
                .run()
            )
            return await self.close_sessions(row.user_id)

    async def close_sessions(self, user_id: int) -> int:
        """Close every session of an account; how many there were."""
        count = await CountySession.count().where(CountySession.account_id == user_id).run()
        await CountySession.delete().where(CountySession.account_id == user_id).run()
        return int(count)

    # Failed log-ins

    async def record_failure(self, key: str, at: datetime, *, forget_before: datetime) -> None:
        """Remember a failed log-in under the name typed; drop failures too old to matter."""
        await CountyLoginFailure.delete().where(CountyLoginFailure.failed_at < forget_before).run()
        await CountyLoginFailure.insert(CountyLoginFailure(username=key, failed_at=at)).run()

    async def failures_since(self, key: str, since: datetime) -> list[datetime]:
        """Failed log-ins under this name strictly after ``since``, newest first."""
        rows = (
            await CountyLoginFailure.select(CountyLoginFailure.failed_at)
            .where((CountyLoginFailure.username == key) & (CountyLoginFailure.failed_at > since))
            .order_by(CountyLoginFailure.failed_at, ascending=False)
            .run()
        )
        return [row["failed_at"] for row in rows]

    async def clear_failures(self, key: str) -> None:
        """Forget the failures under this name (after a successful log-in)."""
        await CountyLoginFailure.delete().where(CountyLoginFailure.username == key).run()

    # Sessions

    async def insert_session(
        self, token_hash: bytes, user_id: int, *, at: datetime, expires_at: datetime
    ) -> None:
        """Open a session; sessions already expired at ``at`` are removed on the way."""
        await CountySession.delete().where(CountySession.expires_at <= at).run()
        await CountySession.insert(
            CountySession(
                token_hash=token_hash.hex(),
                account_id=user_id,
                created_at=at,
                last_seen_at=at,
                expires_at=expires_at,
            )
        ).run()

    async def session(self, token_hash: bytes) -> StoredSession | None:
        """The session with this token hash and its account, expired or not."""
        found = (
            await CountySession.select()
            .where(CountySession.token_hash == token_hash.hex())
            .first()
            .run()
        )
        if found is None:
            return None
        account = (
            await CountyAccount.select()
            .where(CountyAccount._meta.primary_key == found["account_id"])
            .first()
            .run()
        )
        if account is None:
            return None
        return StoredSession(
            user=_user(account),
            last_seen_at=found["last_seen_at"],
            expires_at=found["expires_at"],
        )

    async def touch_session(self, token_hash: bytes, *, at: datetime, expires_at: datetime) -> None:
        """Record activity on a session and push its idle expiry out."""
        await (
            CountySession.update(
                {CountySession.last_seen_at: at, CountySession.expires_at: expires_at}
            )
            .where(CountySession.token_hash == token_hash.hex())
            .run()
        )

    async def delete_session(self, token_hash: bytes) -> None:
        """Close a session (log-out or expiry)."""
        await CountySession.delete().where(CountySession.token_hash == token_hash.hex()).run()

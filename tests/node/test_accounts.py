"""Staff accounts at a node: password hashing, rules, roles, log-in lock-out, sessions, CLI."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from node.services.accounts import (
    LOGIN_FAILED_MESSAGE,
    AccountService,
    LoginLockedError,
    Role,
    check_password_rules,
    hash_password,
    parse_roles,
    verify_password,
)
from node.settings import NodeSettings
from node.storage.accounts import AccountStore
from node.storage.database import NodeDatabase
from shared.errors import (
    AuthenticationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    ValidationError,
)
from tests.conftest import FIXED_NOW
from tongban.cli import main

PASSWORD = "窗口-2026-春"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[NodeDatabase]:
    db = NodeDatabase(tmp_path / "node.sqlite")
    yield db
    db.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(database: NodeDatabase, clock: Clock) -> AccountService:
    service = AccountService(AccountStore(database), clock)
    service.add_user(username="zhangsan", name="张三", roles=["clerk"], password=PASSWORD)
    return service


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_password_hash_round_trip_and_format() -> None:
    encoded = hash_password(PASSWORD)
    scheme, params, salt, digest = encoded.split("$")[1:]
    assert (scheme, params) == ("scrypt", "ln=14,r=8,p=1")
    assert len(_b64(salt)) == 16
    assert len(_b64(digest)) == 32
    assert verify_password(PASSWORD, encoded) is True
    assert PASSWORD not in encoded


def test_password_hash_rejects_wrong_password_and_salts_each_hash() -> None:
    encoded = hash_password(PASSWORD)
    assert verify_password(PASSWORD + "x", encoded) is False
    assert verify_password("", encoded) is False
    assert hash_password(PASSWORD) != encoded


def test_password_hash_malformed_or_hostile_strings_never_verify() -> None:
    good = hash_password(PASSWORD)
    assert verify_password(PASSWORD, "plain-text") is False
    assert verify_password(PASSWORD, good.replace("$scrypt$", "$bcrypt$")) is False
    # A tampered cost parameter is refused instead of allocating gigabytes.
    assert verify_password(PASSWORD, good.replace("ln=14", "ln=30")) is False


def test_password_rules_minimum_length_in_chinese() -> None:
    with pytest.raises(InvalidError) as caught:
        check_password_rules("1234567")
    assert caught.value.code == "password_too_short"
    assert caught.value.message == "密码至少需要 8 个字符。"
    check_password_rules("12345678")
    check_password_rules("八个汉字也可以的")


def test_add_user_reports_every_problem_at_once(accounts: AccountService) -> None:
    with pytest.raises(ValidationError) as caught:
        accounts.add_user(username="X", name=" ", roles=["boss"], password="short")
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("用户名须为 2–32 位")
    assert problems[1] == "姓名不能为空，且不超过 40 个字符。"
    assert problems[2].startswith("未知角色：boss。")
    assert problems[3] == "密码至少需要 8 个字符。"


def test_roles_parse_codes_and_chinese_names() -> None:
    assert parse_roles(["clerk", "审核", " Approver "]) == {
        Role.CLERK,
        Role.REVIEWER,
        Role.APPROVER,
    }
    assert parse_roles(["节点管理员"]) == {Role.ADMIN}
    assert [role.label for role in Role] == ["窗口人员", "审核", "决定", "节点管理员"]
    with pytest.raises(InvalidError) as unknown:
        parse_roles(["clerk", "boss"])
    assert unknown.value.code == "unknown_role"
    with pytest.raises(InvalidError) as empty:
        parse_roles([])
    assert empty.value.code == "role_missing"


def test_add_user_stores_roles_and_refuses_a_taken_username(accounts: AccountService) -> None:
    user = accounts.add_user(
        username=" LiSi ", name="李四", roles=["reviewer", "approver"], password=PASSWORD
    )
    assert (user.username, user.name) == ("lisi", "李四")
    assert user.ordered_roles == [Role.REVIEWER, Role.APPROVER]
    assert accounts.user("lisi") == user
    with pytest.raises(ConflictError) as caught:
        accounts.add_user(username="lisi", name="李四", roles=["clerk"], password=PASSWORD)
    assert caught.value.code == "username_taken"


def test_authenticate_unknown_user_and_wrong_password_fail_alike(
    accounts: AccountService,
) -> None:
    assert accounts.authenticate("ZhangSan", PASSWORD).username == "zhangsan"
    failures = []
    for username, password in (("zhangsan", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as caught:
            accounts.authenticate(username, password)
        failures.append((type(caught.value), caught.value.code, caught.value.message))
    assert failures == [(AuthenticationError, "login_failed", LOGIN_FAILED_MESSAGE)] * 2


def test_lockout_after_five_failures_in_fifteen_minutes(
    accounts: AccountService, clock: Clock
) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("zhangsan", "wrong-password")
        clock.advance(minutes=1)
    with pytest.raises(LoginLockedError) as caught:
        accounts.authenticate("zhangsan", PASSWORD)
    # The first failure was at minute 0: the lock lifts at minute 15, 10 minutes from now.
    assert caught.value.minutes == 10
    assert caught.value.code == "login_locked"
    assert "请 10 分钟后再试" in caught.value.message
    clock.advance(minutes=10)
    assert accounts.authenticate("zhangsan", PASSWORD).username == "zhangsan"


def test_lockout_counts_only_recent_failures_and_unknown_names_too(
    accounts: AccountService, clock: Clock
) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("zhangsan", "wrong-password")
    clock.advance(minutes=16)
    with pytest.raises(AuthenticationError) as fifth:
        accounts.authenticate("zhangsan", "wrong-password")
    assert not isinstance(fifth.value, LoginLockedError)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate("ghost", "whatever-1")
    with pytest.raises(LoginLockedError):
        accounts.authenticate("ghost", "whatever-1")


def test_session_expires_after_eight_idle_hours(accounts: AccountService, clock: Clock) -> None:
    user = accounts.authenticate("zhangsan", PASSWORD)
    session = accounts.start_session(user)
    assert session.expires_at == FIXED_NOW + timedelta(hours=8)
    assert len(session.token) >= 43  # 32 random bytes
    clock.advance(hours=7, minutes=59)
    assert accounts.user_for_session(session.token) == user
    # Activity moved the idle expiry: another 7 h 59 min is still fine.
    clock.advance(hours=7, minutes=59)
    assert accounts.user_for_session(session.token) == user
    clock.advance(hours=8)
    assert accounts.user_for_session(session.token) is None
    # The expired row is gone: winding the clock back does not revive it.
    clock.now = FIXED_NOW
    assert accounts.user_for_session(session.token) is None


def test_end_session_and_unknown_tokens(accounts: AccountService) -> None:
    user = accounts.authenticate("zhangsan", PASSWORD)
    session = accounts.start_session(user)
    assert accounts.user_for_session("not-a-token") is None
    assert accounts.user_for_session("") is None
    accounts.end_session(session.token)
    assert accounts.user_for_session(session.token) is None


def test_set_password_ends_open_sessions(accounts: AccountService) -> None:
    user = accounts.authenticate("zhangsan", PASSWORD)
    first, second = accounts.start_session(user), accounts.start_session(user)
    assert accounts.set_password("zhangsan", "新的密码-12345") == 2
    assert accounts.user_for_session(first.token) is None
    assert accounts.user_for_session(second.token) is None
    with pytest.raises(AuthenticationError):
        accounts.authenticate("zhangsan", PASSWORD)
    assert accounts.authenticate("zhangsan", "新的密码-12345") == user
    with pytest.raises(InvalidError):
        accounts.set_password("zhangsan", "short")
    with pytest.raises(NotFoundError):
        accounts.set_password("nobody", "long-enough-1")


def test_no_plaintext_password_or_token_in_database_or_logs(
    accounts: AccountService, database: NodeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    typed_into_username = "my-secret-passphrase"
    with pytest.raises(AuthenticationError):
        accounts.authenticate(typed_into_username, PASSWORD)
    with pytest.raises(AuthenticationError):
        accounts.authenticate("zhangsan", "wrong-password")
    session = accounts.start_session(accounts.authenticate("zhangsan", PASSWORD))
    accounts.set_password("zhangsan", "另一个足够长的密码")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, "wrong-password", typed_into_username, "另一个足够长的密码"):
        assert secret not in logged
    assert "failed log-in for zhangsan" in logged
    dump = "\n".join(database.db.iterdump())
    for secret in (PASSWORD, "另一个足够长的密码", session.token):
        assert secret not in dump


def test_csrf_secret_survives_reopening(tmp_path: Path, clock: Clock) -> None:
    secrets = []
    for _ in range(2):
        database = NodeDatabase(tmp_path / "node.sqlite")
        try:
            secrets.append(AccountService(AccountStore(database), clock).csrf_secret())
        finally:
            database.close()
    assert secrets[0] == secrets[1]
    assert len(secrets[0]) == 64


# Command line


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _accounts_of(settings: NodeSettings) -> tuple[NodeDatabase, AccountService]:
    database = NodeDatabase(settings.database_path)
    return database, AccountService(AccountStore(database), Clock())


def test_cli_add_user_reads_the_password_from_stdin(
    township: NodeSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = _run(
        capsys,
        "node",
        "add-user",
        "--data",
        str(township.data_dir),
        "--username",
        "zhangsan",
        "--name",
        "张三",
        "--role",
        "clerk",
        "--role",
        "reviewer",
        "--password-stdin",
    )
    assert (code, out) == (0, "已创建账号 zhangsan（张三），角色：窗口人员、审核。\n")
    database, accounts = _accounts_of(township)
    try:
        user = accounts.authenticate("zhangsan", PASSWORD)
        assert user.roles == {Role.CLERK, Role.REVIEWER}
    finally:
        database.close()


def test_cli_add_user_prompts_twice_and_refuses_a_mismatch(
    township: NodeSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    args = ["node", "add-user", "--data", str(township.data_dir), "--username", "wangwu"]
    code, out, err = _run(capsys, *args, "--name", "王五", "--role", "approver")
    assert (code, out) == (1, "")
    assert err == "错误：两次输入的密码不一致，未作任何修改。\n"
    assert PASSWORD not in err
    answers = iter([PASSWORD, PASSWORD])
    code, out, _ = _run(capsys, *args, "--name", "王五", "--role", "决定")
    assert (code, out) == (0, "已创建账号 wangwu（王五），角色：决定。\n")


def test_cli_add_user_errors_in_chinese(
    township: NodeSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    base = ["node", "add-user", "--username", "zhaoliu", "--name", "赵六", "--password-stdin"]
    code, _, err = _run(capsys, *base, "--data", str(township.data_dir), "--role", "clerk")
    assert (code, err) == (1, "错误：密码至少需要 8 个字符。\n")
    code, _, err = _run(capsys, *base, "--data", str(township.data_dir), "--role", "boss")
    assert code == 1 and err.startswith("错误：未知角色：boss。")
    code, _, err = _run(capsys, *base, "--data", str(tmp_path / "nowhere"), "--role", "clerk")
    assert code == 1 and "tongban node init" in err


def test_cli_set_password_ends_sessions(
    township: NodeSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, accounts = _accounts_of(township)
    try:
        user = accounts.add_user(
            username="zhangsan", name="张三", roles=["admin"], password=PASSWORD
        )
        session = accounts.start_session(user)
    finally:
        database.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("全新的密码-0001\n"))
    args = ["node", "set-password", "--data", str(township.data_dir), "--password-stdin"]
    code, out, _ = _run(capsys, *args, "--username", "zhangsan")
    assert (code, out) == (0, "已重设 zhangsan 的密码，结束了 1 个登录会话。\n")
    database, accounts = _accounts_of(township)
    try:
        assert accounts.user_for_session(session.token) is None
        assert accounts.authenticate("zhangsan", "全新的密码-0001") == user
    finally:
        database.close()
    code, _, err = _run(capsys, *args, "--username", "nobody")
    assert (code, err) == (1, "错误：没有用户名为“nobody”的账号。\n")

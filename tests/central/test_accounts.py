"""County accounts on SQLite and PostgreSQL: rules, log-in, lock-out, sessions, subtree scope."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from piccolo.engine.base import Engine

from central.db.account_store import PiccoloAccountStore
from central.db.account_tables import CountyAccount, CountySession
from central.db.bulk_sql import Sql
from central.db.engine import close_database, make_engine, open_database
from central.services.accounts import (
    AccountService,
    CountyRole,
    CountyUser,
    case_filter,
    ensure_case_visible,
    ensure_node_visible,
    ensure_web_secret,
    node_filter,
    parse_county_roles,
    roles_from_text,
    roles_text,
    subtree_of,
    visible_nodes,
)
from central.settings import CentralSettings
from shared.credentials import LOGIN_FAILED_MESSAGE, LoginLockedError
from shared.delegation import Tier
from shared.errors import (
    AuthenticationError,
    ConflictError,
    InvalidError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from shared.registry import COUNTY_NODE_ID, NodeRecord, Registry
from tests.conftest import FIXED_NOW
from tongban.cli import main

pytestmark = pytest.mark.anyio

PASSWORD = "正确的密码-2026"

TREE = Registry(
    nodes=tuple(
        NodeRecord(node_id=node_id, name=name, tier=tier, parent=parent, short_code=code)
        for node_id, name, tier, parent, code in (
            (COUNTY_NODE_ID, "示范县政务服务中心", Tier.COUNTY, None, "XZX"),
            ("zhen-shifan", "示范镇便民服务中心", Tier.TOWNSHIP, COUNTY_NODE_ID, "SFZ"),
            ("she-dongcun", "东村社区便民服务站", Tier.COMMUNITY, "zhen-shifan", "DCS"),
            ("zhen-beishan", "北山镇便民服务中心", Tier.TOWNSHIP, COUNTY_NODE_ID, "BSZ"),
            ("she-beicun", "北村社区便民服务站", Tier.COMMUNITY, "zhen-beishan", "BCS"),
        )
    )
)


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def engine(tmp_path: Path, central_database_url: str | None) -> AsyncIterator[Engine]:  # type: ignore[type-arg]
    engine = make_engine(central_database_url, tmp_path / "central.sqlite3")
    await open_database(engine)
    try:
        yield engine
    finally:
        await close_database(engine)


@pytest.fixture
async def accounts(engine: Engine, clock: Clock) -> AccountService:  # type: ignore[type-arg]
    service = AccountService(PiccoloAccountStore(), lambda: TREE, clock)
    await service.add_user(username="zhangsan", name="张三", roles=["clerk"], password=PASSWORD)
    return service


# Roles


def test_roles_parse_by_code_or_chinese_name_and_commas() -> None:
    assert parse_county_roles(["admin,电子监察", " department "]) == {
        CountyRole.ADMIN,
        CountyRole.SUPERVISOR,
        CountyRole.DEPARTMENT,
    }
    with pytest.raises(InvalidError) as unknown:
        parse_county_roles(["admin,boss"])
    assert unknown.value.code == "unknown_role" and "boss" in unknown.value.message
    with pytest.raises(InvalidError) as empty:
        parse_county_roles([" , "])
    assert empty.value.code == "role_missing"


@given(st.sets(st.sampled_from(list(CountyRole))))
def test_stored_roles_round_trip(roles: set[CountyRole]) -> None:
    assert roles_from_text(roles_text(roles)) == roles


def test_every_role_has_a_chinese_label() -> None:
    assert [role.label for role in CountyRole] == [
        "系统管理员",
        "目录审核",
        "电子监察",
        "窗口人员",
        "审核",
        "决定",
        "部门审查",
    ]


# Accounts


async def test_add_user_reports_every_problem_at_once(accounts: AccountService) -> None:
    with pytest.raises(ValidationError) as caught:
        await accounts.add_user(
            username="X", name="", roles=["boss"], home_node="zhen-nowhere", password="short"
        )
    problems = caught.value.problems
    assert len(problems) == 5
    assert any("用户名" in p for p in problems)
    assert any("姓名" in p for p in problems)
    assert any("密码至少" in p for p in problems)
    assert any("未知角色" in p for p in problems)
    assert any("zhen-nowhere" in p for p in problems)


@pytest.mark.parametrize(
    ("roles", "home_node", "department", "fragment"),
    [
        (["admin", "catalog_reviewer"], COUNTY_NODE_ID, None, "不能由同一账号兼任"),
        (["admin"], "zhen-shifan", None, "面向全县"),
        (["catalog_reviewer"], "she-dongcun", None, "面向全县"),
        (["department"], COUNTY_NODE_ID, None, "须选择所属部门"),
        (["supervisor"], COUNTY_NODE_ID, "公安局", "只有部门审查"),
    ],
)
async def test_forbidden_role_combinations_are_refused(
    accounts: AccountService,
    roles: list[str],
    home_node: str,
    department: str | None,
    fragment: str,
) -> None:
    with pytest.raises(ValidationError) as caught:
        await accounts.add_user(
            username="lisi",
            name="李四",
            roles=roles,
            home_node=home_node,
            department=department,
            password=PASSWORD,
        )
    assert any(fragment in p for p in caught.value.problems), caught.value.problems
    assert await accounts.user("lisi") is None


async def test_duplicate_username_is_a_conflict(accounts: AccountService) -> None:
    with pytest.raises(ConflictError) as caught:
        await accounts.add_user(
            username=" ZhangSan ", name="另一个张三", roles=["clerk"], password=PASSWORD
        )
    assert caught.value.code == "username_taken"
    assert [u.username for u in await accounts.users()] == ["zhangsan"]


async def test_department_account_keeps_its_department(accounts: AccountService) -> None:
    user = await accounts.add_user(
        username="dept-zrzy",
        name="王五",
        roles=["部门审查"],
        department="  示范县自然资源局 ",
        password=PASSWORD,
    )
    assert user.roles == {CountyRole.DEPARTMENT}
    assert user.department == "示范县自然资源局"
    assert (await accounts.user("dept-zrzy")) == user


async def test_department_must_be_one_of_the_catalog_s(engine: Engine, clock: Clock) -> None:  # type: ignore[type-arg]
    # A review names its department by the catalog's code; an account naming anything else
    # could never give an opinion, so it is refused when the account is made.
    catalog = {"zrzy": "示范县自然资源局", "nync": "示范县农业农村局"}
    service = AccountService(PiccoloAccountStore(), lambda: TREE, clock, lambda: catalog)
    with pytest.raises(ValidationError) as caught:
        await service.add_user(
            username="dept-x",
            name="王五",
            roles=["department"],
            department="示范县自然资源局",
            password=PASSWORD,
        )
    assert any(
        "不在现行事项目录中" in p and "示范县自然资源局（zrzy）" in p for p in caught.value.problems
    )
    user = await service.add_user(
        username="dept-x", name="王五", roles=["department"], department="zrzy", password=PASSWORD
    )
    assert user.department == "zrzy" and service.departments() == catalog


async def test_change_roles_and_scope(accounts: AccountService) -> None:
    changed = await accounts.change_user(
        "zhangsan", roles=["supervisor"], home_node="zhen-shifan", department=None
    )
    assert changed.roles == {CountyRole.SUPERVISOR}
    assert changed.visible == frozenset({"zhen-shifan", "she-dongcun"})
    with pytest.raises(ValidationError):
        await accounts.change_user(
            "zhangsan", roles=["admin"], home_node="zhen-shifan", department=None
        )
    with pytest.raises(NotFoundError):
        await accounts.change_user("nobody", roles=["clerk"], home_node="county", department=None)


# Log-in, lock-out and sessions


async def test_login_succeeds_and_failures_look_alike(accounts: AccountService) -> None:
    user = await accounts.authenticate("  ZhangSan ", PASSWORD)
    assert user.username == "zhangsan" and user.roles == {CountyRole.CLERK}
    for name, password in (("zhangsan", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationError) as caught:
            await accounts.authenticate(name, password)
        assert caught.value.code == "login_failed"
        assert caught.value.message == LOGIN_FAILED_MESSAGE


async def test_five_failures_lock_the_name_for_fifteen_minutes(
    accounts: AccountService, clock: Clock
) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            await accounts.authenticate("zhangsan", "wrong-password")
        clock.now += timedelta(seconds=30)
    with pytest.raises(LoginLockedError) as locked:
        await accounts.authenticate("zhangsan", PASSWORD)
    assert locked.value.minutes == 13  # first failure at 0:00, now 2:30, lock until 15:00
    assert "系统管理员" in locked.value.message
    clock.now = FIXED_NOW + timedelta(minutes=15, seconds=1)
    assert (await accounts.authenticate("zhangsan", PASSWORD)).username == "zhangsan"
    # A success forgets the failures: four more do not lock.
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            await accounts.authenticate("zhangsan", "wrong-password")
    assert (await accounts.authenticate("zhangsan", PASSWORD)).username == "zhangsan"


async def test_disabled_account_cannot_log_in_and_loses_its_sessions(
    accounts: AccountService,
) -> None:
    session = await accounts.start_session(await accounts.authenticate("zhangsan", PASSWORD))
    assert await accounts.user_for_session(session.token) is not None
    await accounts.set_active("zhangsan", False)
    assert await accounts.user_for_session(session.token) is None
    with pytest.raises(AuthenticationError):
        await accounts.authenticate("zhangsan", PASSWORD)
    await accounts.set_active("zhangsan", True)
    assert (await accounts.authenticate("zhangsan", PASSWORD)).active


async def test_admin_cannot_disable_themself(accounts: AccountService) -> None:
    admin = await accounts.add_user(
        username="admin", name="管理员", roles=["admin"], password=PASSWORD
    )
    with pytest.raises(InvalidError) as caught:
        await accounts.set_active("admin", False, by=admin)
    assert caught.value.code == "cannot_disable_self"


async def test_sessions_expire_after_eight_idle_hours(
    accounts: AccountService, clock: Clock
) -> None:
    session = await accounts.start_session(await accounts.authenticate("zhangsan", PASSWORD))
    assert session.expires_at == FIXED_NOW + timedelta(hours=8)
    clock.now += timedelta(hours=7)
    assert await accounts.user_for_session(session.token) is not None  # pushes expiry out
    clock.now += timedelta(hours=7, minutes=59)
    assert await accounts.user_for_session(session.token) is not None
    clock.now += timedelta(hours=8)
    assert await accounts.user_for_session(session.token) is None
    assert await CountySession.count().run() == 0
    assert await accounts.user_for_session("") is None
    assert await accounts.user_for_session("x" * 500) is None


async def test_new_password_ends_sessions(accounts: AccountService) -> None:
    first = await accounts.start_session(await accounts.authenticate("zhangsan", PASSWORD))
    second = await accounts.start_session(await accounts.authenticate("zhangsan", PASSWORD))
    assert await accounts.set_password("zhangsan", "另一个足够长的密码") == 2
    assert await accounts.user_for_session(first.token) is None
    assert await accounts.user_for_session(second.token) is None
    with pytest.raises(AuthenticationError):
        await accounts.authenticate("zhangsan", PASSWORD)
    assert (await accounts.authenticate("zhangsan", "另一个足够长的密码")).active
    with pytest.raises(InvalidError):
        await accounts.set_password("zhangsan", "short")
    with pytest.raises(NotFoundError):
        await accounts.set_password("nobody", "long-enough-1")


async def test_no_password_or_token_in_clear_in_database_or_logs(
    accounts: AccountService, caplog: pytest.LogCaptureFixture
) -> None:
    # Our own loggers at every level; database drivers log bound values at DEBUG themselves.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="central")
    typed_into_username = "my-secret-passphrase"
    with pytest.raises(AuthenticationError):
        await accounts.authenticate(typed_into_username, PASSWORD)
    session = await accounts.start_session(await accounts.authenticate("zhangsan", PASSWORD))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, typed_into_username, session.token):
        assert secret not in logged
    stored: list[dict[str, Any]] = [
        *await CountyAccount.select().run(),
        *await CountySession.select().run(),
    ]
    dump = repr(stored)
    assert PASSWORD not in dump and session.token not in dump
    assert "$scrypt$ln=14,r=8,p=1$" in dump


# What an account sees


def test_subtrees_follow_the_registry() -> None:
    assert subtree_of(COUNTY_NODE_ID, TREE) is None
    assert subtree_of("zhen-shifan", TREE) == frozenset({"zhen-shifan", "she-dongcun"})
    assert subtree_of("she-beicun", TREE) == frozenset({"she-beicun"})


async def test_township_supervisor_sees_only_its_township(accounts: AccountService) -> None:
    township = await accounts.add_user(
        username="shifan-jiancha",
        name="示范镇监察",
        roles=["supervisor"],
        home_node="zhen-shifan",
        password=PASSWORD,
    )
    county = await accounts.add_user(
        username="supervisor", name="县监察", roles=["supervisor"], password=PASSWORD
    )
    assert visible_nodes(township) == frozenset({"zhen-shifan", "she-dongcun"})
    assert visible_nodes(county) is None
    ensure_node_visible(township, "she-dongcun")
    ensure_node_visible(county, "she-beicun")
    with pytest.raises(PermissionDeniedError) as caught:
        ensure_node_visible(township, "zhen-beishan")
    assert caught.value.code == "outside_subtree"
    ensure_case_visible(township, "c1", ["she-beicun", "she-dongcun"])
    with pytest.raises(PermissionDeniedError):
        ensure_case_visible(township, "c2", ["she-beicun", None, COUNTY_NODE_ID])
    session = await accounts.start_session(township)
    loaded = await accounts.user_for_session(session.token)
    assert loaded is not None and loaded.visible == frozenset({"zhen-shifan", "she-dongcun"})


async def test_a_new_release_changes_the_subtree(engine: Engine, clock: Clock) -> None:  # type: ignore[type-arg]
    registry = TREE
    service = AccountService(PiccoloAccountStore(), lambda: registry, clock)
    user = await service.add_user(
        username="jiancha",
        name="监察",
        roles=["supervisor"],
        home_node="zhen-shifan",
        password=PASSWORD,
    )
    session = await service.start_session(user)
    newcomer = NodeRecord(
        node_id="she-xincun",
        name="新村",
        tier=Tier.COMMUNITY,
        parent="zhen-shifan",
        short_code="XCS",
    )
    registry = Registry(nodes=(*TREE.nodes, newcomer))
    loaded = await service.user_for_session(session.token)
    assert loaded is not None and "she-xincun" in (loaded.visible or set())


async def _case(
    engine: Engine,  # type: ignore[type-arg]
    case_id: str,
    origin: str,
    handling: str,
    parties: tuple[str, ...] = (),
) -> None:
    await engine.run_querystring(
        Sql(
            "INSERT INTO case_row (case_id, origin_node, handling_node, status, due_provisional,"
            " paused, finished, flags, events_count, last_hlc_wall, last_hlc_counter, state_json)"
            " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            [case_id, origin, handling, "accepted", False, False, False, "[]", 1, 0, 0, b"{}"],
        )
    )
    for node in (origin, *parties):
        await engine.run_querystring(
            Sql("INSERT INTO case_party (case_id, node) VALUES ({}, {})", [case_id, node])
        )


async def _visible_cases(engine: Engine, visible: frozenset[str] | None) -> list[str]:  # type: ignore[type-arg]
    where = case_filter(visible)
    rows = await engine.run_querystring(
        Sql(
            f"SELECT case_id FROM case_row WHERE {where.sql} ORDER BY case_id",
            where.params,
        )
    )
    return [row["case_id"] for row in rows]


async def test_case_filter_limits_set_based_queries_to_the_subtree(engine: Engine) -> None:  # type: ignore[type-arg]
    await _case(engine, "a-shifan", "zhen-shifan", "zhen-shifan")
    await _case(engine, "b-dongcun", "she-dongcun", "she-dongcun")
    await _case(engine, "c-beishan", "zhen-beishan", "zhen-beishan")
    await _case(engine, "d-beicun-to-county", "she-beicun", COUNTY_NODE_ID)
    # Received in Dongcun, decided at the county: Shifan's supervisor still follows it.
    await _case(engine, "e-dongcun-to-county", "she-dongcun", COUNTY_NODE_ID)
    # Received at the county, a Shifan department gave an opinion: a party inside the subtree.
    await _case(engine, "f-county-party", COUNTY_NODE_ID, COUNTY_NODE_ID, ("zhen-shifan",))
    shifan = subtree_of("zhen-shifan", TREE)
    beishan = subtree_of("zhen-beishan", TREE)
    assert await _visible_cases(engine, shifan) == [
        "a-shifan",
        "b-dongcun",
        "e-dongcun-to-county",
        "f-county-party",
    ]
    assert await _visible_cases(engine, beishan) == ["c-beishan", "d-beicun-to-county"]
    assert len(await _visible_cases(engine, None)) == 6
    assert await _visible_cases(engine, frozenset()) == []


async def test_node_filter_on_a_node_column(engine: Engine) -> None:  # type: ignore[type-arg]
    await _case(engine, "a", "zhen-shifan", "zhen-shifan")
    await _case(engine, "b", "she-beicun", "she-beicun")
    where = node_filter(subtree_of("zhen-beishan", TREE), "handling_node")
    rows = await engine.run_querystring(
        Sql(f"SELECT case_id FROM case_row WHERE {where.sql}", where.params)
    )
    assert [row["case_id"] for row in rows] == ["b"]
    assert node_filter(None, "handling_node").sql == "1 = 1"


def test_web_secret_is_a_0600_file_kept_across_starts(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "web.secret"
    first = ensure_web_secret(path)
    assert len(first) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_web_secret(path) == first


# Command line


def test_cli_add_user_and_list(
    tmp_path: Path,
    central_database_url: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "central"
    if central_database_url:
        monkeypatch.setenv("CENTRAL_DATABASE_URL", central_database_url)
    settings = CentralSettings.from_env(data_dir=data)
    assert settings.database_url == central_database_url
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        main(
            [
                *("central", "add-user", "dept-nync", "--data", str(data)),
                *("--name", "农业农村局审查员", "--roles", "department"),
                *("--department", "示范县农业农村局", "--password-stdin"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "已创建县中心账号 dept-nync" in out and "部门审查" in out and "全县" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["central", "add-user", "x1", "--data", str(data), "--name", "甲",
                 "--roles", "clerk", "--password-stdin"]) == 1  # fmt: skip
    assert "密码至少" in capsys.readouterr().err
    assert main(["central", "add-user", "x2", "--data", str(data), "--name", "乙",
                 "--roles", "boss"]) == 1  # fmt: skip
    assert "未知角色" in capsys.readouterr().err
    assert main(["central", "users", "--data", str(data)]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("dept-nync\t农业农村局审查员 [示范县农业农村局]\t部门审查\tcounty")
    assert PASSWORD not in listed


async def test_users_are_listed_with_their_state(accounts: AccountService) -> None:
    await accounts.add_user(username="admin", name="管理员", roles=["admin"], password=PASSWORD)
    await accounts.set_active("zhangsan", False)
    listed: list[CountyUser] = await accounts.users()
    assert [(u.username, u.active) for u in listed] == [("admin", True), ("zhangsan", False)]

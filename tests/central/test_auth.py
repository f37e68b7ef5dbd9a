"""County log-in, guards, CSRF, desk and account administration over HTTP (both backends)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from central.app import create_app
from central.commands import opened
from central.db.account_store import PiccoloAccountStore
from central.services.accounts import AccountService
from central.settings import CentralSettings
from shared.catalog import decode_catalog
from shared.credentials import hash_password
from shared.delegation import Tier
from shared.registry import NodeRecord
from tests.conftest import FIXED_NOW

PASSWORD = "tongban-test-2026"

# username, roles, home node, department
USERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("admin", "admin", "county", None),
    ("catalog", "catalog_reviewer", "county", None),
    ("supervisor", "supervisor", "county", None),
    ("shifan-jiancha", "supervisor", "zhen-shifan", None),
    ("clerk", "clerk", "county", None),
    ("reviewer", "reviewer", "county", None),
    ("approver", "approver", "county", None),
    ("dept-zrzy", "department", "county", "示范县自然资源局"),
)
ROLE_OF = {username: roles for username, roles, _, _ in USERS}

Client = TestClient[Any]


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(tmp_path: Path, central_database_url: str | None) -> CentralSettings:
    return CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)


@pytest.fixture(autouse=True)
def one_hash_per_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash each test password once per run: eight scrypt runs per test add up on two cores."""
    monkeypatch.setattr("central.services.accounts.hash_password", _cached_hash)


@functools.cache
def _cached_hash(password: str) -> str:
    return hash_password(password)


@pytest.fixture
def county(settings: CentralSettings, demo_catalog_bytes: bytes, clock: Clock) -> None:
    """Two townships with a community each, published, and one account per role."""

    async def build() -> None:
        async with opened(settings) as county:
            for node_id, tier, parent, code in (
                ("zhen-shifan", Tier.TOWNSHIP, "county", "SFZ"),
                ("she-dongcun", Tier.COMMUNITY, "zhen-shifan", "DCS"),
                ("zhen-beishan", Tier.TOWNSHIP, "county", "BSZ"),
                ("she-beicun", Tier.COMMUNITY, "zhen-beishan", "BCS"),
            ):
                record = NodeRecord(
                    node_id=node_id, name=node_id, tier=tier, parent=parent, short_code=code
                )
                await county.registry.issue_token(record, by="test", hours=1)
            await county.releases.publish(by="test", catalog=decode_catalog(demo_catalog_bytes))
            accounts = AccountService(PiccoloAccountStore(), county.releases.registry_now, clock)
            for username, roles, home, department in USERS:
                await accounts.add_user(
                    username=username,
                    name=f"{username}姓名",
                    roles=[roles],
                    home_node=home,
                    department=department,
                    password=PASSWORD,
                )

    asyncio.run(build())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(settings: CentralSettings, county: None, clock: Clock) -> Iterator[Client]:
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def csrf(client: Client) -> str:
    if not client.cookies.get("tongban_csrf"):
        client.get("/login")
    token = client.cookies.get("tongban_csrf")
    assert token
    return token


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    client.cookies.clear()
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": "/desk"},
        headers={"x-csrftoken": csrf(client)},
        follow_redirects=False,
    )


def post_form(client: Client, path: str, data: dict[str, Any]) -> Any:
    return client.post(
        path, data=data, headers={"x-csrftoken": csrf(client)}, follow_redirects=False
    )


def send_json(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.request(method, path, json=body, headers={"x-csrftoken": csrf(client)})


# Log-in and sessions


def test_anonymous_pages_redirect_to_login_and_apis_answer_401(client: Client) -> None:
    for path in ("/desk", "/admin/accounts", "/admin/accounts/admin"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=%2F")
    for path in ("/api/v1/me", "/api/v1/accounts", "/api/v1/accounts/admin"):
        api = client.get(path)
        assert api.status_code == 401
        assert api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["code"] == "login_required"
    # The public guide stays public.
    assert client.get("/").status_code == 200


def test_login_opens_a_session_and_logout_closes_it(client: Client) -> None:
    form = client.get("/login")
    assert "县中心账号" in form.text
    assert re.search(r'name="_csrf_token" value="[^"]+"', form.text)
    response = login(client, "admin")
    assert response.status_code == 303 and response.headers["location"] == "/desk"
    cookie = response.headers["set-cookie"]
    assert "tongban_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = client.get("/api/v1/me").json()
    assert me["username"] == "admin" and me["role_labels"] == ["系统管理员"]
    assert me["visible_nodes"] is None
    token = client.cookies.get("tongban_session")
    out = post_form(client, "/logout", {})
    assert out.status_code == 303 and out.headers["location"] == "/login?logged_out=1"
    client.cookies.set("tongban_session", token or "")
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_keeps_the_username_and_five_failures_lock(client: Client) -> None:
    wrong = login(client, "clerk", "not-the-password")
    assert wrong.status_code == 401
    assert "用户名或密码不正确" in wrong.text and 'value="clerk"' in wrong.text
    assert "not-the-password" not in wrong.text
    for _ in range(4):
        login(client, "clerk", "not-the-password")
    locked = login(client, "clerk")
    assert locked.status_code == 429
    assert "已暂时锁定" in locked.text and "系统管理员" in locked.text


def test_session_ends_after_eight_idle_hours(client: Client, clock: Clock) -> None:
    login(client, "supervisor")
    clock.now += timedelta(hours=7, minutes=59)
    assert client.get("/api/v1/me").status_code == 200
    clock.now += timedelta(hours=8, minutes=1)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused_in_chinese(client: Client) -> None:
    client.get("/login")
    refused = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD},
        headers={"accept": "text/html"},
    )
    assert refused.status_code == 403
    assert "表单校验未通过" in refused.text
    login(client, "admin")
    api = client.post(
        "/api/v1/accounts",
        json={"username": "x9", "name": "甲", "roles": ["clerk"], "password": PASSWORD},
    )
    assert api.status_code == 403 and api.json()["code"] == "csrf_failed"
    assert client.get("/api/v1/accounts/x9").status_code == 404


def test_node_endpoints_need_no_csrf_token(client: Client) -> None:
    response = client.post("/api/v1/enroll", json={"token": "bogus", "public_key": "x"})
    assert response.status_code != 403
    assert response.json()["code"] != "csrf_failed"


# Roles


@pytest.mark.parametrize("username", [u for u, *_ in USERS])
def test_only_admins_may_administer_accounts(client: Client, username: str) -> None:
    login(client, username)
    api = client.get("/api/v1/accounts")
    page = client.get("/admin/accounts", headers={"accept": "text/html"})
    if username == "admin":
        assert api.status_code == 200 and page.status_code == 200
        assert {a["username"] for a in api.json()["accounts"]} == set(ROLE_OF)
        assert "password" not in api.text and "scrypt" not in api.text
    else:
        assert api.status_code == 403
        assert api.json()["code"] == "role_required"
        assert "需要：系统管理员" in api.json()["detail"]
        assert page.status_code == 403 and "需要：系统管理员" in page.text
        created = send_json(
            client,
            "POST",
            "/api/v1/accounts",
            {"username": "sneaky", "name": "甲", "roles": ["admin"], "password": PASSWORD},
        )
        assert created.status_code == 403


@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("admin", ["/admin/accounts", "/admin/catalog"], ["/api/v1/supervision/cases"]),
        ("catalog", ["/admin/catalog"], ["/admin/accounts", "/api/v1/supervision/cases"]),
        ("supervisor", ["/api/v1/supervision/cases"], ["/admin/accounts", "/admin/catalog"]),
        ("clerk", ["/"], ["/admin/accounts", "/admin/catalog", "/api/v1/supervision/cases"]),
        ("dept-zrzy", ["/"], ["/admin/accounts", "/admin/catalog"]),
    ],
)
def test_desk_lists_what_the_roles_can_open(
    client: Client, username: str, shown: list[str], hidden: list[str]
) -> None:
    login(client, username)
    desk = client.get("/desk")
    assert desk.status_code == 200
    assert f"{username}姓名" in desk.text
    for href in shown:
        assert f'data-link="{href}"' in desk.text
    for href in hidden:
        assert f'data-link="{href}"' not in desk.text


def test_department_account_shows_its_department(client: Client) -> None:
    login(client, "dept-zrzy")
    me = client.get("/api/v1/me").json()
    assert me["roles"] == ["department"] and me["department"] == "示范县自然资源局"
    assert "示范县自然资源局" in client.get("/desk").text


def test_township_supervisor_sees_only_its_subtree(client: Client) -> None:
    login(client, "shifan-jiancha")
    me = client.get("/api/v1/me").json()
    assert me["visible_nodes"] == ["she-dongcun", "zhen-shifan"]
    assert "zhen-beishan" not in me["visible_nodes"]
    assert "本节点及其下级服务点（2）" in client.get("/desk").text
    login(client, "supervisor")
    assert client.get("/api/v1/me").json()["visible_nodes"] is None


# Account administration


def test_admin_api_creates_changes_disables_and_resets(client: Client) -> None:
    login(client, "admin")
    body = {
        "username": "beishan-jiancha",
        "name": "北山镇监察",
        "roles": ["supervisor"],
        "home_node": "zhen-beishan",
        "password": PASSWORD,
    }
    created = send_json(client, "POST", "/api/v1/accounts", body)
    assert created.status_code == 201
    assert created.json()["home_node"] == "zhen-beishan"
    again = send_json(client, "POST", "/api/v1/accounts", body)
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    bad = send_json(
        client,
        "POST",
        "/api/v1/accounts",
        {**body, "username": "Q", "roles": ["admin", "catalog_reviewer"], "password": "x"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert len(bad.json()["problems"]) >= 3
    changed = send_json(
        client,
        "PATCH",
        "/api/v1/accounts/beishan-jiancha",
        {"roles": ["supervisor", "clerk"], "home_node": "zhen-beishan"},
    )
    assert changed.status_code == 200 and changed.json()["roles"] == ["supervisor", "clerk"]
    missing = send_json(client, "PATCH", "/api/v1/accounts/nobody", {"roles": ["clerk"]})
    assert missing.status_code == 404

    # The account logs in; disabling it ends that session at once.
    login(client, "beishan-jiancha")
    assert client.get("/api/v1/me").json()["visible_nodes"] == ["she-beicun", "zhen-beishan"]
    other_session = client.cookies.get("tongban_session")
    login(client, "admin")
    disabled = send_json(client, "POST", "/api/v1/accounts/beishan-jiancha/disable")
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    own = send_json(client, "POST", "/api/v1/accounts/admin/disable")
    assert own.status_code == 400 and own.json()["code"] == "cannot_disable_self"
    admin_session = client.cookies.get("tongban_session")
    client.cookies.set("tongban_session", other_session or "")
    assert client.get("/api/v1/me").status_code == 401
    assert login(client, "beishan-jiancha").status_code == 401
    client.cookies.set("tongban_session", admin_session or "")
    assert send_json(client, "POST", "/api/v1/accounts/beishan-jiancha/enable").json()["active"]
    reset = send_json(
        client, "POST", "/api/v1/accounts/beishan-jiancha/password", {"password": "新的密码-足够长"}
    )
    assert reset.status_code == 200
    short = send_json(
        client, "POST", "/api/v1/accounts/beishan-jiancha/password", {"password": "短"}
    )
    assert short.status_code == 400 and short.json()["code"] == "password_too_short"
    assert login(client, "beishan-jiancha", "新的密码-足够长").status_code == 303


def test_admin_pages_keep_input_on_error_and_refuse_duplicates(client: Client) -> None:
    login(client, "admin")
    form = {
        "username": "wangwu",
        "name": "王五",
        "roles": ["department"],
        "home_node": "county",
        "department": "",
        "password": PASSWORD,
    }
    refused = post_form(client, "/admin/accounts", form)
    assert refused.status_code == 422
    assert "部门审查角色须选择所属部门" in refused.text
    assert 'value="wangwu"' in refused.text and 'value="王五"' in refused.text
    assert re.search(r'value="department"\s+checked', refused.text)
    assert PASSWORD not in refused.text
    form["department"] = "示范县农业农村局"  # a name, not the catalog's department code
    named = post_form(client, "/admin/accounts", form)
    assert named.status_code == 422 and "示范县农业农村局（nync）" in named.text
    form["department"] = "nync"
    created = post_form(client, "/admin/accounts", form)
    assert created.status_code == 303
    assert created.headers["location"] == "/admin/accounts?created=wangwu"
    twice = post_form(client, "/admin/accounts", form)
    assert twice.status_code == 409 and "已存在" in twice.text
    listed = client.get("/api/v1/accounts").json()["accounts"]
    assert [a["username"] for a in listed].count("wangwu") == 1
    page = client.get("/admin/accounts?created=wangwu")
    assert "已创建账号：wangwu" in page.text and "示范县农业农村局" in page.text

    edit = client.get("/admin/accounts/wangwu")
    assert edit.status_code == 200 and "重设密码" in edit.text
    saved = post_form(
        client,
        "/admin/accounts/wangwu",
        {"name": "王五", "roles": ["supervisor"], "home_node": "zhen-shifan", "department": ""},
    )
    assert saved.status_code == 303
    assert client.get("/api/v1/accounts/wangwu").json()["home_node"] == "zhen-shifan"
    wrong = post_form(
        client,
        "/admin/accounts/wangwu",
        {"name": "王五", "roles": ["admin"], "home_node": "zhen-shifan", "department": ""},
    )
    assert wrong.status_code == 422 and "面向全县" in wrong.text
    off = post_form(client, "/admin/accounts/wangwu/active", {"active": "0"})
    assert off.status_code == 303
    assert client.get("/api/v1/accounts/wangwu").json()["active"] is False
    short = post_form(client, "/admin/accounts/wangwu/password", {"password": "短"})
    assert short.status_code == 422 and "密码至少需要 8 个字符" in short.text
    assert post_form(client, "/admin/accounts/wangwu/password", {"password": "x" * 9}).status_code
    assert client.get("/admin/accounts/nobody", headers={"accept": "text/html"}).status_code == 404


def test_openapi_lists_the_account_api_but_not_the_pages(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path in ("/api/v1/me", "/api/v1/accounts", "/api/v1/accounts/{username}"):
        assert path in paths
    for path in ("/login", "/logout", "/desk", "/admin/accounts"):
        assert path not in paths

"""Staff log-in through the node app: CSRF, sessions, role guards, lock-out and the desk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.di import Provide
from litestar.testing import TestClient

from node.api.auth import CSRF_COOKIE, SESSION_COOKIE, current_user, requires_role, safe_next
from node.app import create_app
from node.services.accounts import AccountService, Role
from node.services.replication import NodeReplication
from node.settings import NodeSettings
from node.storage.accounts import AccountStore
from node.storage.database import NodeDatabase
from sync.parent import ParentProbe
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down

PASSWORD = "窗口-2026-春"
Client = TestClient[Litestar]


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


def add_staff(settings: NodeSettings, username: str, *roles: str) -> None:
    database = NodeDatabase(settings.database_path)
    try:
        AccountService(AccountStore(database), Clock()).add_user(
            username=username, name=f"{username}姓名", roles=roles, password=PASSWORD
        )
    finally:
        database.close()


@get("/admin-only", include_in_schema=False, guards=[requires_role(Role.ADMIN)])
async def admin_page(request: Request[Any, Any, Any]) -> str:
    user = current_user(request)
    assert user is not None
    return f"hello {user.username}"


@get("/api/v1/admin-only", guards=[requires_role(Role.ADMIN)])
async def admin_api() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(township: NodeSettings, clock: Clock) -> Litestar:
    add_staff(township, "zhangsan", "clerk", "reviewer")
    add_staff(township, "admin", "admin")
    application = create_app(township, clock=clock, prober=parent_down)
    application.register(admin_page)
    application.register(admin_api)
    return application


@pytest.fixture
def client(app: Litestar) -> Iterator[Client]:
    with TestClient(app) as test_client:
        yield test_client


def csrf_token(client: Client, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def log_in(client: Client, username: str, password: str = PASSWORD, next_: str = "") -> Any:
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next_, "_csrf_token": token},
        follow_redirects=False,
    )


def test_login_form_carries_a_csrf_token_matching_its_cookie(client: Client) -> None:
    token = csrf_token(client)
    assert client.cookies.get(CSRF_COOKIE) == token
    page = client.get("/login").text
    assert "工作人员登录" in page and 'name="password"' in page


def test_login_without_csrf_token_is_refused_in_chinese(client: Client) -> None:
    csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "zhangsan", "password": PASSWORD},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "表单校验未通过" in response.text
    assert SESSION_COOKIE not in response.cookies


def test_login_sets_a_session_cookie_and_lands_on_the_desk(client: Client) -> None:
    response = log_in(client, "ZhangSan")
    assert response.status_code == 303
    assert response.headers["location"] == "/desk"
    set_cookie = response.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in set_cookie
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert "secure" not in set_cookie
    desk = client.get("/desk")
    assert desk.status_code == 200
    assert "zhangsan姓名（zhangsan）" in desk.text
    assert "窗口人员" in desk.text and "审核" in desk.text
    assert "示范镇便民服务中心" in desk.text and "乡镇（街道）级" in desk.text


def test_session_cookie_is_secure_over_https(app: Litestar) -> None:
    with TestClient(app, base_url="https://testserver.local") as client:
        response = log_in(client, "zhangsan")
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()


def test_login_goes_back_to_next_but_never_off_site(client: Client) -> None:
    assert log_in(client, "zhangsan", next_="/items/x?q=1").headers["location"] == "/items/x?q=1"
    assert log_in(client, "zhangsan", next_="//evil.example/").headers["location"] == "/desk"
    for target, expected in (
        ("https://evil.example/", "/desk"),
        ("/\\evil.example", "/desk"),
        ("/login", "/desk"),
        ("", "/desk"),
        ("/desk?lang=en", "/desk?lang=en"),
    ):
        assert safe_next(target) == expected


def test_wrong_password_and_unknown_user_get_the_same_message(client: Client) -> None:
    pages = [log_in(client, "zhangsan", "wrong-password"), log_in(client, "nobody")]
    for response in pages:
        assert response.status_code == 401
        assert "用户名或密码不正确。" in response.text
        assert SESSION_COOKIE not in response.cookies
    # The form keeps the name typed and never echoes the password.
    assert 'value="zhangsan"' in pages[0].text
    assert "wrong-password" not in pages[0].text
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_lockout_after_five_failures(client: Client) -> None:
    for _ in range(5):
        assert log_in(client, "zhangsan", "wrong-password").status_code == 401
    locked = log_in(client, "zhangsan")
    assert locked.status_code == 429
    assert "已暂时锁定" in locked.text and "15 分钟后再试" in locked.text
    assert SESSION_COOKIE not in locked.cookies
    # Another user is not affected.
    assert log_in(client, "admin").status_code == 303


def test_anonymous_page_redirects_to_login_with_next(client: Client) -> None:
    response = client.get("/desk?lang=en", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdesk%3Flang%3Den"
    login = client.get(response.headers["location"])
    assert 'name="next" value="/desk?lang=en"' in login.text


def test_anonymous_api_gets_401_problem_details(client: Client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["status"], body["detail"]) == ("login_required", 401, "请先登录。")


def test_api_me_names_the_logged_in_user(client: Client) -> None:
    log_in(client, "zhangsan")
    assert client.get("/api/v1/me").json() == {
        "username": "zhangsan",
        "name": "zhangsan姓名",
        "roles": ["clerk", "reviewer"],
        "role_labels": ["窗口人员", "审核"],
    }


def test_wrong_role_gets_403_page_and_problem(client: Client) -> None:
    log_in(client, "zhangsan")
    page = client.get("/admin-only", headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "没有此操作所需的角色，需要：节点管理员" in page.text
    api = client.get("/api/v1/admin-only")
    assert api.status_code == 403
    assert api.json()["code"] == "role_required"


def test_right_role_passes_the_guard(client: Client) -> None:
    log_in(client, "admin")
    assert client.get("/admin-only").text == "hello admin"
    assert client.get("/api/v1/admin-only").json() == {"ok": True}


def test_logout_deletes_the_session(client: Client) -> None:
    log_in(client, "zhangsan")
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    form_token = csrf_token(client, "/desk")
    response = client.post("/logout", data={"_csrf_token": form_token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?logged_out=1"
    assert client.cookies.get(SESSION_COOKIE) is None
    assert "您已退出登录。" in client.get("/login?logged_out=1").text
    # Replaying the old token finds no session row.
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token(client: Client) -> None:
    log_in(client, "zhangsan")
    response = client.post("/logout", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/desk", follow_redirects=False).status_code == 200


def test_session_ends_after_eight_idle_hours(client: Client, clock: Clock) -> None:
    log_in(client, "zhangsan")
    clock.now += timedelta(hours=7, minutes=59)
    assert client.get("/desk", follow_redirects=False).status_code == 200
    clock.now += timedelta(hours=8, minutes=1)
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_header_links_to_the_desk_only_when_logged_in(client: Client) -> None:
    assert 'href="/desk"' not in client.get("/").text
    log_in(client, "zhangsan")
    home = client.get("/").text
    assert 'href="/desk"' in home and "zhangsan姓名" in home
    assert 'action="/logout"' in home


def test_desk_shows_parent_and_sync_status(app: Litestar, client: Client) -> None:
    log_in(client, "zhangsan")
    page = client.get("/desk").text
    assert 'data-parent="unreachable"' in page and "无法连接" in page
    assert "http://parent.invalid:8700" in page
    assert re.search(r'data-field="last-success">\s*尚无', page)
    assert re.search(r'data-field="waiting"><strong>0</strong> 条', page)

    provider = app.dependencies["node_replication"]
    assert isinstance(provider, Provide)
    replication = provider.dependency()
    assert isinstance(replication, NodeReplication)
    replication.status.last_attempt = FIXED_NOW + timedelta(minutes=5)
    replication.status.last_success = FIXED_NOW
    replication.status.last_error = "无法连接上级：连接被拒绝"
    replication.status.waiting = 37
    page = client.get("/desk").text
    assert re.search(r'data-field="last-success">\s*2026-03-02 10:00:00', page)
    assert re.search(r'data-field="last-attempt">\s*2026-03-02 10:05:00', page)
    assert "无法连接上级：连接被拒绝" in page
    assert re.search(r'data-field="waiting"><strong>37</strong> 条', page)


def test_desk_shows_a_reachable_parent(township: NodeSettings) -> None:
    add_staff(township, "zhangsan", "approver")

    async def parent_up(url: str, now: datetime) -> ParentProbe:
        return ParentProbe(url=url, reachable=True, checked_at=now, version="0.3.0")

    with TestClient(create_app(township, clock=lambda: FIXED_NOW, prober=parent_up)) as client:
        log_in(client, "zhangsan")
        page = client.get("/desk").text
        assert 'data-parent="reachable"' in page and "可以连接" in page


def test_login_and_desk_in_english(client: Client) -> None:
    assert "Staff sign-in" in client.get("/login?lang=en").text
    assert "Wrong username or password." in log_in(client, "zhangsan", "wrong-password").text
    log_in(client, "zhangsan")
    page = client.get("/desk").text
    assert "Records waiting" in page and "Window clerk" in page
    # Logged in, the log-in page sends the user on.
    assert client.get("/login", follow_redirects=False).headers["location"] == "/desk"


def test_sync_endpoint_needs_no_csrf_token(client: Client) -> None:
    # Enrollment is relayed to the parent; tests/integration/test_enrollment.py covers it.
    response = client.post("/api/v1/sync", content=b"not a valid body")
    assert response.status_code not in {403, 500}
    assert response.json()["code"] != "csrf_failed"
    refused = client.post("/logout", headers={"accept": "application/json"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"

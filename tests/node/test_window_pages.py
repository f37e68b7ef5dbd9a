"""The clerk's window pages: intake form, queue, case page, roles and double submits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from casework.intake_form import resident_id_problem, uscc_problem
from node.api.auth import CSRF_COOKIE
from node.app import create_app
from node.settings import NodeSettings
from node.storage.case_queue import CaseQueueStore, QueueQuery
from node.storage.database import NodeDatabase
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, log_in

Client = TestClient[Litestar]
ID_NUMBER = "11010519491231002X"


@pytest.fixture
def client(township: NodeSettings) -> Iterator[Client]:
    add_staff(township, "clerk1", "clerk")
    add_staff(township, "rev1", "reviewer")
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def clerk(client: Client) -> Client:
    assert log_in(client, "clerk1").status_code == 303
    return client


def form_for(client: Client, item: str, **fields: Any) -> dict[str, Any]:
    page = client.get(f"/window/new?item={item}")
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id is not None
    data: dict[str, Any] = {
        "_csrf_token": client.cookies.get(CSRF_COOKIE),
        "request_id": request_id.group(1),
        "item_code": item,
        "kind": "person",
        "name": "王秀英",
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "phone": "13800000000",
        "materials": ["M01"],
        "decision": "accept",
    }
    data.update(fields)
    return data


def submit(client: Client, data: dict[str, Any]) -> Any:
    return client.post("/window/new", data=data, follow_redirects=False)


def case_id_of(response: Any) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/window/done/")
    return str(location.rsplit("/", 1)[1])


def test_choose_page_offers_only_items_of_this_node(clerk: Client) -> None:
    page = clerk.get("/window/new")
    assert page.status_code == 200
    assert "林木采伐许可证核发" in page.text  # X05, entrusted to townships
    assert "收件后转上级办理" in page.text  # X02, window_forward
    assert "内地居民结婚登记" not in page.text  # X07, county only


def test_form_lists_materials_by_kind(clerk: Client) -> None:
    page = clerk.get("/window/new?item=X17")
    assert "数据共享免提交" in page.text and "可容缺" in page.text
    assert 'name="deferred" value="M02"' in page.text
    assert "即办" in page.text  # X17 is immediate and decided here


def test_accept_shows_receipt_query_code_and_print_links(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    result = clerk.get(f"/window/done/{case_id}")
    assert result.status_code == 200
    assert re.search(r"SFZ-20260302-0001-[0-9A-Z]", result.text)
    assert re.search(r'class="code">\d{6}<', result.text)
    assert f"/cases/{case_id}/documents/acceptance" in result.text
    assert f"/cases/{case_id}/documents/receipt_voucher" in result.text
    assert ID_NUMBER not in result.text


def test_double_submit_makes_one_case(clerk: Client, township: NodeSettings) -> None:
    data = form_for(clerk, "X05")
    first = case_id_of(submit(clerk, data))
    second = case_id_of(submit(clerk, data))
    assert first == second
    database = NodeDatabase(township.database_path)
    try:
        page = CaseQueueStore(database).page(QueueQuery(handling_node=None))
    finally:
        database.close()
    assert page.total == 1


def test_problems_are_chinese_and_keep_what_was_typed(clerk: Client) -> None:
    data = form_for(clerk, "X05", materials=[], name="", phone="138abc", referral="某局")
    response = submit(clerk, data)
    assert response.status_code == 422
    assert "联系电话只能包含数字和连字符" in response.text
    assert 'value="138abc"' in response.text
    assert f'value="{ID_NUMBER}"' in response.text
    assert 'value="某局"' in response.text
    assert data["request_id"] in response.text  # the same request id: a fixed resubmit is one case
    fixed = {**data, "phone": "13800000000"}
    again = submit(clerk, fixed)
    assert again.status_code == 422
    assert "申请人姓名（名称）不能为空" in again.text
    assert "缺少材料 M01" in again.text


def test_bad_id_numbers_are_caught_at_the_form(clerk: Client) -> None:
    wrong = submit(clerk, form_for(clerk, "X05", id_number="110105194912310021"))
    assert wrong.status_code == 422
    assert "居民身份证号码校验位不符" in wrong.text
    org = submit(clerk, form_for(clerk, "X05", kind="organisation", uscc=""))
    assert "法人或其他组织必须填写统一社会信用代码" in org.text


def test_id_check_characters() -> None:
    assert resident_id_problem(ID_NUMBER) is None
    assert resident_id_problem("11010519491231002") is not None
    assert uscc_problem("91350100M000100Y43") is None
    assert uscc_problem("91350100M000100Y44") is not None


def test_correction_and_refusal_from_the_form(clerk: Client) -> None:
    corrected = case_id_of(
        submit(clerk, form_for(clerk, "X05", materials=[], decision="correction"))
    )
    page = clerk.get(f"/window/done/{corrected}")
    assert "待补正" in page.text and "documents/correction" in page.text
    refused = case_id_of(
        submit(
            clerk,
            form_for(
                clerk, "X05", decision="refuse", reason="不属于本机关职权", referral="示范县林业局"
            ),
        )
    )
    assert "documents/refusal" in clerk.get(f"/window/done/{refused}").text


def test_deferred_acceptance_from_the_form(clerk: Client) -> None:
    data = form_for(
        clerk, "X17", deferred="M02", due_M02="2026-03-10", commitment="本人承诺按期补交"
    )
    case_id = case_id_of(submit(clerk, data))
    case = clerk.get(f"/cases/{case_id}")
    assert "待补齐的容缺材料" in case.text and "2026-03-10" in case.text
    assert "documents/deferred_acceptance" in case.text


def test_queue_lists_searches_and_pages(clerk: Client) -> None:
    for name in ("王秀英", "李建国", "王小明"):
        case_id_of(submit(clerk, form_for(clerk, "X05", name=name)))
    queue = clerk.get("/window")
    assert queue.status_code == 200
    assert "王*英" in queue.text and "李*国" in queue.text
    assert "王秀英" not in queue.text and ID_NUMBER not in queue.text
    assert 'data-light="green"' in queue.text and "绿灯" in queue.text
    found = clerk.get("/window", params={"q": "王"})
    assert "王*英" in found.text and "王*明" in found.text and "李*国" not in found.text
    by_receipt = clerk.get("/window", params={"q": "sfz-20260302-0002"})
    assert "共 1 件" in by_receipt.text
    by_item = clerk.get("/window", params={"q": "林木采伐"})
    assert "共 3 件" in by_item.text
    by_status = clerk.get("/window", params={"status": "refused"})
    assert "没有符合条件的办件" in by_status.text


def test_queue_store_orders_red_first_and_pages(clerk: Client, township: NodeSettings) -> None:
    for _ in range(3):
        case_id_of(submit(clerk, form_for(clerk, "X05")))
    case_id_of(submit(clerk, form_for(clerk, "X05", materials=[], decision="correction")))
    database = NodeDatabase(township.database_path)
    try:
        store = CaseQueueStore(database)
        first = store.page(QueueQuery(handling_node="zhen-shifan", per_page=3))
        second = store.page(QueueQuery(handling_node="zhen-shifan", per_page=3, page=2))
    finally:
        database.close()
    assert first.total == 4 and first.pages == 2
    assert all(r.promised_due is not None for r in first.rows)
    assert [r.status for r in second.rows] == ["awaiting_correction"]


def test_case_page_shows_everything_but_the_id_number(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    page = clerk.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "王*英" in page.text and ID_NUMBER not in page.text and "王秀英" not in page.text
    assert "示范镇便民服务中心" in page.text  # node names, not ids
    assert "办理过程" in page.text and "收件" in page.text and "受理" in page.text
    assert "承诺办结日期" in page.text and "剩余工作日" in page.text


def test_unknown_case_is_a_chinese_404(clerk: Client) -> None:
    response = clerk.get("/cases/nope")
    assert response.status_code == 404
    assert "本节点没有编号为 nope 的办件" in response.text


def test_anonymous_is_sent_to_log_in(client: Client) -> None:
    for path in ("/window", "/window/new", "/cases/x", "/window/done/x"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_reviewer_may_read_but_not_take_in(client: Client) -> None:
    assert log_in(client, "rev1").status_code == 303
    assert client.get("/window").status_code == 200
    assert "收件登记</a>" not in client.get("/window").text
    assert client.get("/window/new").status_code == 403
    token = client.cookies.get(CSRF_COOKIE)
    posted = client.post("/window/new", data={"_csrf_token": token, "item_code": "X05"})
    assert posted.status_code == 403
    assert "没有此操作所需的角色" in posted.text


def test_post_without_csrf_is_refused(clerk: Client) -> None:
    data = form_for(clerk, "X05")
    data.pop("_csrf_token")
    assert submit(clerk, data).status_code == 403


def test_desk_links_to_the_window(clerk: Client) -> None:
    desk = clerk.get("/desk")
    assert 'href="/window"' in desk.text and 'href="/window/new"' in desk.text

"""The kiosk's pages: the guide search, pre-application, tracking, rating and complaint forms,
and the clerk's list of pre-applications."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from node.api.auth import CSRF_COOKIE
from node.app import create_app
from node.services.kiosk import MAX_FAILURES
from node.settings import NodeSettings
from shared.catalog import Catalog
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, log_in
from tests.node.test_kiosk import (
    ID_NUMBER,
    RESIDENT_ID,
    Clock,
    finished_case,
    open_case,
    wrong,
)

Client = TestClient[Litestar]


@pytest.fixture
def client(township: NodeSettings) -> Iterator[Client]:
    add_staff(township, "clerk1", "clerk")
    add_staff(township, "rev1", "reviewer")
    app = create_app(township, clock=Clock(), prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


def form_token(client: Client, path: str) -> tuple[str, str]:
    """The CSRF token and the request id of the form at ``path``."""
    text = client.get(path).text
    found = re.search(r'name="_csrf_token" value="([^"]+)"', text)
    assert found is not None
    request_id = re.search(r'name="request_id" value="([^"]+)"', text)
    return found.group(1), request_id.group(1) if request_id else ""


def apply_form(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "person",
        "name": "赵六",
        "id_type": "resident_id",
        "id_number": RESIDENT_ID,
        "phone": "",
        "materials": ["M01", "M03"],
    }
    body.update(extra)
    return body


def submit_apply(client: Client, body: dict[str, Any]) -> Any:
    csrf, request_id = form_token(client, "/kiosk/apply/X09")
    return client.post(
        "/kiosk/apply/X09", data={"_csrf_token": csrf, "request_id": request_id, **body}
    )


def track_page(client: Client, receipt_no: str, code: str) -> Any:
    csrf, _ = form_token(client, "/kiosk/track")
    return client.post(
        "/kiosk/track", data={"_csrf_token": csrf, "receipt_no": receipt_no, "query_code": code}
    )


def case_form(client: Client, case: dict[str, Any], action: str, **fields: Any) -> Any:
    page = track_page(client, case["receipt_no"], case["query_code"])
    csrf = str(client.cookies[CSRF_COOKIE])
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id is not None
    data = {
        "_csrf_token": csrf,
        "receipt_no": case["receipt_no"],
        "query_code": case["query_code"],
        "request_id": request_id.group(1),
        **fields,
    }
    return client.post(action, data=data)


def test_kiosk_home_lists_and_searches_items(client: Client) -> None:
    home = client.get("/kiosk")
    assert home.status_code == 200
    text = home.text
    assert "办事指南" in text and "办件查询" in text and "好差评" in text
    assert 'href="/kiosk/apply/X09"' in text and 'href="/items/X09?via=kiosk"' in text
    assert "kiosk.css" in text
    department = re.search(r'<option value="([^"]+)"', text)
    assert department is not None
    narrowed = client.get("/kiosk", params={"department": department.group(1)}).text
    assert narrowed.count('class="kiosk-item"') <= text.count('class="kiosk-item"')
    nothing = client.get("/kiosk", params={"q": "没有这种事项"}).text
    assert "没有找到与“没有这种事项”相符的事项" in nothing


def test_guide_page_from_the_kiosk_shows_every_element_a_resident_needs(
    client: Client, demo_catalog: Catalog
) -> None:
    home = client.get("/kiosk").text
    for code in ("X09", "X06"):
        assert f'href="/items/{code}?via=kiosk"' in home
        item = demo_catalog.item(code)
        page = client.get(f"/items/{code}", params={"via": "kiosk"})
        assert page.status_code == 200
        assert 'href="/kiosk">← 返回首页' in page.text  # back to the kiosk, not the staff guide
        text = html.unescape(page.text)
        basic = re.search(r'data-field="basic-code">([^<]+)<', text)
        assert basic is not None and basic.group(1) == item.codes.basic
        assert "事项编码" not in text  # the project's own key is not the 基本编码
        complaint = re.search(r'data-field="complaint-phone">([^<]+)<', text)
        assert complaint is not None and complaint.group(1) == item.contact.complaint_phone
        result = re.search(r'data-field="result-name">([^<]+)<', text)
        assert result is not None and result.group(1) == item.result_name
        for procedure in item.special_procedures:
            assert procedure.name in text
        if item.fee.charged:
            fee_basis = re.search(r'data-field="fee-basis">([^<]+)<', text)
            assert fee_basis is not None and fee_basis.group(1) == item.fee.basis
    assert 'href="/">←' in client.get("/items/X09").text  # opened from the guide itself
    procedures = client.get("/items/X09").text
    section = procedures[procedures.index('data-field="special-procedures"') :]
    assert "村（社区）公示" in section and "不计入" in section and "约 7 天" in section
    assert 'data-field="special-procedures"' not in client.get("/items/X06").text


def test_kiosk_page_for_an_item_not_offered_is_a_chinese_404(client: Client) -> None:
    response = client.get("/kiosk/apply/NOPE", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "<html" in response.text and "事项" in response.text


def test_apply_form_shows_the_materials_checklist(client: Client) -> None:
    page = client.get("/kiosk/apply/X09")
    assert page.status_code == 200
    assert 'name="materials" value="M01"' in page.text
    assert "最低生活保障申请书" in page.text
    assert 'name="_csrf_token"' in page.text


def test_apply_shows_a_slip_and_a_double_submit_makes_one(client: Client) -> None:
    csrf, request_id = form_token(client, "/kiosk/apply/X09")
    data = {"_csrf_token": csrf, "request_id": request_id, **apply_form()}
    first = client.post("/kiosk/apply/X09", data=data)
    assert first.status_code == 200, first.text
    number = re.search(r'class="slip-number">([^<]+)<', first.text)
    assert number is not None and number.group(1) == "YS-20260302-0001"
    assert "赵*" in first.text and "110***********1230" in first.text
    assert RESIDENT_ID not in first.text
    again = client.post("/kiosk/apply/X09", data=data)
    assert "YS-20260302-0001" in again.text
    assert log_in(client, "clerk1").status_code == 303
    listed = client.get("/window/preapplications")
    assert listed.status_code == 200
    assert listed.text.count("<td>YS-20260302-") == 1
    assert 'href="/window/new?pre=YS-20260302-0001"' in listed.text
    assert RESIDENT_ID not in listed.text


def test_apply_with_bad_input_keeps_the_form_but_not_the_id(client: Client) -> None:
    response = submit_apply(client, apply_form(name="赵六", id_number="123", materials=["M01"]))
    assert response.status_code == 422
    assert "居民身份证号码应为 18 位" in response.text
    assert 'value="赵六"' in response.text
    assert 'name="materials" value="M01" checked' in response.text
    assert 'name="id_number" value=""' in response.text
    assert "请重新输入" in response.text


def test_apply_without_csrf_is_refused(client: Client) -> None:
    client.get("/kiosk/apply/X09")
    response = client.post("/kiosk/apply/X09", data=apply_form())
    assert response.status_code == 403
    assert "表单校验未通过" in response.text


def test_tracking_page_shows_the_case_without_lights_or_ids(client: Client) -> None:
    case = open_case(client)
    response = track_page(client, case["receipt_no"], case["query_code"])
    assert response.status_code == 200
    text = response.text
    assert "已受理" in text and case["receipt_no"] in text
    assert f"{case['promised_due']} 前" in text
    assert "王*英" in text and ID_NUMBER not in text
    assert "clerk1" not in text and "light" not in text
    assert "办件办结后才能评价" in text
    assert 'http-equiv="refresh"' in text


def test_tracking_page_with_a_wrong_code_says_so_in_chinese(client: Client) -> None:
    case = open_case(client)
    response = track_page(client, case["receipt_no"], wrong(case["query_code"]))
    assert response.status_code == 400
    assert "受理编号或查询码不正确" in response.text
    assert "王*英" not in response.text
    assert case["receipt_no"] in response.text  # the number typed is kept


def test_tracking_page_is_limited_after_too_many_failures(client: Client) -> None:
    case = open_case(client)
    for _ in range(MAX_FAILURES):
        track_page(client, case["receipt_no"], wrong(case["query_code"]))
    response = track_page(client, case["receipt_no"], case["query_code"])
    assert response.status_code == 429
    assert "分钟后再试" in response.text
    assert response.headers["retry-after"] == "600"


def test_rating_page_thanks_once_and_refuses_a_second(client: Client) -> None:
    case = finished_case(client)
    first = case_form(client, case, "/kiosk/rate", level="4", comment="")
    assert first.status_code == 200
    assert "感谢您的评价（满意）" in first.text
    assert "您已评价" in first.text
    # A form left open in another tab: a new request id, the same case.
    page = track_page(client, case["receipt_no"], case["query_code"])
    assert 'action="/kiosk/rate"' not in page.text
    second = client.post(
        "/kiosk/rate",
        data={
            "_csrf_token": str(client.cookies[CSRF_COOKIE]),
            "receipt_no": case["receipt_no"],
            "query_code": case["query_code"],
            "request_id": "another-tab",
            "level": "1",
        },
    )
    assert second.status_code == 409
    assert "已经评价过" in second.text


def test_rating_page_without_a_level_is_refused(client: Client) -> None:
    case = finished_case(client)
    response = case_form(client, case, "/kiosk/rate", level="")
    assert response.status_code == 422
    assert "请选择 1 至 5 星的评价等级" in response.text


def test_complaint_page_records_and_shows_it(client: Client) -> None:
    case = open_case(client)
    response = case_form(client, case, "/kiosk/complain", content="材料被要求重复提交")
    assert response.status_code == 200
    assert "投诉已登记" in response.text
    assert "材料被要求重复提交" in response.text and "尚未答复" in response.text
    empty = case_form(client, case, "/kiosk/complain", content=" ")
    assert empty.status_code == 422 and "请填写投诉内容" in empty.text


def test_preapplication_list_page_roles(client: Client) -> None:
    anonymous = client.get("/window/preapplications", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    assert log_in(client, "rev1").status_code == 303
    assert client.get("/window/preapplications").status_code == 403

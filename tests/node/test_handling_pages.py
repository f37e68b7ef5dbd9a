"""The case page's action forms: what is offered to whom, posting, refusals and double submits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from node.app import create_app
from node.settings import NodeSettings
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, log_in
from tests.node.test_handling import as_user, detail, new_case

Client = TestClient[Litestar]


@pytest.fixture
def client(township: NodeSettings) -> Iterator[Client]:
    for name, role in {"clerk1": "clerk", "rev1": "reviewer", "app1": "approver"}.items():
        add_staff(township, name, role)
    add_staff(township, "adm1", "admin")
    add_staff(township, "all1", "clerk", "reviewer", "approver")
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


def form_token(client: Client, case_id: str) -> str:
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def offered(client: Client, case_id: str) -> list[str]:
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    return re.findall(r'<details class="action" data-action="([a-z-]+)"', page.text)


def submit(client: Client, case_id: str, action: str, fields: dict[str, Any]) -> Any:
    data = {"_csrf_token": form_token(client, case_id), **fields}
    return client.post(f"/cases/{case_id}/actions/{action}", data=data, follow_redirects=False)


def test_case_page_offers_only_what_the_role_may_do_now(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    assert offered(client, case_id) == ["withdrawal", "forward"]  # still the clerk
    assert offered(as_user(client, "rev1"), case_id) == ["review", "pause", "forward"]
    assert offered(as_user(client, "app1"), case_id) == ["extension", "decision"]
    page = as_user(client, "adm1").get(f"/cases/{case_id}").text
    assert 'data-actions="none"' in page
    waiting = new_case(client, "X05", "correction")["case_id"]
    assert offered(client, waiting)[0] == "correction-received"
    page = client.get(f"/cases/{waiting}").text
    assert 'name="materials" value="M01"' in page and 'name="decision" value="refuse"' in page


def test_a_form_records_and_redirects_back_with_a_note(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    as_user(client, "app1")
    response = submit(
        client, case_id, "decision", {"outcome": "approve", "request_id": str(uuid.uuid4())}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{case_id}?done=decision"
    after = client.get(response.headers["location"]).text
    assert "已记录：作出决定" in after
    assert detail(client, case_id)["status"] == "approved"
    assert offered(client, case_id) == ["certificate"]


def test_a_refused_form_comes_back_in_chinese_with_what_was_typed(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    as_user(client, "app1")
    response = submit(
        client,
        case_id,
        "extension",
        {"days": "30", "approver": "林业局长", "reason": "需要补充调查", "request_id": "r1"},
    )
    assert response.status_code == 422
    page = response.text
    assert "未能记录“延长办理期限”" in page and "不能超过该事项允许的 10 日" in page
    assert 'value="30"' in page and "需要补充调查" in page and 'value="林业局长"' in page
    assert '<details class="action" data-action="extension" open>' in page
    bad_number = submit(
        client, case_id, "extension", {"days": "十", "approver": "x", "reason": "y"}
    )
    assert bad_number.status_code == 422 and "“延长天数”填写不正确" in bad_number.text
    missing = submit(client, case_id, "decision", {})
    assert missing.status_code == 422 and "请填写“决定结果”" in missing.text


def test_an_illegal_action_is_refused_with_the_status(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    as_user(client, "rev1")
    response = submit(client, case_id, "resume", {"result": "完成"})
    assert response.status_code == 409
    assert "办件当前状态为“已受理（办理中）”，不能结束特别程序" in response.text


def test_double_submitted_form_records_once(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    as_user(client, "clerk1")
    fields = {"reason": "申请人书面申请撤回", "request_id": str(uuid.uuid4())}
    assert submit(client, case_id, "withdrawal", fields).status_code == 303
    assert submit(client, case_id, "withdrawal", fields).status_code == 303
    labels = [e["label"] for e in detail(client, case_id)["timeline"]]
    assert labels.count("申请人撤回") == 1


def test_correction_form_accepts_with_a_deferred_material(client: Client) -> None:
    case_id = new_case(client, "X09", "correction", materials=["M03"])["case_id"]
    fields: dict[str, Any] = {
        "materials": ["M01"],
        "due_M04": "2026-03-20",
        "decision": "accept",
        "commitment": "",
    }
    refused = submit(client, case_id, "correction-received", fields)
    assert refused.status_code == 422 and "书面承诺" in refused.text
    assert 'value="2026-03-20"' in refused.text
    fields["commitment"] = "本人承诺按期补齐"
    assert submit(client, case_id, "correction-received", fields).status_code == 303
    case = detail(client, case_id)
    assert case["status"] == "accepted" and case["deferred_outstanding"] == ["M04"]
    assert submit(client, case_id, "deferred-supplied", {"codes": "M04"}).status_code == 303
    assert detail(client, case_id)["deferred_outstanding"] == []


def test_forms_check_the_role_of_the_action(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    as_user(client, "rev1")
    response = submit(client, case_id, "decision", {"outcome": "approve"})
    assert response.status_code == 403 and "决定" in response.text
    as_user(client, "adm1")
    assert submit(client, case_id, "withdrawal", {}).status_code == 403
    assert detail(client, case_id)["status"] == "accepted"


def test_forms_want_a_login_csrf_and_a_known_action(client: Client) -> None:
    case_id = new_case(client, "X05", materials=["M01"])["case_id"]
    unknown = submit(client, case_id, "approve-everything", {})
    assert unknown.status_code == 404
    no_csrf = client.post(f"/cases/{case_id}/actions/withdrawal", data={}, follow_redirects=False)
    assert no_csrf.status_code == 403
    token = form_token(client, case_id)
    client.cookies.delete("tongban_session")
    anonymous = client.post(
        f"/cases/{case_id}/actions/withdrawal",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert log_in(client, "clerk1").status_code == 303
    assert detail(client, case_id)["status"] == "accepted"

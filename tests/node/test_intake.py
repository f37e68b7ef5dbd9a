"""The clerk's case API: intake decisions, validation, double submits, roles and privacy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from casework.display import mask_name
from node.api.auth import CSRF_COOKIE
from node.app import create_app
from node.settings import NodeSettings
from node.storage.database import NodeDatabase
from node.storage.intake_store import IntakeStore
from shared.receipts import check_query_code, parse_receipt_no
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, csrf_token, log_in

Client = TestClient[Litestar]
ID_NUMBER = "110101194501011234"
TODAY = date(2026, 3, 2)


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


def application(item: str, decision: str = "accept", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_code": item,
        "applicant": {
            "name": "王秀英",
            "id_type": "resident_id",
            "id_number": ID_NUMBER,
            "phone": "13800000000",
        },
        "materials": [],
        "decision": decision,
    }
    body.update(extra)
    return body


def submit(client: Client, body: dict[str, Any]) -> Any:
    token = client.cookies.get(CSRF_COOKIE) or csrf_token(client)
    return client.post("/api/v1/cases", json=body, headers={"x-csrftoken": token})


def test_intake_accepts_a_complete_application(clerk: Client, township: NodeSettings) -> None:
    response = submit(clerk, application("X05", materials=["M01"]))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "accepted"
    assert result["receipt_no"] == "SFZ-20260302-0001-" + result["receipt_no"][-1]
    assert parse_receipt_no(result["receipt_no"]).serial == 1
    assert result["promised_due"] is not None
    assert result["missing"] == []
    database = NodeDatabase(township.database_path)
    try:
        secret = IntakeStore(database).query_secret()
    finally:
        database.close()
    assert check_query_code(secret, result["receipt_no"], result["query_code"])
    second = submit(clerk, application("X05", materials=["M01", "M03"])).json()
    assert parse_receipt_no(second["receipt_no"]).serial == 2
    detail = clerk.get(f"/api/v1/cases/{result['case_id']}").json()
    assert detail["status"] == "accepted"
    assert [e["label"] for e in detail["timeline"]] == ["收件", "受理"]
    assert detail["handling_node"] == "zhen-shifan"
    assert detail["applicant_name"] == "王*英"
    assert ID_NUMBER not in str(detail)


def test_intake_correction_lists_every_missing_material(clerk: Client) -> None:
    response = submit(clerk, application("X09", "correction", materials=["M03"]))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "awaiting_correction"
    assert result["receipt_no"] is None and result["query_code"] is None
    assert [m["code"] for m in result["missing"]] == ["M01", "M04"]
    assert result["missing"][0] == {
        "code": "M01",
        "name": "最低生活保障申请书",
        "requirement": "原件1份",
    }
    complete = application("X09", "correction", materials=["M01", "M03", "M04"])
    refused = submit(clerk, complete)
    assert refused.status_code == 422
    assert "无需补正" in refused.json()["detail"]


def test_intake_accept_with_missing_required_material_is_refused(clerk: Client) -> None:
    response = submit(clerk, application("X09", materials=["M01"]))
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert any("M03" in p for p in problems) and any("M04" in p for p in problems)


def test_intake_accepts_under_deferral_with_a_commitment(clerk: Client) -> None:
    deferred = [{"code": "M04", "due": "2026-03-20"}]
    body = application("X09", materials=["M01", "M03"], deferred=deferred)
    missing_commitment = submit(clerk, body)
    assert missing_commitment.status_code == 422
    assert "书面承诺" in missing_commitment.json()["detail"]
    body["commitment"] = "申请人承诺3月20日前补交收入证明"
    response = submit(clerk, body)
    assert response.status_code == 201, response.text
    detail = clerk.get(f"/api/v1/cases/{response.json()['case_id']}").json()
    assert detail["deferred_outstanding"] == ["M04"]
    not_deferrable = application(
        "X09", materials=["M01"], deferred=[{"code": "M03", "due": "2026-03-20"}], commitment="x"
    )
    assert "不是可容缺材料" in submit(clerk, not_deferrable).json()["detail"]


def test_intake_refusal_needs_reason_and_referral(clerk: Client) -> None:
    response = submit(clerk, application("X05", "refuse", reason="不属于本机关职权范围"))
    assert response.status_code == 422
    assert response.json()["code"] == "intake_invalid"
    assert "referral" in response.json()["detail"]
    body = application("X05", "refuse", reason="不属于本机关职权范围", referral="县林业局")
    done = submit(clerk, body)
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "refused"
    assert done.json()["receipt_no"] is None


def test_intake_immediate_item_is_decided_on_the_spot(clerk: Client) -> None:
    response = submit(clerk, application("X01", "immediate", materials=["M01", "M03"]))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "approved"
    assert result["receipt_no"].startswith("SFZ-20260302-")
    detail = clerk.get(f"/api/v1/cases/{result['case_id']}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["received", "accepted", "decided_on_spot"]
    assert detail["finished"] is True


def test_intake_immediate_is_refused_for_other_items(clerk: Client) -> None:
    promised = submit(clerk, application("X05", "immediate", materials=["M01"]))
    assert promised.status_code == 422
    assert "不是即办件" in promised.json()["detail"]


@pytest.fixture
def community_clerk(community: NodeSettings) -> Iterator[Client]:
    add_staff(community, "clerk1", "clerk")
    app = create_app(community, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as test_client:
        assert log_in(test_client, "clerk1").status_code == 303
        yield test_client


def test_intake_community_forwards_to_its_township(community_clerk: Client) -> None:
    # X12 is 即办, but a community only receives it: the township decides.
    spot = submit(community_clerk, application("X12", "immediate"))
    assert spot.status_code == 422
    assert "不由本节点作出决定" in spot.json()["detail"]
    response = submit(community_clerk, application("X12"))
    assert response.status_code == 201, response.text
    assert response.json()["receipt_no"].startswith("DCS-20260302-0001-")
    detail = community_clerk.get(f"/api/v1/cases/{response.json()['case_id']}").json()
    assert detail["handling_node"] == "zhen-shifan"
    assert detail["timeline"][-1]["kind"] == "forwarded"


def test_intake_reception_only_item_is_forwarded_to_the_parent(clerk: Client) -> None:
    response = submit(clerk, application("X02", materials=["M01", "M03", "M04"]))
    assert response.status_code == 201, response.text
    detail = clerk.get(f"/api/v1/cases/{response.json()['case_id']}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["received", "accepted", "forwarded"]
    assert detail["timeline"][2]["detail"].startswith("转办至 county")
    assert detail["handling_node"] == "county"
    assert detail["origin_node"] == "zhen-shifan"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (application("X99"), "item_not_found", "没有编号为 X99 的事项"),
        (application("X03"), "item_not_offered", "未下放到本节点"),
        (application("X05", materials=["M01", "M99"]), "intake_invalid", "没有编码为 M99"),
    ],
)
def test_intake_rejects_bad_items_and_materials(
    clerk: Client, body: dict[str, Any], code: str, words: str
) -> None:
    response = submit(clerk, body)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == code
    assert words in problem["detail"]
    assert clerk.get("/api/v1/cases").json() == []


def test_intake_double_submit_makes_one_case(clerk: Client) -> None:
    body = application("X05", materials=["M01"], request_id="desk-1-0001")
    first = submit(clerk, body)
    again = submit(clerk, body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    listed = clerk.get("/api/v1/cases").json()
    assert [c["case_id"] for c in listed] == [first.json()["case_id"]]
    other = submit(clerk, {**body, "request_id": "desk-1-0002"})
    assert other.json()["case_id"] != first.json()["case_id"]
    assert parse_receipt_no(other.json()["receipt_no"]).serial == 2


def test_intake_needs_the_clerk_role(client: Client) -> None:
    body = application("X05", materials=["M01"])
    anonymous = submit(client, body)
    assert anonymous.status_code == 401
    assert log_in(client, "rev1").status_code == 303
    reviewer = submit(client, body)
    assert reviewer.status_code == 403
    assert reviewer.json()["code"] == "role_required"
    assert client.get("/api/v1/cases").status_code == 200


def test_intake_post_without_csrf_header_is_refused(clerk: Client) -> None:
    response = clerk.post("/api/v1/cases", json=application("X05", materials=["M01"]))
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_case_list_masks_names_and_never_shows_id_numbers(clerk: Client) -> None:
    submit(clerk, application("X05", materials=["M01"]))
    submit(clerk, application("X09", "correction", materials=["M03"]))
    response = clerk.get("/api/v1/cases")
    assert response.status_code == 200
    assert ID_NUMBER not in response.text
    listed = response.json()
    assert [c["item_code"] for c in listed] == ["X09", "X05"]
    assert {c["applicant_name"] for c in listed} == {"王*英"}
    assert listed[1]["item_name"].startswith("林木采伐许可证核发")
    assert listed[1]["light"] in {"green", "yellow", "red"}
    assert [c["item_code"] for c in clerk.get("/api/v1/cases?status=accepted").json()] == ["X05"]
    assert [c["item_code"] for c in clerk.get("/api/v1/cases?q=X09").json()] == ["X09"]
    assert clerk.get("/api/v1/cases?q=%25").json() == []


def test_case_detail_of_unknown_case_is_404(clerk: Client) -> None:
    response = clerk.get("/api/v1/cases/no-such-case")
    assert response.status_code == 404
    assert response.json()["code"] == "case_not_found"


def test_mask_name_keeps_first_and_last_character() -> None:
    assert [mask_name(n) for n in ("张英", "王秀英", "欧阳娜娜", "张", "", None)] == [
        "张*",
        "王*英",
        "欧**娜",
        "*",
        "",
        "",
    ]

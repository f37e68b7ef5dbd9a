"""The resident kiosk's JSON API and service: pre-application, tracking, ratings, complaints,
the limit on failed lookups, and the clerk's list of pre-applications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from node.api.auth import CSRF_COOKIE, SESSION_COOKIE
from node.app import create_app
from node.services.kiosk import (
    FAILURE_WINDOW,
    MAX_FAILURES,
    PreApplication,
    id_number_problem,
    mask_id_number,
)
from node.settings import NodeSettings
from shared.errors import ConflictError, NotFoundError
from shared.events import Applicant, IdType
from shared.receipts import format_receipt_no, parse_receipt_no
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, log_in

Client = TestClient[Litestar]
ID_NUMBER = "110101194501011234"  # as a clerk typed it (not checked at the window)
RESIDENT_ID = "110101194501011230"  # a valid number for the kiosk's check
TODAY = date(2026, 3, 2)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(township: NodeSettings, clock: Clock) -> Iterator[Client]:
    add_staff(township, "clerk1", "clerk")
    add_staff(township, "rev1", "reviewer")
    app = create_app(township, clock=clock, prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


def token(client: Client) -> str:
    """The CSRF token as a machine client gets it: the cookie of any GET, sent back."""
    if not client.cookies.get(CSRF_COOKIE):
        client.get("/api/v1/kiosk/items")
    return str(client.cookies[CSRF_COOKIE])


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers={"x-csrftoken": token(client)})


def make_case(client: Client, item: str, decision: str, materials: list[str]) -> dict[str, Any]:
    """Register a case as a clerk would, then leave the client anonymous again."""
    assert log_in(client, "clerk1").status_code == 303
    body = {
        "item_code": item,
        "applicant": {"name": "王秀英", "id_type": "resident_id", "id_number": ID_NUMBER},
        "materials": materials,
        "decision": decision,
    }
    response = post(client, "/api/v1/cases", body)
    assert response.status_code == 201, response.text
    client.cookies.delete(SESSION_COOKIE)
    return dict(response.json())


def finished_case(client: Client) -> dict[str, Any]:
    return make_case(client, "X01", "immediate", ["M01", "M03"])


def open_case(client: Client) -> dict[str, Any]:
    return make_case(client, "X05", "accept", ["M01"])


def track(client: Client, receipt_no: str, code: str) -> Any:
    return post(client, "/api/v1/kiosk/track", {"receipt_no": receipt_no, "query_code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def preapplication(item: str = "X09", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_code": item,
        "applicant": {
            "name": "李四",
            "id_type": "resident_id",
            "id_number": RESIDENT_ID,
            "phone": "13800000000",
        },
        "materials": ["M01"],
    }
    body.update(extra)
    return body


# -- guide search ------------------------------------------------------------------------------


def test_kiosk_search_matches_name_and_department(client: Client) -> None:
    everything = client.get("/api/v1/kiosk/items").json()
    assert everything, "the demo catalog offers items at the township"
    first = everything[0]
    by_name = client.get("/api/v1/kiosk/items", params={"q": first["name"][:3]}).json()
    assert first["code"] in [e["code"] for e in by_name]
    department = first["department"]
    by_department = client.get("/api/v1/kiosk/items", params={"department": department}).json()
    assert by_department and all(e["department"] == department for e in by_department)
    keyword = client.get("/api/v1/kiosk/items", params={"q": department}).json()
    assert {e["code"] for e in by_department} <= {e["code"] for e in keyword}
    assert client.get("/api/v1/kiosk/items", params={"q": "没有这种事项"}).json() == []


# -- pre-application ---------------------------------------------------------------------------


def test_preapplication_gets_a_number_and_masks_the_id(client: Client) -> None:
    response = post(client, "/api/v1/kiosk/preapplications", preapplication())
    assert response.status_code == 201, response.text
    slip = response.json()
    assert slip["number"] == "YS-20260302-0001"
    assert slip["applicant_name"] == "李*"
    assert slip["id_number"] == "110***********1230"
    assert RESIDENT_ID not in response.text
    assert slip["brought"] == ["最低生活保障申请书"]
    assert len(slip["still_needed"]) == 2
    second = post(client, "/api/v1/kiosk/preapplications", preapplication()).json()
    assert second["number"] == "YS-20260302-0002"


def test_preapplication_double_submit_makes_one(client: Client) -> None:
    body = preapplication(request_id="tap-1")
    first = post(client, "/api/v1/kiosk/preapplications", body).json()
    again = post(client, "/api/v1/kiosk/preapplications", body).json()
    assert first["number"] == again["number"]
    assert log_in(client, "clerk1").status_code == 303
    listed = client.get("/api/v1/preapplications").json()
    assert [p["number"] for p in listed] == [first["number"]]


def test_preapplication_bad_input_is_listed_in_chinese(client: Client) -> None:
    body = preapplication(
        "X09",
        applicant={
            "name": " ",
            "id_type": "resident_id",
            "id_number": "110101194501011235",
            "phone": "12345",
        },
        materials=["M01", "M99"],
    )
    response = post(client, "/api/v1/kiosk/preapplications", body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problems = response.json()["problems"]
    assert "请填写申请人姓名（单位名称）" in problems
    assert any("校验位" in p for p in problems)
    assert any("联系电话" in p for p in problems)
    assert any("M99" in p for p in problems)
    assert "110101194501011235" not in response.text
    unknown = post(client, "/api/v1/kiosk/preapplications", preapplication("NOPE"))
    assert unknown.status_code == 422
    assert "本服务点不受理" in unknown.json()["detail"]


def test_preapplication_pick_up_marks_it(client: Client, township: NodeSettings) -> None:
    slip = post(client, "/api/v1/kiosk/preapplications", preapplication()).json()
    kiosk = client.app.dependencies["kiosk_service"].dependency()
    found = kiosk.preapplication(slip["number"].lower())
    assert isinstance(found, PreApplication)
    assert found.status == "waiting" and found.case_id is None
    assert found.applicant == Applicant(
        name="李四", id_type=IdType.RESIDENT_ID, id_number=RESIDENT_ID, phone="13800000000"
    )
    assert found.materials == ("M01",)
    assert kiosk.preapplication("YS-20260302-9999") is None
    kiosk.mark_picked_up(slip["number"], "case-1")
    kiosk.mark_picked_up(slip["number"], "case-1")  # again for the same case: no-op
    picked = kiosk.preapplication(slip["number"])
    assert picked.status == "picked_up" and picked.case_id == "case-1"
    with pytest.raises(ConflictError, match="其他办件"):
        kiosk.mark_picked_up(slip["number"], "case-2")
    with pytest.raises(NotFoundError, match="没有编号"):
        kiosk.mark_picked_up("YS-20260302-9999", "case-3")
    assert log_in(client, "clerk1").status_code == 303
    assert client.get("/api/v1/preapplications").json() == []


def test_preapplication_list_needs_the_clerk_role(client: Client) -> None:
    anonymous = client.get("/api/v1/preapplications")
    assert anonymous.status_code == 401
    assert log_in(client, "rev1").status_code == 303
    assert client.get("/api/v1/preapplications").status_code == 403


# -- tracking ----------------------------------------------------------------------------------


def test_tracking_shows_the_public_view(client: Client) -> None:
    case = open_case(client)
    response = track(client, case["receipt_no"].lower(), case["query_code"])
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["receipt_no"] == case["receipt_no"]
    assert view["phase"] == "accepted" and view["phase_label"] == "已受理"
    assert view["promised_due"] == case["promised_due"]
    assert view["applicant_name"] == "王*英"
    assert [s["label"] for s in view["timeline"]] == ["收件", "受理"]
    assert view["can_rate"] is False
    assert "light" not in view
    text = response.text
    assert ID_NUMBER not in text
    assert "clerk1" not in text and "zhen-shifan" not in text


def test_wrong_query_code_never_reveals_the_case(client: Client) -> None:
    case = open_case(client)
    bad = track(client, case["receipt_no"], wrong(case["query_code"]))
    receipt = parse_receipt_no(case["receipt_no"])
    unknown_no = format_receipt_no("SFZ", receipt.day, 9999)
    nobody = track(client, unknown_no, case["query_code"])
    assert bad.status_code == nobody.status_code == 400
    assert bad.json()["detail"] == nobody.json()["detail"]
    assert bad.json()["code"] == "lookup_failed"
    assert "王" not in bad.text and case["case_id"] not in bad.text
    typo = track(client, case["receipt_no"][:-1] + "Z", case["query_code"])
    assert typo.status_code == 400 and "校验位" in typo.json()["detail"]
    elsewhere = track(client, format_receipt_no("DCS", receipt.day, 1), "123456")
    assert elsewhere.json()["code"] == "receipt_elsewhere"
    empty = track(client, "", "")
    assert empty.status_code == 422 and "请输入受理编号" in empty.json()["problems"]


def test_rate_limit_kicks_in_survives_restart_and_expires(
    township: NodeSettings, clock: Clock
) -> None:
    add_staff(township, "clerk1", "clerk")
    with TestClient(create_app(township, clock=clock, prober=parent_down)) as client:
        case = open_case(client)
        for _ in range(MAX_FAILURES):
            assert track(client, case["receipt_no"], wrong(case["query_code"])).status_code == 400
        limited = track(client, case["receipt_no"], case["query_code"])
        assert limited.status_code == 429
        assert limited.json()["code"] == "lookup_rate_limited"
        assert "10 分钟后再试" in limited.json()["detail"]
        assert int(limited.headers["retry-after"]) == 600
        clock.now += timedelta(minutes=4)
        assert track(client, case["receipt_no"], case["query_code"]).status_code == 429
    with TestClient(create_app(township, clock=clock, prober=parent_down)) as restarted:
        again = track(restarted, case["receipt_no"], case["query_code"])
        assert again.status_code == 429
        assert int(again.headers["retry-after"]) == 360
        clock.now += FAILURE_WINDOW
        assert track(restarted, case["receipt_no"], case["query_code"]).status_code == 200


# -- ratings -----------------------------------------------------------------------------------


def rate(client: Client, case: dict[str, Any], level: Any, **extra: Any) -> Any:
    body = {"receipt_no": case["receipt_no"], "query_code": case["query_code"], "level": level}
    body.update(extra)
    return post(client, "/api/v1/kiosk/ratings", body)


def test_rating_a_finished_case_once(client: Client) -> None:
    case = finished_case(client)
    assert track(client, case["receipt_no"], case["query_code"]).json()["can_rate"] is True
    response = rate(client, case, 5, comment="办得很快")
    assert response.status_code == 201, response.text
    assert "非常满意" in response.json()["message"]
    view = track(client, case["receipt_no"], case["query_code"]).json()
    assert view["rating"] == 5 and view["can_rate"] is False
    assert view["phase"] == "decided"
    second = rate(client, case, 1)
    assert second.status_code == 409
    assert second.json()["code"] == "rating_duplicate"


def test_rating_double_submit_is_one_rating(client: Client) -> None:
    case = finished_case(client)
    first = rate(client, case, 4, request_id="r1")
    again = rate(client, case, 4, request_id="r1")
    assert first.status_code == again.status_code == 201
    assert first.json()["event_id"] == again.json()["event_id"]
    assert log_in(client, "clerk1").status_code == 303
    detail = client.get(f"/api/v1/cases/{case['case_id']}").json()
    assert [e["kind"] for e in detail["timeline"]].count("rated") == 1
    rated = next(e for e in detail["timeline"] if e["kind"] == "rated")
    assert rated["actor"] == "resident"


def test_rating_an_unfinished_case_is_refused(client: Client) -> None:
    case = open_case(client)
    response = rate(client, case, 3)
    assert response.status_code == 409
    assert response.json()["code"] == "rating_not_finished"
    assert "办结后才能评价" in response.json()["detail"]


@pytest.mark.parametrize("level", [0, 6, "很好", True, None])
def test_rating_level_must_be_one_to_five(client: Client, level: Any) -> None:
    case = finished_case(client)
    response = rate(client, case, level)
    assert response.status_code in {400, 422}
    assert response.headers["content-type"].startswith("application/problem+json")


def test_rating_needs_the_right_query_code(client: Client) -> None:
    case = finished_case(client)
    response = rate(client, {**case, "query_code": wrong(case["query_code"])}, 5)
    assert response.status_code == 400 and response.json()["code"] == "lookup_failed"
    assert track(client, case["receipt_no"], case["query_code"]).json()["rating"] is None


# -- complaints --------------------------------------------------------------------------------


def complain(client: Client, case: dict[str, Any], content: str, **extra: Any) -> Any:
    body = {"receipt_no": case["receipt_no"], "query_code": case["query_code"], "content": content}
    body.update(extra)
    return post(client, "/api/v1/kiosk/complaints", body)


def test_complaint_is_recorded_and_shown_when_tracking(client: Client) -> None:
    case = open_case(client)
    response = complain(client, case, "窗口排队时间太长", request_id="c1")
    assert response.status_code == 201, response.text
    again = complain(client, case, "窗口排队时间太长", request_id="c1")
    assert again.json()["event_id"] == response.json()["event_id"]
    view = track(client, case["receipt_no"], case["query_code"]).json()
    assert len(view["complaints"]) == 1
    complaint = view["complaints"][0]
    assert complaint["content"] == "窗口排队时间太长"
    assert complaint["channel"] == "自助终端"
    assert complaint["answered"] is False
    assert view["timeline"][-1]["label"] == "投诉"


def test_complaint_bad_input(client: Client) -> None:
    case = open_case(client)
    empty = complain(client, case, "   ")
    assert empty.status_code == 422 and "请填写投诉内容" in empty.json()["problems"]
    long = complain(client, case, "长" * 1001)
    assert long.status_code == 422 and "最多 1000 字" in long.json()["detail"]
    wrong_code = complain(client, {**case, "query_code": wrong(case["query_code"])}, "内容")
    assert wrong_code.status_code == 400


def test_kiosk_api_posts_need_the_csrf_header(client: Client) -> None:
    client.get("/api/v1/kiosk/items")
    response = client.post("/api/v1/kiosk/preapplications", json=preapplication())
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_kiosk_api_is_in_the_schema(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path in (
        "/api/v1/kiosk/items",
        "/api/v1/kiosk/preapplications",
        "/api/v1/kiosk/track",
        "/api/v1/kiosk/ratings",
        "/api/v1/kiosk/complaints",
        "/api/v1/preapplications",
    ):
        assert path in paths
    assert "/kiosk" not in paths


# -- pure helpers ------------------------------------------------------------------------------


def _with_check(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


@given(
    region=st.integers(110000, 659999),
    born=st.dates(date(1900, 1, 1), TODAY),
    serial=st.integers(0, 999),
)
def test_resident_id_check_accepts_valid_and_catches_one_digit_typos(
    region: int, born: date, serial: int
) -> None:
    number = _with_check(f"{region}{born:%Y%m%d}{serial:03d}")
    assert id_number_problem(IdType.RESIDENT_ID, number, TODAY) is None
    position = serial % 17
    digit = str((int(number[position]) + 1) % 10)
    typo = number[:position] + digit + number[position + 1 :]
    assert id_number_problem(IdType.RESIDENT_ID, typo, TODAY) is not None


def test_uscc_check() -> None:
    assert id_number_problem(IdType.USCC, "91350100M000100Y43", TODAY) is None
    assert id_number_problem(IdType.USCC, "91350100M000100Y44", TODAY) is not None


@given(st.text(alphabet="0123456789X", min_size=9, max_size=30))
def test_masked_id_never_shows_the_middle(number: str) -> None:
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert masked[3:-4] == "*" * (len(number) - 7)

"""The county window's intake pages (/window/new) and its county-signed notices, per role, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from central.commands import opened
from central.db.casework_tables import PiccoloCaseworkStore
from central.settings import CentralSettings
from tests.central.test_auth import clock as clock
from tests.central.test_auth import login, send_json
from tests.central.test_auth import one_hash_per_password as one_hash_per_password
from tests.central.test_auth import settings as settings
from tests.central.test_window import APPLICANT
from tests.central.test_window import client as client
from tests.conftest import FIXED_NOW

Client = TestClient[Any]
ID_NUMBER = "11010519491231002X"


def form_for(client: Client, item: str, **fields: Any) -> dict[str, Any]:
    """The form as the clerk fills it in: request id and CSRF token from the shown page."""
    page = client.get(f"/window/new?item={item}")
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert request_id is not None and token is not None
    data: dict[str, Any] = {
        "_csrf_token": token.group(1),
        "request_id": request_id.group(1),
        "item_code": item,
        "kind": "person",
        "name": "王秀英",
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "phone": "13800000000",
        "materials": ["M01", "M03", "M04"],
        "decision": "accept",
    }
    data.update(fields)
    return data


def submit(client: Client, data: dict[str, Any]) -> Any:
    return client.post("/window/new", data=data, follow_redirects=False)


def case_id_of(response: Any) -> str:
    assert response.status_code == 303, response.text
    location = str(response.headers["location"])
    assert location.startswith("/window/done/")
    return location.rsplit("/", 1)[1]


def qr_text(page: str) -> str:
    match = re.search(r'data-verify-url="([^"]+)"', page)
    assert match is not None
    url = urlparse(match.group(1).replace("&amp;", "&"))
    assert url.path == "/verify"
    return parse_qs(url.query)["d"][0]


@pytest.fixture
def clerk(client: Client) -> Client:
    login(client, "clerk")
    return client


# The choice of items


def test_choose_page_offers_what_the_county_may_accept_today(clerk: Client) -> None:
    page = clerk.get("/window/new")
    assert page.status_code == 200
    assert "内地居民结婚登记" in page.text  # X07, county only
    assert "食品经营许可（新办）" in page.text  # X02, county, forwarded from townships
    assert "农村村民宅基地审批" not in page.text  # Z01, a township item
    assert 'class="tag forward"' not in page.text  # the county decides all it takes
    assert "调取预申请" not in page.text  # kiosk pre-applications belong to the nodes


def test_an_item_the_county_may_not_accept_is_refused_with_its_name(clerk: Client) -> None:
    page = clerk.get("/window/new?item=Z01")
    assert page.status_code == 200
    assert "Z01「农村村民宅基地审批」今天不能在本节点受理" in page.text
    assert 'name="decision"' not in page.text  # back at the list, no form
    assert "事项目录中没有编号为 NOPE 的事项" in clerk.get("/window/new?item=NOPE").text

    forged = form_for(clerk, "X02", item_code="Z01")
    refused = submit(clerk, forged)
    assert refused.status_code == 422
    assert "未下放到本节点，本节点不能受理" in refused.text
    assert clerk.get("/api/v1/cases").json() == []


# The five decisions and their notices


def test_accept_shows_receipt_query_code_due_day_and_a_county_signed_notice(
    clerk: Client,
) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X02")))
    result = clerk.get(f"/window/done/{case_id}")
    assert result.status_code == 200
    receipt_no = re.search(r'<strong class="code">(XZX-[^<]+)</strong>', result.text)
    query_code = re.search(r"查询码</dt><dd><strong class=\"code\">([^<]+)</strong>", result.text)
    assert receipt_no is not None and query_code is not None
    case = clerk.get(f"/api/v1/cases/{case_id}").json()
    assert case["status"] == "accepted" and case["promised_due"] is not None
    assert case["promised_due"] in result.text
    assert "王**" in result.text and "王秀英" not in result.text and ID_NUMBER not in result.text
    for kind in ("receipt_voucher", "acceptance"):
        assert f"/cases/{case_id}/documents/{kind}" in result.text
    assert "/documents/refusal" not in result.text

    notice = clerk.get(f"/cases/{case_id}/documents/acceptance")
    assert notice.status_code == 200
    assert "受理通知书" in notice.text and "示范县受〔2026〕第000001号" in notice.text
    assert receipt_no.group(1) in notice.text and query_code.group(1) in notice.text
    assert "示范县政务服务中心" in notice.text and "<svg" in notice.text
    assert "/static/print.css" in notice.text and ID_NUMBER not in notice.text

    checked = clerk.get("/api/v1/documents/verify", params={"d": qr_text(notice.text)}).json()
    assert checked["valid"] is True
    assert checked["document"]["issuer_node"] == "county"
    assert checked["document"]["receipt_no"] == receipt_no.group(1)

    again = clerk.get(f"/cases/{case_id}/documents/acceptance")
    assert qr_text(again.text) == qr_text(notice.text)
    other = case_id_of(submit(clerk, form_for(clerk, "X02", name="李建国")))
    assert "示范县受〔2026〕第000002号" in clerk.get(f"/cases/{other}/documents/acceptance").text
    voucher = clerk.get(f"/cases/{case_id}/documents/receipt_voucher")
    assert voucher.status_code == 200 and "收件凭证" in voucher.text
    # The case page offers the same notices for reprinting.
    case_page = clerk.get(f"/cases/{case_id}").text
    for kind in ("receipt_voucher", "acceptance"):
        assert f"/cases/{case_id}/documents/{kind}" in case_page


def test_a_double_submit_makes_one_case(clerk: Client) -> None:
    data = form_for(clerk, "X02")
    first = case_id_of(submit(clerk, data))
    assert case_id_of(submit(clerk, data)) == first
    assert [c["case_id"] for c in clerk.get("/api/v1/cases").json()] == [first]


def test_correction_notice_lists_what_is_missing(clerk: Client) -> None:
    case_id = case_id_of(
        submit(clerk, form_for(clerk, "X02", materials=["M01"], decision="correction"))
    )
    result = clerk.get(f"/window/done/{case_id}")
    assert "未受理，无受理编号" in result.text and "查询码" not in result.text
    notice = clerk.get(f"/cases/{case_id}/documents/correction")
    assert notice.status_code == 200
    assert "一次性告知书" in notice.text and "示范县补正〔2026〕第000001号" in notice.text
    assert "M03" not in notice.text and "原件" in notice.text
    assert clerk.get(f"/cases/{case_id}/documents/acceptance").status_code == 404


def test_refusal_names_the_reason_and_where_to_apply(clerk: Client) -> None:
    case_id = case_id_of(
        submit(
            clerk,
            form_for(
                clerk,
                "X02",
                decision="refuse",
                reason="申请事项依法不需要取得行政许可",
                referral="示范县市场监督管理局",
            ),
        )
    )
    notice = clerk.get(f"/cases/{case_id}/documents/refusal")
    assert notice.status_code == 200
    assert "不予受理通知书" in notice.text and "示范县不受〔2026〕第000001号" in notice.text
    assert (
        "依法不需要取得行政许可" in notice.text
        and "请向示范县市场监督管理局提出申请" in notice.text
    )
    assert "示范县人民政府" in notice.text  # where to seek administrative review


def test_deferred_acceptance_records_the_commitment(clerk: Client) -> None:
    data = form_for(
        clerk,
        "X02",
        materials=["M01", "M03"],
        deferred=["M04"],
        due_M04="2026-03-20",
        commitment="申请人承诺在补齐期限内补交",
    )
    case_id = case_id_of(submit(clerk, data))
    documents = clerk.get(f"/window/done/{case_id}").text
    assert f"/cases/{case_id}/documents/deferred_acceptance" in documents
    notice = clerk.get(f"/cases/{case_id}/documents/deferred_acceptance")
    assert notice.status_code == 200
    assert "容缺受理通知书" in notice.text and "示范县容受〔2026〕第000001号" in notice.text
    assert "2026年3月20日" in notice.text


def test_an_immediate_item_is_decided_on_the_spot(clerk: Client) -> None:
    page = clerk.get("/window/new?item=X07")
    assert 'value="immediate"' in page.text
    case_id = case_id_of(
        submit(clerk, form_for(clerk, "X07", decision="immediate", materials=["M01", "M02", "M03"]))
    )
    case = clerk.get(f"/api/v1/cases/{case_id}").json()
    assert case["status"] == "approved"
    assert clerk.get(f"/cases/{case_id}/documents/acceptance").status_code == 200


def test_problems_come_back_with_everything_typed_kept(clerk: Client) -> None:
    data = form_for(
        clerk, "X02", name="王秀英", id_number="110105194912310021", materials=["M01"], phone="13x"
    )
    response = submit(clerk, data)
    assert response.status_code == 422
    assert "校验位不符" in response.text and "联系电话只能包含数字" in response.text
    assert 'value="王秀英"' in response.text and 'value="110105194912310021"' in response.text
    assert f'value="{data["request_id"]}"' in response.text
    # A form that parses is still checked by the intake rules: M03 is missing.
    missing = submit(clerk, form_for(clerk, "X02", materials=["M01", "M04"], phone="010-1234"))
    assert missing.status_code == 422 and "缺少材料 M03" in missing.text
    assert 'value="010-1234"' in missing.text
    assert clerk.get("/api/v1/cases").json() == []


# Who may take applications and print


def test_only_the_county_s_own_clerks_accept(client: Client) -> None:
    login(client, "clerk")
    data = form_for(client, "X02")
    for username in ("supervisor", "dept-zrzy", "reviewer", "approver", "beishan-clerk"):
        login(client, username)
        assert client.get("/window/new").status_code == 403, username
        token = client.cookies.get("tongban_csrf")
        assert submit(client, {**data, "_csrf_token": token}).status_code == 403, username
    api = send_json(
        client,
        "POST",
        "/api/v1/cases",
        {"item_code": "X02", "applicant": APPLICANT, "decision": "accept", "materials": ["M01"]},
    )
    assert api.status_code == 403 and api.json()["code"] == "outside_subtree"
    client.cookies.clear()
    anonymous = client.get("/window/new", follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    login(client, "clerk")
    assert client.get("/api/v1/cases").json() == []


def test_result_and_notices_stay_within_roles_and_subtree(client: Client) -> None:
    login(client, "clerk")
    case_id = case_id_of(submit(client, form_for(client, "X02")))
    login(client, "approver")
    assert client.get(f"/window/done/{case_id}").status_code == 200
    assert client.get(f"/cases/{case_id}/documents/acceptance").status_code == 200
    login(client, "reviewer")
    assert client.get(f"/window/done/{case_id}").status_code == 200
    assert client.get(f"/cases/{case_id}/documents/acceptance").status_code == 403
    for username in ("supervisor", "beishan-clerk"):
        login(client, username)
        assert client.get(f"/window/done/{case_id}").status_code == 403
        assert client.get(f"/cases/{case_id}/documents/acceptance").status_code == 403
    login(client, "clerk")
    assert client.get(f"/cases/{case_id}/documents/nonsense").status_code == 404
    assert client.get("/cases/no-such-case/documents/acceptance").status_code == 404


# Numbering of kept documents


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    prints=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["acceptance", "refusal"])), max_size=12
    )
)
def test_numbers_run_without_gaps_and_a_reprint_keeps_its_number(
    settings: CentralSettings, prints: list[tuple[int, str]]
) -> None:
    cases = [str(uuid.uuid4()) for _ in range(4)]

    async def run() -> None:
        async with opened(settings):
            store = PiccoloCaseworkStore()
            before = {k: await _last_serial(store, k) for k in ("acceptance", "refusal")}
            given_no: dict[tuple[str, str], str] = {}
            for index, kind in prints:
                kept = await store.issue_document(
                    cases[index],
                    kind,
                    year=2026,
                    numbered=True,
                    make=lambda serial: (f"no-{serial}", b'{"s":1}'),
                    at=FIXED_NOW,
                )
                given_no.setdefault((cases[index], kind), kept.document_no)
                assert kept.document_no == given_no[(cases[index], kind)]
            for kind, start in before.items():
                numbers = sorted(int(n[3:]) for (_, k), n in given_no.items() if k == kind)
                assert numbers == list(range(start + 1, start + 1 + len(numbers)))

    asyncio.run(run())


def test_concurrent_first_prints_keep_one_document(settings: CentralSettings) -> None:
    case_id = str(uuid.uuid4())
    calls: list[int | None] = []

    def make(serial: int | None) -> tuple[str, bytes]:
        calls.append(serial)
        return f"no-{serial}", b"{}"

    async def run() -> set[str]:
        async with opened(settings):
            store = PiccoloCaseworkStore()
            kept = await asyncio.gather(
                *(
                    store.issue_document(
                        case_id, "acceptance", year=2026, numbered=True, make=make, at=FIXED_NOW
                    )
                    for _ in range(3)
                )
            )
            after = await store.issue_document(
                str(uuid.uuid4()), "acceptance", year=2026, numbered=True, make=make, at=FIXED_NOW
            )
            return {k.document_no for k in kept} | {after.document_no}

    assert asyncio.run(run()) == {"no-1", "no-2"}
    assert calls == [1, 2]


async def _last_serial(store: PiccoloCaseworkStore, kind: str) -> int:
    probe = await store.issue_document(
        str(uuid.uuid4()), kind, year=2026, numbered=True, make=_numbered, at=FIXED_NOW
    )
    return int(probe.document_no[3:])


def _numbered(serial: int | None) -> tuple[str, bytes]:
    return f"no-{serial}", b"{}"

"""Printed window documents: numbering, signing, byte-identical reprints, QR and verification."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from node.app import create_app
from node.services.documents import short_name
from node.settings import NodeSettings
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, log_in
from tests.node.test_window_pages import ID_NUMBER, case_id_of, form_for, submit

Client = TestClient[Litestar]


@pytest.fixture
def client(township: NodeSettings) -> Iterator[Client]:
    for name, role in (("clerk1", "clerk"), ("rev1", "reviewer"), ("app1", "approver")):
        add_staff(township, name, role)
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def clerk(client: Client) -> Client:
    assert log_in(client, "clerk1").status_code == 303
    return client


def verify_text(page: str) -> str:
    match = re.search(r'data-verify-url="([^"]+)"', page)
    assert match is not None
    url = urlparse(match.group(1).replace("&amp;", "&"))
    assert url.path == "/verify"
    return parse_qs(url.query)["d"][0]


def test_acceptance_notice_is_numbered_signed_and_reprinted_identically(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    first = clerk.get(f"/cases/{case_id}/documents/acceptance")
    assert first.status_code == 200
    assert "受理通知书" in first.text and "示范镇受〔2026〕第000001号" in first.text
    assert "《中华人民共和国行政许可法》第三十二条" in first.text
    assert "扫码验真" in first.text and "<svg" in first.text
    assert "@page" not in first.text and "/static/print.css" in first.text
    assert ID_NUMBER not in first.text
    again = clerk.get(f"/cases/{case_id}/documents/acceptance")
    assert verify_text(again.text) == verify_text(first.text)
    other = case_id_of(submit(clerk, form_for(clerk, "X05", name="李建国")))
    assert "示范镇受〔2026〕第000002号" in clerk.get(f"/cases/{other}/documents/acceptance").text


def test_the_qr_text_verifies_on_the_page_and_the_api(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    d = verify_text(clerk.get(f"/cases/{case_id}/documents/receipt_voucher").text)
    clerk.cookies.clear()  # no log-in is needed to check a document
    answer = clerk.get("/api/v1/documents/verify", params={"d": d})
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "valid" and body["valid"] is True
    assert body["issuer_name"] == "示范镇便民服务中心"
    assert body["document"]["kind"] == "receipt_voucher"
    assert ID_NUMBER not in answer.text
    page = clerk.get("/verify", params={"d": d})
    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text and "验证通过" in page.text


def test_a_tampered_qr_text_fails(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    d = verify_text(clerk.get(f"/cases/{case_id}/documents/acceptance").text)
    broken = d[:-8] + ("A" if d[-8] != "A" else "B") + d[-7:]
    answer = clerk.get("/api/v1/documents/verify", params={"d": broken}).json()
    assert answer["valid"] is False
    assert answer["verdict"] in {"malformed", "bad_signature"}
    assert clerk.get("/api/v1/documents/verify", params={"d": "junk"}).json()["verdict"] == (
        "malformed"
    )
    assert "无法识别" in clerk.get("/verify", params={"d": "junk"}).text
    assert clerk.get("/verify").status_code == 200


def test_each_decision_has_its_notice(clerk: Client) -> None:
    corrected = case_id_of(
        submit(clerk, form_for(clerk, "X05", materials=[], decision="correction"))
    )
    page = clerk.get(f"/cases/{corrected}/documents/correction")
    assert page.status_code == 200
    assert "一次性告知书" in page.text and "示范镇补正〔2026〕第000001号" in page.text
    assert "林木采伐申请表" in page.text
    assert clerk.get(f"/cases/{corrected}/documents/acceptance").status_code == 404
    refused = case_id_of(
        submit(
            clerk,
            form_for(
                clerk, "X05", decision="refuse", reason="不属于本机关职权", referral="示范县林业局"
            ),
        )
    )
    refusal = clerk.get(f"/cases/{refused}/documents/refusal")
    assert "不予受理通知书" in refusal.text and "请向示范县林业局提出申请" in refusal.text
    assert "示范县人民政府申请行政复议" in refusal.text
    deferred = case_id_of(
        submit(
            clerk, form_for(clerk, "X17", deferred="M02", due_M02="2026-03-10", commitment="承诺")
        )
    )
    notice = clerk.get(f"/cases/{deferred}/documents/deferred_acceptance")
    assert "容缺受理通知书" in notice.text and "2026年3月10日" in notice.text


def test_unknown_kind_and_case_are_404(clerk: Client) -> None:
    case_id = case_id_of(submit(clerk, form_for(clerk, "X05")))
    assert clerk.get(f"/cases/{case_id}/documents/passport").status_code == 404
    assert clerk.get("/cases/nope/documents/acceptance").status_code == 404
    assert clerk.get(f"/cases/{case_id}/documents/certificate").status_code == 404


def test_print_roles(client: Client) -> None:
    assert log_in(client, "clerk1").status_code == 303
    case_id = case_id_of(submit(client, form_for(client, "X05")))
    path = f"/cases/{case_id}/documents/acceptance"
    client.cookies.clear()
    assert client.get(path, follow_redirects=False).status_code == 303
    assert log_in(client, "rev1").status_code == 303
    assert client.get(path).status_code == 403
    client.cookies.clear()
    assert log_in(client, "app1").status_code == 303
    assert client.get(path).status_code == 200


def test_short_name() -> None:
    assert short_name("示范镇便民服务中心") == "示范镇"
    assert short_name("东村社区便民服务站") == "东村社区"
    assert short_name("便民服务中心") == "便民服务中心"

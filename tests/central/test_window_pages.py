"""The county window pages per role: queue, case page with department reviews, action forms."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.central.test_auth import clock as clock
from tests.central.test_auth import login
from tests.central.test_auth import one_hash_per_password as one_hash_per_password
from tests.central.test_auth import settings as settings
from tests.central.test_window import _intake
from tests.central.test_window import client as client

Client = TestClient[Any]


def _csrf(page: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _post_form(client: Client, url: str, token: str, data: dict[str, str]) -> Any:
    return client.post(url, data={"_csrf_token": token, **data}, follow_redirects=False)


def test_queue_and_case_page_per_role(client: Client) -> None:
    case_id = _intake(client).json()["case_id"]
    queue = client.get("/window")
    assert queue.status_code == 200 and case_id in queue.text
    assert "110101199001011234" not in queue.text and "赵*" in queue.text
    for username in ("reviewer", "approver", "dept-zrzy"):
        login(client, username)
        assert case_id in client.get("/window").text
    login(client, "supervisor")
    assert client.get("/window").status_code == 403
    assert client.get(f"/cases/{case_id}").status_code == 403
    login(client, "beishan-clerk")
    assert case_id not in client.get("/window").text
    assert client.get(f"/cases/{case_id}").status_code == 403
    client.cookies.clear()
    anonymous = client.get("/window", follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]


def test_reviewer_and_approver_act_through_the_forms(client: Client) -> None:
    case_id = _intake(client).json()["case_id"]
    login(client, "reviewer")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert 'data-action="review"' in page.text and 'data-action="decision"' not in page.text
    assert 'id="reviews"' in page.text
    token = _csrf(page.text)
    # The reviewer may not decide.
    denied = _post_form(client, f"/cases/{case_id}/actions/decision", token, {"outcome": "approve"})
    assert denied.status_code == 403
    done = _post_form(client, f"/cases/{case_id}/actions/review", token, {"opinion": "agree"})
    assert done.status_code == 303, done.text
    assert client.get(f"/cases/{case_id}?done=review").text.count("已记录") == 1

    login(client, "approver")
    page = client.get(f"/cases/{case_id}")
    token = _csrf(page.text)
    refused = _post_form(client, f"/cases/{case_id}/actions/decision", token, {"outcome": "deny"})
    assert refused.status_code == 422 and "理由" in refused.text
    assert 'value="deny" checked' in refused.text
    ok = _post_form(
        client,
        f"/cases/{case_id}/actions/decision",
        token,
        {"outcome": "approve", "request_id": "form-1"},
    )
    assert ok.status_code == 303
    again = _post_form(
        client,
        f"/cases/{case_id}/actions/decision",
        token,
        {"outcome": "approve", "request_id": "form-1"},
    )
    assert again.status_code == 303
    assert client.get(f"/api/v1/cases/{case_id}").json()["status"] == "approved"
    assert client.get(f"/cases/{case_id}").text.count("准予许可") >= 1
    assert client.get("/cases/no-such-case").status_code == 404

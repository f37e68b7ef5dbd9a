"""The county window's JSON API per role, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from central.app import create_app
from central.commands import opened
from central.db.account_store import PiccoloAccountStore
from central.services.accounts import AccountService
from central.settings import CentralSettings
from shared.catalog import decode_catalog
from shared.delegation import Tier
from shared.registry import NodeRecord
from tests.central.test_auth import PASSWORD, Clock, login, send_json
from tests.central.test_auth import clock as clock
from tests.central.test_auth import one_hash_per_password as one_hash_per_password
from tests.central.test_auth import settings as settings

Client = TestClient[Any]

USERS = (
    ("clerk", "clerk", "county", None),
    ("reviewer", "reviewer", "county", None),
    ("approver", "approver", "county", None),
    ("dept-zrzy", "department", "county", "zrzy"),
    ("supervisor", "supervisor", "county", None),
    ("beishan-clerk", "clerk", "zhen-beishan", None),
)

APPLICANT = {"name": "赵六", "id_type": "resident_id", "id_number": "110101199001011234"}


@pytest.fixture
def client(settings: CentralSettings, demo_catalog_bytes: bytes, clock: Clock) -> Iterator[Client]:
    async def build() -> None:
        async with opened(settings) as county:
            for node_id, tier, parent, code in (
                ("zhen-shifan", Tier.TOWNSHIP, "county", "SFZ"),
                ("zhen-beishan", Tier.TOWNSHIP, "county", "BSZ"),
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
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


def _intake(client: Client, **extra: Any) -> Any:
    login(client, "clerk")
    body = {
        "item_code": "X02",
        "applicant": APPLICANT,
        "decision": "accept",
        "materials": ["M01", "M03", "M04"],
        **extra,
    }
    return send_json(client, "POST", "/api/v1/cases", body)


def test_clerk_receives_a_county_item_and_a_double_submit_makes_one_case(client: Client) -> None:
    first = _intake(client, request_id="w-1")
    assert first.status_code == 201, first.text
    again = _intake(client, request_id="w-1")
    assert again.json() == first.json()
    assert first.json()["receipt_no"].startswith("XZX-")
    queue = client.get("/api/v1/cases").json()
    assert [c["case_id"] for c in queue] == [first.json()["case_id"]]
    assert "110101199001011234" not in client.get("/api/v1/cases").text


def test_bad_intake_lists_every_problem(client: Client) -> None:
    response = _intake(client, materials=[], applicant={**APPLICANT, "name": " "})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "申请人姓名" in response.text and "M01" in response.text


def test_roles_review_and_decide_and_the_forbidden_combinations(client: Client) -> None:
    case_id = _intake(client).json()["case_id"]
    # The clerk may neither review nor decide; anonymous callers get 401.
    assert (
        send_json(
            client, "POST", f"/api/v1/cases/{case_id}/decision", {"outcome": "approve"}
        ).status_code
        == 403
    )
    for username in ("supervisor", "beishan-clerk"):
        login(client, username)
        assert client.get(f"/api/v1/cases/{case_id}").status_code == 403
    assert client.get("/api/v1/cases").json() == []
    client.cookies.clear()
    assert client.get("/api/v1/cases").status_code == 401

    login(client, "reviewer")
    detail = client.get(f"/api/v1/cases/{case_id}").json()
    assert "review" in detail["actions"] and "decision" not in detail["actions"]
    reviewed = send_json(client, "POST", f"/api/v1/cases/{case_id}/review", {"opinion": "agree"})
    assert reviewed.status_code == 200, reviewed.text
    assert (
        send_json(
            client, "POST", f"/api/v1/cases/{case_id}/decision", {"outcome": "approve"}
        ).status_code
        == 403
    )

    login(client, "approver")
    denied = send_json(client, "POST", f"/api/v1/cases/{case_id}/decision", {"outcome": "deny"})
    assert denied.status_code == 422 and "理由" in denied.text
    decided = send_json(client, "POST", f"/api/v1/cases/{case_id}/decision", {"outcome": "approve"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    again = send_json(client, "POST", f"/api/v1/cases/{case_id}/decision", {"outcome": "approve"})
    assert again.status_code == 409


def test_a_department_account_reviews_only_for_its_own_department(client: Client) -> None:
    case_id = _intake(client).json()["case_id"]
    login(client, "dept-zrzy")
    other = send_json(
        client, "POST", f"/api/v1/cases/{case_id}/review", {"opinion": "agree", "department": "sfz"}
    )
    assert other.status_code == 403 and other.json()["code"] == "department_mismatch"
    # X02 is not a joint item: zrzy is not its implementing department.
    own = send_json(client, "POST", f"/api/v1/cases/{case_id}/review", {"opinion": "agree"})
    assert own.status_code == 422

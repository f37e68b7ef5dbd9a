"""The county portal end to end: a township case synced up, tracked, rated, complained about,
answered and reopened at the county; verification of node- and county-signed documents;
county certificates; the lookup limit; roles. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from central.app import create_app
from central.commands import import_catalog, issue_token, opened
from central.db.account_store import PiccoloAccountStore
from central.services.accounts import AccountService
from central.settings import CentralSettings
from node.commands import init_node
from node.commands import opened as node_opened
from node.settings import NodeSettings
from shared.calendar import CHINA_TZ
from shared.delegation import Tier
from shared.documents import (
    CertificateContent,
    DocumentKind,
    DocumentPayload,
    decode_compact,
    encode_compact,
    sign_payload,
)
from shared.event_parts import Applicant, IdType, Outcome, ReceiptChannel
from shared.events import Accepted, CaseEvent, CertificateIssued, Decided, Received
from shared.hlc import Hlc
from shared.intake_events import make_query_check
from shared.receipts import format_certificate_no, format_receipt_no
from shared.registry import NodeRecord, NodeStatus
from shared.signing import SigningKey
from sync.keys import load_private_key
from tests.integration.test_enrollment import forward_to

pytestmark = pytest.mark.anyio

PASSWORD = "tongban-test-2026"
CODE = "314159"
USERS = (
    ("approver", "approver", "county"),
    ("clerk", "clerk", "county"),
    ("supervisor", "supervisor", "county"),
    ("sf-jiancha", "supervisor", "zhen-shifan"),
    ("bs-jiancha", "supervisor", "zhen-beishan"),
    ("admin", "admin", "county"),
)
Client = AsyncTestClient[Any]


@dataclass
class World:
    settings: CentralSettings
    client: Client
    township: NodeSettings
    receipt_no: str
    case_id: str
    node_certificate: str


def today() -> date:
    return datetime.now(CHINA_TZ).date()


def base(case_id: str, node_id: str, hlc: Hlc) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "node_id": node_id,
        "actor": "clerk",
        "hlc": hlc,
    }


def applicant() -> Applicant:
    return Applicant(name="王秀英", id_type=IdType.RESIDENT_ID, id_number="110101194501011234")


def case_events(
    case_id: str, node_id: str, item: str, receipt_no: str, *, certificate: str | None
) -> Callable[[Callable[[], Hlc]], list[CaseEvent]]:
    def build(tick: Callable[[], Hlc]) -> list[CaseEvent]:
        events: list[CaseEvent] = [
            Received(
                **base(case_id, node_id, tick()),
                item_code=item,
                catalog_version=1,
                applicant=applicant(),
                materials=(),
                channel=ReceiptChannel.WINDOW,
            ),
            Accepted(
                **base(case_id, node_id, tick()),
                receipt_no=receipt_no,
                query_check=make_query_check(case_id, receipt_no, CODE),
            ),
            Decided(**base(case_id, node_id, tick()), outcome=Outcome.APPROVE, reason=""),
        ]
        if certificate is not None:
            events.append(
                CertificateIssued(
                    **base(case_id, node_id, tick()),
                    certificate_no=certificate,
                    title="老年人优待证",
                    valid_until=today() + timedelta(days=3650),
                )
            )
        return events

    return build


@pytest.fixture
async def world(
    tmp_path: Path, demo_catalog_bytes: bytes, central_database_url: str | None
) -> AsyncIterator[World]:
    settings = CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(demo_catalog_bytes)
    await import_catalog(settings, catalog, by="test")
    token = (
        await issue_token(
            settings,
            node_id="zhen-shifan",
            name="示范镇便民服务中心",
            tier=Tier.TOWNSHIP,
            parent="county",
            short_code="SFZ",
            hours=1,
            by="test",
        )
    ).token
    async with opened(settings) as county:
        await county.registry.issue_token(
            NodeRecord(
                node_id="zhen-beishan",
                name="北山镇便民服务中心",
                tier=Tier.TOWNSHIP,
                parent="county",
                short_code="BSZ",
            ),
            by="test",
            hours=1,
        )
        await county.releases.publish(by="test")
        accounts = AccountService(PiccoloAccountStore(), county.releases.registry_now, _now)
        for username, role, home in USERS:
            await accounts.add_user(
                username=username,
                name=f"{username}姓名",
                roles=[role],
                home_node=home,
                department=None,
                password=PASSWORD,
            )
    async with AsyncTestClient(create_app(settings)) as client:
        township = NodeSettings(data_dir=tmp_path / "township", sync_interval=0)
        await init_node(
            township, parent_url="http://county", token=token, transport=forward_to(client)
        )
        case_id = str(uuid.uuid4())
        receipt_no = format_receipt_no("SFZ", today(), 7)
        certificate = format_certificate_no("SFZ", today().year, 1)
        async with node_opened(township) as replication:
            replication.client._transport = forward_to(client)
            await replication.replica.record(
                case_id,
                case_events(case_id, "zhen-shifan", "X19", receipt_no, certificate=certificate),
            )
            await replication.sync_now()
        yield World(settings, client, township, receipt_no, case_id, certificate)


def _now() -> datetime:
    return datetime.now(UTC)


async def csrf(client: Client) -> str:
    if not client.cookies.get("tongban_csrf"):
        await client.get("/portal")
    token = client.cookies.get("tongban_csrf")
    assert token
    return token


async def login(client: Client, username: str) -> None:
    client.cookies.clear()
    token = await csrf(client)
    answer = await client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": "/desk"},
        headers={"x-csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


async def post_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    return await client.post(path, json=body, headers={"x-csrftoken": await csrf(client)})


def problem_code(response: Any) -> str:
    return str(response.json()["code"])


# -- tracking, rating, complaints -------------------------------------------------------------


async def test_township_case_is_tracked_at_the_county_with_its_query_code(world: World) -> None:
    client = world.client
    track = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": world.receipt_no, "query_code": CODE}
    )
    assert track.status_code == 200, track.text
    body = track.json()
    assert body["receipt_no"] == world.receipt_no
    assert body["status"] == "approved"
    assert body["handling_tier"] == "township"
    assert body["handling_node_name"] == "示范镇便民服务中心"
    assert body["applicant_name"] == "王**"
    assert body["can_rate"] is True
    labels = [step["label"] for step in body["timeline"]]
    assert labels[:2] == ["收件", "受理"]
    assert "110101" not in track.text and "clerk" not in track.text

    # Lower case and full-width digits are the same number and code.
    fancy = await post_json(
        client,
        "/api/v1/portal/track",
        {"receipt_no": world.receipt_no.lower(), "query_code": "３１４１５９"},
    )
    assert fancy.status_code == 200

    wrong = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": world.receipt_no, "query_code": "000000"}
    )
    unknown_no = format_receipt_no("SFZ", today(), 8)
    unknown = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": unknown_no, "query_code": CODE}
    )
    assert wrong.status_code == unknown.status_code == 400
    assert problem_code(wrong) == problem_code(unknown) == "lookup_failed"
    assert wrong.json()["detail"] == unknown.json()["detail"]

    page = await client.post(
        "/portal/track",
        data={"receipt_no": world.receipt_no, "query_code": CODE},
        headers={"x-csrftoken": await csrf(client)},
    )
    assert page.status_code == 200
    assert "示范镇便民服务中心" in page.text and "准予许可" in page.text


async def test_failed_lookups_are_limited_per_address(world: World) -> None:
    client = world.client
    malformed = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": "SFZ-1", "query_code": "1"}
    )
    assert malformed.status_code == 400  # a malformed number is not counted
    for _ in range(10):
        answer = await post_json(
            client,
            "/api/v1/portal/track",
            {"receipt_no": world.receipt_no, "query_code": "111111"},
        )
        assert answer.status_code == 400
    limited = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": world.receipt_no, "query_code": CODE}
    )
    assert limited.status_code == 429
    assert problem_code(limited) == "lookup_rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json()["retry_after"] > 0
    page = await client.post(
        "/portal/track",
        data={"receipt_no": world.receipt_no, "query_code": CODE},
        headers={"x-csrftoken": await csrf(client)},
    )
    assert page.status_code == 429
    assert "分钟后再试" in page.text
    # Certificate lookups share the limit.
    lookup = await client.get(f"/api/v1/certificates/{world.node_certificate}")
    assert lookup.status_code == 429


async def test_rating_complaint_answer_and_reopen_round_trip(world: World) -> None:
    client = world.client
    who = {"receipt_no": world.receipt_no, "query_code": CODE}
    bad = await post_json(client, "/api/v1/portal/ratings", {**who, "level": 7})
    assert bad.status_code == 422
    rated = await post_json(
        client, "/api/v1/portal/ratings", {**who, "level": 5, "comment": "很好", "request_id": "r1"}
    )
    assert rated.status_code == 201, rated.text
    again = await post_json(
        client, "/api/v1/portal/ratings", {**who, "level": 5, "request_id": "r1"}
    )
    assert again.json()["event_id"] == rated.json()["event_id"]  # a double submit records once
    twice = await post_json(client, "/api/v1/portal/ratings", {**who, "level": 1})
    assert twice.status_code == 409 and problem_code(twice) == "rating_duplicate"

    empty = await post_json(client, "/api/v1/portal/complaints", {**who, "content": "  "})
    assert empty.status_code == 422
    filed = await post_json(
        client, "/api/v1/portal/complaints", {**who, "content": "窗口态度不好", "request_id": "c1"}
    )
    assert filed.status_code == 201, filed.text
    complaint_id = filed.json()["event_id"]
    dup = await post_json(
        client, "/api/v1/portal/complaints", {**who, "content": "窗口态度不好", "request_id": "c1"}
    )
    assert dup.json()["event_id"] == complaint_id
    early_reopen = await post_json(
        client, "/api/v1/portal/complaints", {**who, "content": "再投诉", "reopens": complaint_id}
    )
    assert early_reopen.status_code == 409

    # Anonymous and other roles may not see or answer complaints.
    client.cookies.clear()
    assert (await client.get("/api/v1/complaints")).status_code == 401
    assert (await client.get("/complaints", follow_redirects=False)).status_code in (302, 303)
    await login(client, "approver")
    assert (await client.get("/api/v1/complaints")).status_code == 403

    await login(client, "bs-jiancha")  # another township's supervisor
    assert (await client.get("/api/v1/complaints")).json() == []
    outside = await post_json(
        client,
        f"/api/v1/complaints/{world.case_id}/{complaint_id}/answer",
        {"answer": "已核实"},
    )
    assert outside.status_code == 403 and problem_code(outside) == "outside_subtree"

    await login(client, "sf-jiancha")
    listed = (await client.get("/api/v1/complaints")).json()
    assert [c["complaint_id"] for c in listed] == [complaint_id]
    assert listed[0]["content"] == "窗口态度不好"
    assert listed[0]["answer_due"] > today().isoformat()
    assert listed[0]["overdue"] is False
    page = await client.get("/complaints")
    assert page.status_code == 200 and "窗口态度不好" in page.text
    blank = await post_json(
        client, f"/api/v1/complaints/{world.case_id}/{complaint_id}/answer", {"answer": ""}
    )
    assert blank.status_code == 422
    answered = await post_json(
        client,
        f"/api/v1/complaints/{world.case_id}/{complaint_id}/answer",
        {"answer": "已批评教育窗口人员", "request_id": "a1"},
    )
    assert answered.status_code == 201, answered.text
    again_answer = await post_json(
        client,
        f"/api/v1/complaints/{world.case_id}/{complaint_id}/answer",
        {"answer": "再答复"},
    )
    assert again_answer.status_code == 409
    assert (await client.get("/api/v1/complaints")).json() == []

    client.cookies.clear()
    track = (await post_json(client, "/api/v1/portal/track", who)).json()
    [seen] = track["complaints"]
    assert seen["answered"] and seen["answer"] == "已批评教育窗口人员" and seen["can_reopen"]
    assert track["rating"] == 5 and track["can_rate"] is False

    reopened = await post_json(
        client,
        "/api/v1/portal/complaints",
        {**who, "content": "答复敷衍", "reopens": complaint_id, "request_id": "c2"},
    )
    assert reopened.status_code == 201, reopened.text
    second = await post_json(
        client, "/api/v1/portal/complaints", {**who, "content": "还不满意", "reopens": complaint_id}
    )
    assert second.status_code == 409 and problem_code(second) == "complaint_already_reopened"
    track = (await post_json(client, "/api/v1/portal/track", who)).json()
    first, new = track["complaints"]
    assert first["can_reopen"] is False
    assert new["reopens"] == complaint_id and not new["answered"] and new["answer_due"]

    await login(client, "supervisor")
    [open_one] = (await client.get("/api/v1/complaints")).json()
    assert open_one["reopens"] == complaint_id
    # The answer period is configurable by admin or supervisor, not by a clerk.
    assert (await client.get("/api/v1/complaints/settings")).json() == {"days": 10}
    changed = await client.put(
        "/api/v1/complaints/settings", json={"days": 5}, headers={"x-csrftoken": await csrf(client)}
    )
    assert changed.status_code == 200 and changed.json() == {"days": 5}
    await login(client, "clerk")
    refused = await client.put(
        "/api/v1/complaints/settings", json={"days": 3}, headers={"x-csrftoken": await csrf(client)}
    )
    assert refused.status_code == 403


# -- verification -----------------------------------------------------------------------------


def node_document(key: SigningKey, issuer: str, case_id: str, certificate: str) -> str:
    payload = DocumentPayload(
        issuer_node=issuer,
        issuer_name="示范镇便民服务中心",
        document_no=certificate,
        kind=DocumentKind.CERTIFICATE,
        case_id=case_id,
        receipt_no=None,
        issued_at=datetime.now(CHINA_TZ),
        certificate=CertificateContent(
            certificate_no=certificate,
            title="老年人优待证",
            holder="王秀英",
            item="老年人优待证办理",
            issued_on=today(),
            issuer="示范镇便民服务中心",
        ),
    )
    return encode_compact(sign_payload(key, payload))


def tampered(compact: str) -> str:
    signed = decode_compact(compact)
    forged = msgspec.structs.replace(
        signed, payload=signed.payload.replace("王秀英".encode(), "李四某".encode())
    )
    return encode_compact(forged)


async def verdict(client: Client, text: str) -> str:
    answer = await client.get("/api/v1/documents/verify", params={"d": text})
    assert answer.status_code == 200
    return str(answer.json()["verdict"])


async def test_node_documents_verify_at_the_county_until_the_node_is_revoked(
    world: World,
) -> None:
    client = world.client
    key = load_private_key(world.township.key_path)
    good = node_document(key, "zhen-shifan", world.case_id, world.node_certificate)
    assert await verdict(client, good) == "valid"
    assert await verdict(client, tampered(good)) == "bad_signature"
    stranger = node_document(SigningKey.generate(), "zhen-nowhere", world.case_id, "X")
    assert await verdict(client, stranger) == "unknown_issuer"
    assert await verdict(client, "tb1.garbage") == "malformed"
    page = await client.get("/verify", params={"d": good})
    assert page.status_code == 200 and 'data-verdict="valid"' in page.text

    lookup = await client.get(f"/api/v1/certificates/{world.node_certificate.lower()}")
    assert lookup.status_code == 200, lookup.text
    found = lookup.json()
    assert found["valid"] is True
    assert found["issuer_node"] == "zhen-shifan"
    assert found["item_code"] == "X19"
    assert found["holder"] == "王**"
    assert found["valid_until"]
    missing = await client.get(
        f"/api/v1/certificates/{format_certificate_no('SFZ', today().year, 99)}"
    )
    assert missing.status_code == 404 and problem_code(missing) == "certificate_not_found"
    assert (await client.get("/api/v1/certificates/SFZ-2026")).status_code == 400
    page = await client.get("/verify", params={"no": world.node_certificate})
    assert page.status_code == 200 and "老年人优待证" in page.text

    async with opened(world.settings) as county:
        await county.registry.set_status(
            "zhen-shifan", NodeStatus.REVOKED, reason="密钥泄露", by="test"
        )
    assert await verdict(client, good) == "revoked_issuer"
    after = (await client.get(f"/api/v1/certificates/{world.node_certificate}")).json()
    assert after["valid"] is False and after["issuer_withdrawn"] is True


# -- county certificates ----------------------------------------------------------------------


async def county_case(world: World, item: str = "X02") -> tuple[str, str]:
    case_id = str(uuid.uuid4())
    receipt_no = format_receipt_no("SFX", today(), 3)
    async with opened(world.settings) as county:
        await county.replica.record(
            case_id, case_events(case_id, "county", item, receipt_no, certificate=None)
        )
    return case_id, receipt_no


async def test_county_certificate_is_issued_signed_and_verifiable(world: World) -> None:
    client = world.client
    case_id, receipt_no = await county_case(world)
    path = f"/api/v1/cases/{case_id}/certificate"
    tracked = await post_json(
        client, "/api/v1/portal/track", {"receipt_no": receipt_no, "query_code": CODE}
    )
    assert tracked.json()["handling_tier"] == "county"

    client.cookies.clear()
    assert (await post_json(client, path, {})).status_code == 401
    await login(client, "supervisor")
    assert (await post_json(client, path, {})).status_code == 403
    await login(client, "approver")
    past = await post_json(client, path, {"valid_until": "2000-01-01"})
    assert past.status_code == 422
    assert (await client.get(path)).status_code == 404

    issued = await post_json(client, path, {"request_id": "i1"})
    assert issued.status_code == 201, issued.text
    body = issued.json()
    number = body["certificate_no"]
    county_code = number.split("-")[0]
    assert number == format_certificate_no(county_code, today().year, 1)
    assert body["document"]["issuer_node"] == "county"
    assert body["document"]["certificate"]["title"] == "食品经营许可证"
    assert body["verify_url"].startswith("/verify?d=tb1.")
    again = await post_json(client, path, {})
    assert again.json()["compact"] == body["compact"]  # a reprint is the same signed document

    assert await verdict(client, body["compact"]) == "valid"
    assert await verdict(client, tampered(body["compact"])) == "bad_signature"
    printed = await client.get(f"/cases/{case_id}/certificate")
    assert printed.status_code == 200
    assert number in printed.text and "<svg" in printed.text

    client.cookies.clear()
    found = (await client.get(f"/api/v1/certificates/{number}")).json()
    assert found["valid"] is True and found["issuer_node"] == "county"

    # The township's case: its certificate was issued there, and the county may not reissue it.
    await login(client, "clerk")
    elsewhere = await post_json(client, f"/api/v1/cases/{world.case_id}/certificate", {})
    assert elsewhere.status_code == 409
    assert problem_code(elsewhere) == "certificate_issued_elsewhere"
    # A township supervisor's home does not matter for clerks; an unknown case is 404.
    assert (
        await post_json(client, f"/api/v1/cases/{uuid.uuid4()}/certificate", {})
    ).status_code == 404


async def test_a_case_not_approved_gets_no_certificate_and_form_errors_show(world: World) -> None:
    client = world.client
    case_id = str(uuid.uuid4())
    receipt_no = format_receipt_no("SFX", today(), 4)

    def build(tick: Callable[[], Hlc]) -> list[CaseEvent]:
        return case_events(case_id, "county", "X02", receipt_no, certificate=None)(tick)[:2]

    async with opened(world.settings) as county:
        await county.replica.record(case_id, build)
    await login(client, "approver")
    refused = await post_json(client, f"/api/v1/cases/{case_id}/certificate", {})
    assert refused.status_code == 409 and problem_code(refused) == "certificate_not_approved"
    form = await client.post(
        f"/cases/{case_id}/certificate",
        data={"title": "食品经营许可证", "valid_until": "not a date"},
        headers={"x-csrftoken": await csrf(client)},
    )
    assert form.status_code == 422
    assert "年-月-日" in form.text and 'value="食品经营许可证"' in form.text

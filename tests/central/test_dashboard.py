"""Supervision pages, roles, subtrees, urges over HTTP and CSV/XLSX exports (both backends)."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from openpyxl import load_workbook

from central.api.dashboard import chart_available
from central.app import create_app
from central.commands import opened
from central.db.account_store import PiccoloAccountStore
from central.db.bulk_sql import insert_sql
from central.db.reconcile_sql import run
from central.db.sync_rows import ROW, row_values
from central.services.accounts import AccountService
from central.services.exports import ExportTable, to_csv, to_xlsx
from central.settings import CentralSettings
from shared.catalog import decode_catalog
from shared.credentials import hash_password
from shared.delegation import Tier
from shared.events import Accepted, Applicant, IdType, ReceiptChannel, Received
from shared.registry import NodeRecord
from shared.terms import CaseTerms, ProjectType
from tests.central.test_reconcile_support import accepted_case, at, project
from tests.conftest import FIXED_NOW

PASSWORD = "tongban-test-2026"
USERS = (
    ("supervisor", "supervisor", "county"),
    ("shifan-jiancha", "supervisor", "zhen-shifan"),
    ("clerk", "clerk", "county"),
    ("admin", "admin", "county"),
)
TERMS = CaseTerms(
    project_type=ProjectType.PROMISED,
    promised_days=5,
    statutory_days=20,
    extension_days=10,
    warning_days=1,
)
Client = TestClient[Any]
PAGES = (
    "/supervision",
    "/supervision/nodes/zhen-shifan",
    "/supervision/performance",
    "/supervision/urges",
    "/supervision/ratings",
    "/supervision/export/tree.csv",
)


@functools.cache
def _cached_hash(password: str) -> str:
    return hash_password(password)


@pytest.fixture(autouse=True)
def one_hash_per_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("central.services.accounts.hash_password", _cached_hash)


@pytest.fixture
def settings(tmp_path: Path, central_database_url: str | None) -> CentralSettings:
    return CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)


def _row(case_id: str, node: str, accepted: date) -> Any:
    events = [
        type(e)(**{**{f: getattr(e, f) for f in e.__struct_fields__}, "node_id": node})
        for e in accepted_case(case_id, accepted, "X19")
    ]
    return project(case_id, events, TERMS, FIXED_NOW)[1]


@pytest.fixture
def county(settings: CentralSettings, demo_catalog_bytes: bytes) -> str:
    """Two townships with a community each, three projected cases, a county case with events."""
    case_id = str(uuid.uuid4())

    async def build() -> None:
        async with opened(settings) as county:
            for node_id, name, tier, parent, code in (
                ("zhen-shifan", "示范镇", Tier.TOWNSHIP, "county", "SFZ"),
                ("she-dongcun", "东村社区", Tier.COMMUNITY, "zhen-shifan", "DCS"),
                ("zhen-beishan", "北山镇", Tier.TOWNSHIP, "county", "BSZ"),
                ("she-beicun", "北村社区", Tier.COMMUNITY, "zhen-beishan", "BCS"),
            ):
                record = NodeRecord(
                    node_id=node_id, name=name, tier=tier, parent=parent, short_code=code
                )
                await county.registry.issue_token(record, by="test", hours=1)
            await county.releases.publish(by="test", catalog=decode_catalog(demo_catalog_bytes))
            accounts = AccountService(
                PiccoloAccountStore(), county.releases.registry_now, lambda: FIXED_NOW
            )
            for username, role, home in USERS:
                await accounts.add_user(
                    username=username,
                    name=f"{username}姓名",
                    roles=[role],
                    home_node=home,
                    department=None,
                    password=PASSWORD,
                )
            engine = county.replica.store._engine  # type: ignore[attr-defined]
            for row in (
                _row("S1", "zhen-shifan", date(2026, 2, 16)),
                _row("S2", "she-dongcun", date(2026, 2, 26)),
                _row("B1", "zhen-beishan", date(2026, 2, 26)),
            ):
                await run(engine, insert_sql("case_row", ROW, 1), list(row_values(row)))
            base: dict[str, Any] = {"case_id": case_id, "node_id": "county", "actor": "w-1"}
            await county.replica.record(
                case_id,
                lambda tick: [
                    Received(
                        id=str(uuid.uuid4()),
                        hlc=tick(),
                        item_code="X02",
                        catalog_version=1,
                        applicant=Applicant(
                            name="李四", id_type=IdType.RESIDENT_ID, id_number="110101199001011234"
                        ),
                        materials=("M01",),
                        channel=ReceiptChannel.WINDOW,
                        **base,
                    ),
                    Accepted(id=str(uuid.uuid4()), hlc=tick(), receipt_no="XZX-0001", **base),
                ],
            )

    asyncio.run(build())
    return case_id


@pytest.fixture
def client(settings: CentralSettings, county: str) -> Iterator[Client]:
    with TestClient(create_app(settings, clock=lambda: FIXED_NOW)) as test_client:
        yield test_client


def csrf(client: Client) -> str:
    if not client.cookies.get("tongban_csrf"):
        client.get("/login")
    token = client.cookies.get("tongban_csrf")
    assert token
    return token


def login(client: Client, username: str) -> None:
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": "/desk"},
        headers={"x-csrftoken": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def post_form(client: Client, path: str, data: dict[str, Any]) -> Any:
    return client.post(
        path, data=data, headers={"x-csrftoken": csrf(client)}, follow_redirects=False
    )


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_rows(body: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


# ---------------------------------------------------------------- roles


def test_anonymous_is_sent_to_log_in_and_apis_answer_401(client: Client) -> None:
    for path in PAGES:
        response = client.get(path, follow_redirects=False, headers={"accept": "text/html"})
        assert response.status_code in (302, 303), path
        assert "/login" in response.headers["location"]
    assert client.get("/api/v1/supervision/urges").status_code == 401


@pytest.mark.parametrize("username", ["clerk", "admin"])
def test_other_roles_are_refused(client: Client, username: str) -> None:
    login(client, username)
    for path in PAGES:
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 403, path
        assert "电子监察" in response.text
    api = client.post(
        "/api/v1/supervision/urges",
        json={"target_kind": "case", "target": "S1", "content": "x", "request_id": "r"},
        headers={"x-csrftoken": csrf(client)},
    )
    assert api.status_code == 403
    assert (
        client.post(
            "/supervision/urges", data={}, headers={"x-csrftoken": csrf(client)}
        ).status_code
        == 403
    )


# ---------------------------------------------------------------- tree and subtree


def test_county_supervisor_sees_every_tier_with_lights(client: Client) -> None:
    login(client, "supervisor")
    page = client.get("/supervision")
    assert page.status_code == 200
    for name in ("示范镇", "东村社区", "北山镇", "北村社区"):
        assert name in page.text
    assert "绿灯" in page.text and "红灯" in page.text
    rows = {r[1]: r for r in csv_rows(client.get("/supervision/export/tree.csv").content)[1:]}
    # zhen-shifan's subtree: S1 (its own) and S2 (she-dongcun)
    assert rows["zhen-shifan"][6] == "2" and rows["she-dongcun"][6] == "1"
    assert rows["county"][6] == "4"  # every open case of the county, its own included
    assert (chart_available()) == ('src="/charts/echarts.min.js"' in page.text)
    assert 'id="chart-data"' in page.text


def test_township_supervisor_sees_only_its_subtree(client: Client) -> None:
    login(client, "shifan-jiancha")
    page = client.get("/supervision")
    assert page.status_code == 200
    assert "示范镇" in page.text and "东村社区" in page.text
    assert "北山镇" not in page.text and "北村社区" not in page.text
    assert client.get("/supervision/nodes/zhen-beishan").status_code == 403
    assert client.get("/supervision/nodes/she-dongcun").status_code == 200
    assert client.get("/supervision/cases/B1").status_code == 403
    assert client.get("/supervision/export/cases.csv?node=zhen-beishan").status_code == 403
    tree = csv_rows(client.get("/supervision/export/tree.csv").content)
    assert {r[1] for r in tree[1:]} == {"zhen-shifan", "she-dongcun"}
    performance = csv_rows(client.get("/supervision/export/performance.csv?day=2026-02-01").content)
    assert {r[0] for r in performance[1:]} == {"示范镇", "东村社区"}
    assert client.get("/supervision/performance").status_code == 200


def test_node_cases_light_filter_and_case_timeline(client: Client, county: str) -> None:
    login(client, "supervisor")
    page = client.get("/supervision/nodes/zhen-shifan")
    assert page.status_code == 200 and 'data-case="S1"' in page.text
    assert client.get("/supervision/nodes/zhen-shifan?light=purple").status_code == 404
    exported = csv_rows(client.get("/supervision/export/cases.csv?node=zhen-shifan").content)
    assert exported[0][0] == "办件编号" and [r[0] for r in exported[1:]] == ["S1"]
    timeline = client.get(f"/supervision/cases/{county}")
    assert timeline.status_code == 200
    assert "收件" in timeline.text and "XZX-0001" in timeline.text
    assert "110101199001011234" not in timeline.text
    assert client.get("/supervision/cases/no-such-case").status_code == 404


# ---------------------------------------------------------------- urges over HTTP


def test_urge_form_records_once_and_keeps_what_was_typed(client: Client, county: str) -> None:
    login(client, "supervisor")
    form = client.get("/supervision/urges")
    assert form.status_code == 200 and 'name="request_id"' in form.text
    bad = post_form(
        client,
        "/supervision/urges",
        {"target_kind": "case", "target": county, "level": "formal", "content": "",
         "feedback_days": "3", "request_id": "req-1"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "请填写督办内容" in bad.text and county in bad.text
    data = {
        "target_kind": "case",
        "target": county,
        "level": "formal",
        "content": "请尽快办结",
        "feedback_days": "3",
        "request_id": "req-2",
    }
    first = post_form(client, "/supervision/urges", data)
    assert first.status_code == 303, first.text[-3000:]
    assert post_form(client, "/supervision/urges", data).status_code == 303
    listed = client.get("/api/v1/supervision/urges").json()["urges"]
    assert len(listed) == 1 and listed[0]["case_id"] == county
    # three working days after the day the urge was recorded (the fixture's clock is real time)
    assert listed[0]["feedback_due"] >= "2026-03-05" and not listed[0]["answered"]
    page = client.get(f"/supervision/cases/{county}")
    assert "请尽快办结" in page.text
    rows = csv_rows(client.get("/supervision/export/urges.csv").content)
    assert rows[1][2] == county and rows[1][7] == "待反馈"


def test_township_supervisor_cannot_urge_outside_its_subtree(client: Client, county: str) -> None:
    login(client, "shifan-jiancha")
    api = client.post(
        "/api/v1/supervision/urges",
        json={"target_kind": "case", "target": county, "content": "x", "request_id": "r1"},
        headers={"x-csrftoken": csrf(client)},
    )
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    node = client.post(
        "/api/v1/supervision/urges",
        json={"target_kind": "node", "target": "zhen-beishan", "content": "x", "request_id": "r2"},
        headers={"x-csrftoken": csrf(client)},
    )
    assert node.status_code == 403
    assert client.get("/api/v1/supervision/urges").json() == {"urges": []}


# ---------------------------------------------------------------- performance and exports


def test_performance_page_and_every_export_parses_back(client: Client) -> None:
    login(client, "supervisor")
    page = client.get("/supervision/performance?grain=month&day=2026-02-01&group=node")
    assert page.status_code == 200
    assert "按时办结率" in page.text and "2026年2月" in page.text
    for query in ("group=tier", "group=department", "group=item", "group=total", "grain=week"):
        assert client.get(f"/supervision/performance?{query}").status_code == 200
    assert client.get("/supervision/performance?grain=year").status_code == 400
    assert client.get("/supervision/performance?metric=nope").status_code == 400
    for name in ("tree", "performance", "ranking", "trend", "urges", "ratings"):
        got_csv = client.get(f"/supervision/export/{name}.csv?day=2026-02-01")
        assert got_csv.status_code == 200, name
        assert got_csv.headers["content-type"].startswith("text/csv")
        as_csv = csv_rows(got_csv.content)
        got_xlsx = client.get(f"/supervision/export/{name}.xlsx?day=2026-02-01")
        assert got_xlsx.status_code == 200, name
        as_xlsx = xlsx_rows(got_xlsx.content)
        assert as_csv[0] == as_xlsx[0]
        assert len(as_csv) == len(as_xlsx)
    performance = csv_rows(client.get("/supervision/export/performance.csv?day=2026-02-01").content)
    by_group = {r[0]: r for r in performance[1:]}
    assert by_group["示范镇"][1] == "1" and by_group["东村社区"][1] == "1"
    assert client.get("/supervision/export/nothing.csv").status_code == 404
    assert client.get("/supervision/export/tree.pdf").status_code == 404
    assert post_form(client, "/supervision/performance/refresh", {}).status_code == 303


def test_ratings_page_and_refused_followup(client: Client) -> None:
    login(client, "supervisor")
    assert client.get("/supervision/ratings").status_code == 200
    missing = post_form(client, "/supervision/ratings/no-such", {"rectified_on": "2026-03-01"})
    assert missing.status_code == 404


def test_chart_library_is_served_only_when_installed(client: Client) -> None:
    login(client, "supervisor")
    response = client.get("/charts/echarts.min.js")
    assert response.status_code == (200 if chart_available() else 404)


def test_exports_neutralise_formulas_and_keep_chinese() -> None:
    table = ExportTable("t", "表", ["名称", "值"], [["=cmd()", 1], ["示范镇", None]])
    assert csv_rows(to_csv(table))[1:] == [["'=cmd()", "1"], ["示范镇", ""]]
    assert xlsx_rows(to_xlsx(table))[1:] == [["'=cmd()", 1], ["示范镇", None]]
    assert at(date(2026, 3, 2)).day == 2

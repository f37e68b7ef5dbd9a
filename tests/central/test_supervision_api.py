"""The supervision API and pages per role, subtree scoping with crafted rows, filters and rules."""

# ruff: noqa: F811 - fixtures imported from test_auth are requested by parameter name

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from central.db.bulk_sql import insert_sql
from central.db.engine import close_database, make_engine, open_database
from central.db.reconcile_sql import LIGHTS_TODAY, LIGHTS_W_TODAY, run, set_mark
from central.db.sync_rows import ROW, row_values
from central.settings import CentralSettings
from shared.hlc import Hlc
from sync.store import CaseRow
from tests.central.test_auth import (  # noqa: F401 - fixtures used by name
    Client,
    client,
    clock,
    county,
    login,
    one_hash_per_password,
    post_form,
    send_json,
    settings,
)

SEEN = datetime(2026, 3, 1, 8, tzinfo=UTC)
LIGHTS_DAY, LIGHTS_WD = date(2026, 3, 2), 1_000  # the day of the crafted lights, its ordinal
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DIGEST = hashlib.sha256(b"backdated").digest()

# case id, origin, handling, light, item, finished, overdue days, party
CASES = (
    ("c-red", "zhen-shifan", "zhen-shifan", "red", "X01", False, 3, None),
    ("c-yellow", "she-dongcun", "she-dongcun", "yellow", "X02", False, None, None),
    ("c-bei", "zhen-beishan", "zhen-beishan", "green", "X01", False, None, None),
    ("c-done", "zhen-beishan", "zhen-beishan", "green", "X01", True, None, None),
    ("c-party", "zhen-beishan", "county", "green", "X03", False, None, "she-dongcun"),
)


def case_row(case_id: str, origin: str, handling: str, light: str, item: str, done: bool) -> Any:
    return CaseRow(
        case_id=case_id,
        item_code=item,
        catalog_version=1,
        origin_node=origin,
        handling_node=handling,
        status="finished" if done else "accepted",
        receipt_no=f"R-{case_id}",
        applicant_name="李四",
        received_on=date(2026, 2, 2),
        accepted_on=date(2026, 2, 2),
        promised_due=date(2026, 2, 20),
        statutory_due=date(2026, 3, 20),
        due_provisional=False,
        paused=False,
        finished=done,
        light=light,
        flags=(),
        events_count=2,
        last_hlc=Hlc(1, 0),
        state_json=b"{}",
    )


@pytest.fixture
def crafted(settings: CentralSettings, county: None) -> None:
    """Case rows, their supervision state, an envelope and three signals."""

    async def build() -> None:
        engine = make_engine(settings.database_url, settings.sqlite_path)
        await open_database(engine)
        try:
            await set_mark(engine, LIGHTS_TODAY, LIGHTS_DAY.isoformat())
            await set_mark(engine, LIGHTS_W_TODAY, str(LIGHTS_WD))
            for case_id, origin, handling, light, item, done, overdue, party in CASES:
                row = case_row(case_id, origin, handling, light, item, done)
                await run(engine, insert_sql("case_row", ROW, 1), list(row_values(row)))
                if not done:
                    # Due on the working day ``overdue`` days before the lights' day (below).
                    await run(
                        engine,
                        "INSERT INTO supervision_case (case_id, node, item_code, light, "
                        "due, wd_due, card) VALUES ({}, {}, {}, {}, {}, {}, {})",
                        [
                            case_id,
                            handling,
                            item,
                            light,
                            LIGHTS_DAY - timedelta(days=overdue) if overdue else None,
                            LIGHTS_WD - overdue if overdue else None,
                            1 if overdue else 0,
                        ],
                    )
                for node in {origin, handling, party} - {None}:
                    await run(
                        engine,
                        "INSERT INTO case_party (case_id, node) VALUES ({}, {})",
                        [case_id, node],
                    )
            await run(
                engine,
                "INSERT INTO sync_log (pos, origin, seq, hash, prev, case_id, hlc_wall, "
                "hlc_counter, client_id, update_hash, body, sig, received_at) "
                "VALUES (1, 'zhen-shifan', 1, {}, {}, 'c-red', {}, 0, 1, {}, {}, {}, {})",
                [
                    DIGEST,
                    b"",
                    (SEEN - timedelta(days=10) - EPOCH) // timedelta(milliseconds=1),
                    DIGEST,
                    b"b",
                    b"s",
                    SEEN,
                ],
            )
            signals = (
                ("backdated", "high", "zhen-shifan", "c-red", "envelope", DIGEST.hex(), None),
                ("silent_node", "medium", "zhen-beishan", None, "node", "zhen-beishan", None),
                ("chain_gap", "medium", "she-dongcun", None, "node", "she-dongcun", SEEN),
            )
            for kind, severity, where, subject, evidence_kind, evidence, resolved in signals:
                await run(
                    engine,
                    "INSERT INTO supervision_signal (kind, severity, node, case_id, "
                    "evidence_kind, evidence, detail, first_seen, last_seen, resolved_at) "
                    "VALUES ({}, {}, {}, {}, {}, {}, 'crafted', {}, {}, {})",
                    [kind, severity, where, subject, evidence_kind, evidence, SEEN, SEEN, resolved],
                )
        finally:
            await close_database(engine)

    asyncio.run(build())


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [case["case_id"] for case in response.json()["cases"]]


APIS = (
    "/api/v1/supervision/cases",
    "/api/v1/supervision/cases/c-red",
    "/api/v1/supervision/signals",
    "/api/v1/supervision/signals/1",
    "/api/v1/supervision/rules",
)


@pytest.mark.usefixtures("crafted")
def test_roles_anonymous_and_forbidden(client: Client) -> None:
    for path in APIS:
        assert client.get(path).status_code == 401
    assert client.get("/supervision/signals", follow_redirects=False).status_code == 303
    for username in ("clerk", "catalog", "dept-zrzy"):
        login(client, username)
        for path in APIS:
            refused = client.get(path)
            assert refused.status_code == 403, (username, path)
            assert refused.json()["code"] == "role_required"
        assert client.get("/supervision/rules", headers={"accept": "text/html"}).status_code == 403
    for username in ("supervisor", "admin"):
        login(client, username)
        for path in APIS:
            assert client.get(path).status_code == 200, (username, path)
    # Only administrators change rules or start a reconciliation.
    login(client, "supervisor")
    assert send_json(client, "PUT", "/api/v1/supervision/rules", {"rules": {}}).status_code == 403
    assert send_json(client, "POST", "/api/v1/supervision/reconcile").status_code == 403
    assert post_form(client, "/supervision/rules", {"silent_hours": "5"}).status_code == 403


@pytest.mark.usefixtures("crafted")
def test_county_supervisor_sees_every_open_case_most_overdue_first(client: Client) -> None:
    login(client, "supervisor")
    listed = client.get("/api/v1/supervision/cases").json()
    assert listed["total"] == 4
    assert listed["cases"][0]["case_id"] == "c-red"
    red = listed["cases"][0]
    assert red["overdue_days"] == 3 and red["card"] == 1 and red["light"] == "red"
    assert set(ids(client.get("/api/v1/supervision/cases", params={"all": "1"}))) == {
        c[0] for c in CASES
    }


@pytest.mark.usefixtures("crafted")
def test_township_supervisor_sees_only_its_subtree(client: Client) -> None:
    login(client, "shifan-jiancha")
    # c-party is handled by the county but a community of the township took part in it.
    assert set(ids(client.get("/api/v1/supervision/cases"))) == {"c-red", "c-yellow", "c-party"}
    outside = client.get("/api/v1/supervision/cases", params={"node": "zhen-beishan"})
    assert outside.status_code == 403 and outside.json()["code"] == "outside_subtree"
    assert client.get("/api/v1/supervision/cases/c-bei").status_code == 403
    assert client.get("/api/v1/supervision/cases/c-party").status_code == 200
    signals = client.get("/api/v1/supervision/signals").json()["signals"]
    assert {s["node"] for s in signals} == {"zhen-shifan"}
    everything = client.get("/api/v1/supervision/signals", params={"open": "0"}).json()
    assert {s["node"] for s in everything["signals"]} == {"zhen-shifan", "she-dongcun"}
    silent = client.get("/api/v1/supervision/signals", params={"kind": "silent_node"})
    assert silent.json()["signals"] == []
    beishan_signal = next(
        s["id"] for s in _all_signals(client, "supervisor") if s["node"] == "zhen-beishan"
    )
    login(client, "shifan-jiancha")
    assert client.get(f"/api/v1/supervision/signals/{beishan_signal}").status_code == 403
    page = client.get("/supervision/signals")
    assert page.status_code == 200 and "zhen-beishan" not in page.text


def _all_signals(client: Client, username: str) -> list[dict[str, Any]]:
    login(client, username)
    found: list[dict[str, Any]] = client.get(
        "/api/v1/supervision/signals", params={"open": "0"}
    ).json()["signals"]
    return found


@pytest.mark.usefixtures("crafted")
def test_case_filters_paging_and_bad_parameters(client: Client) -> None:
    login(client, "supervisor")
    get = client.get
    assert ids(get("/api/v1/supervision/cases", params={"light": "red"})) == ["c-red"]
    assert ids(get("/api/v1/supervision/cases", params={"light": "yellow"})) == ["c-yellow"]
    assert ids(get("/api/v1/supervision/cases", params={"overdue": "1"})) == ["c-red"]
    assert set(ids(get("/api/v1/supervision/cases", params={"item": "X01"}))) == {"c-red", "c-bei"}
    by_node = get("/api/v1/supervision/cases", params={"node": "zhen-beishan"})
    assert set(ids(by_node)) == {"c-bei", "c-party"}
    first = get("/api/v1/supervision/cases", params={"per_page": 2, "page": 1}).json()
    second = get("/api/v1/supervision/cases", params={"per_page": 2, "page": 2}).json()
    assert first["total"] == second["total"] == 4
    assert len(first["cases"]) == len(second["cases"]) == 2
    assert {c["case_id"] for c in first["cases"]}.isdisjoint(
        {c["case_id"] for c in second["cases"]}
    )
    bad = get("/api/v1/supervision/cases", params={"light": "blue", "per_page": 999})
    assert bad.status_code == 422
    detail = " ".join(bad.json()["problems"]) if "problems" in bad.json() else bad.text
    assert "亮灯" in detail and "每页" in detail
    assert get("/api/v1/supervision/cases/nope").status_code == 404


@pytest.mark.usefixtures("crafted")
def test_signals_filters_and_evidence(client: Client) -> None:
    login(client, "supervisor")
    open_signals = client.get("/api/v1/supervision/signals").json()["signals"]
    assert {s["kind"] for s in open_signals} == {"backdated", "silent_node"}
    with_resolved = client.get("/api/v1/supervision/signals", params={"open": "0"}).json()
    assert len(with_resolved["signals"]) == 3
    by_node = client.get("/api/v1/supervision/signals", params={"node": "zhen-beishan"}).json()
    assert [s["kind"] for s in by_node["signals"]] == ["silent_node"]
    backdated = next(s for s in open_signals if s["kind"] == "backdated")
    detail = client.get(f"/api/v1/supervision/signals/{backdated['id']}").json()
    evidence = detail["evidence"]
    assert evidence["found"] is True and evidence["origin"] == "zhen-shifan"
    assert evidence["case_id"] == "c-red" and evidence["lag_hours"] == 240.0
    assert evidence["case_url"] == "/api/v1/supervision/cases/c-red"
    case = client.get(evidence["case_url"]).json()
    assert [s["kind"] for s in case["signals"]] == ["backdated"]
    assert case["parties"] == ["zhen-shifan"]
    unknown = client.get("/api/v1/supervision/signals", params={"kind": "nonsense"})
    assert unknown.status_code == 422 and "没有这种监察信号" in unknown.text
    assert client.get("/api/v1/supervision/signals/9999").status_code == 404
    page = client.get("/supervision/signals", params={"open": "0"})
    assert page.status_code == 200
    assert f'href="/api/v1/supervision/signals/{backdated["id"]}"' in page.text
    assert 'href="/api/v1/supervision/cases/c-red"' in page.text
    assert "倒签记录" in page.text


@pytest.mark.usefixtures("crafted")
def test_rules_read_change_validate_and_reset(client: Client) -> None:
    login(client, "supervisor")
    rules = {r["name"]: r for r in client.get("/api/v1/supervision/rules").json()["rules"]}
    assert rules["silent_hours"]["value"] == 72 and rules["silent_hours"]["default"] == 72
    read_only = client.get("/supervision/rules")
    assert (
        "修改需要系统管理员角色" in read_only.text and 'name="silent_hours"' not in read_only.text
    )

    login(client, "admin")
    changed = send_json(
        client,
        "PUT",
        "/api/v1/supervision/rules",
        {
            "rules": {"silent_hours": 24, "yellow_card_after": 8, "red_card_after": 10},
            "items": {"X01": 3},
        },
    )
    assert changed.status_code == 200, changed.text
    values = {r["name"]: r for r in changed.json()["rules"]}
    assert values["silent_hours"]["value"] == 24
    assert values["yellow_card_after"]["value"] == 8 and values["red_card_after"]["value"] == 10
    assert values["warning_days"]["per_item"] == {"X01": 3}

    refused = send_json(
        client,
        "PUT",
        "/api/v1/supervision/rules",
        {"rules": {"silent_hours": 0, "red_card_after": 2, "nope": 1, "backlog_min_open": "x"}},
    )
    assert refused.status_code == 422
    text = refused.text
    for expected in ("节点失联告警", "没有名为 nope", "必须是整数", "发红牌的超期天数不能少于"):
        assert expected in text
    after = {r["name"]: r["value"] for r in client.get("/api/v1/supervision/rules").json()["rules"]}
    assert after["silent_hours"] == 24 and after["red_card_after"] == 10  # nothing written

    reset = send_json(
        client,
        "PUT",
        "/api/v1/supervision/rules",
        {"rules": {"silent_hours": None}, "items": {"X01": None}},
    )
    values = {r["name"]: r for r in reset.json()["rules"]}
    assert values["silent_hours"]["value"] == 72 and values["warning_days"]["per_item"] == {}


@pytest.mark.usefixtures("crafted")
def test_rules_form_keeps_what_was_typed_and_saves(client: Client) -> None:
    login(client, "admin")
    form = client.get("/supervision/rules")
    assert 'name="silent_hours" value="72"' in form.text
    bad = post_form(client, "/supervision/rules", {"silent_hours": "abc", "red_card_after": "5"})
    assert bad.status_code == 422
    assert "必须是整数" in bad.text and 'value="abc"' in bad.text
    good = post_form(
        client,
        "/supervision/rules",
        {"silent_hours": "48", "red_card_after": "5", "item_code": "X02", "item_days": "2"},
    )
    assert good.status_code == 303 and good.headers["location"] == "/supervision/rules?saved=1"
    again = post_form(client, "/supervision/rules", {"silent_hours": "48", "red_card_after": "5"})
    assert again.status_code == 303  # a repeated submission changes nothing and is fine
    values = {r["name"]: r for r in client.get("/api/v1/supervision/rules").json()["rules"]}
    assert values["silent_hours"]["value"] == 48
    assert values["warning_days"]["per_item"] == {"X02": 2}
    # Emptied fields go back to their defaults.
    post_form(client, "/supervision/rules", {"silent_hours": "", "red_card_after": ""})
    values = {r["name"]: r for r in client.get("/api/v1/supervision/rules").json()["rules"]}
    assert values["silent_hours"]["value"] == 72


@pytest.mark.usefixtures("crafted")
def test_admin_runs_a_reconciliation_now(client: Client) -> None:
    login(client, "admin")
    first = send_json(client, "POST", "/api/v1/supervision/reconcile")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["run"] == 1 and body["open_signals"] >= 1
    second = send_json(client, "POST", "/api/v1/supervision/reconcile").json()
    assert second["run"] == 2

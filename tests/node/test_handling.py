"""Case handling after intake: the service and its JSON API, per action, role and status."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from node.api.auth import CSRF_COOKIE
from node.app import create_app
from node.identity import NodeIdentity
from node.services.accounts import Role
from node.services.handling import (
    Action,
    ActionResult,
    AfterCorrection,
    CertificateIn,
    CorrectionIn,
    DecisionIn,
    DeferredSuppliedIn,
    DeliveryIn,
    ExtensionIn,
    ForwardIn,
    HandlingService,
    PauseIn,
    ResumeIn,
    ReviewIn,
    UrgeAnswerIn,
    WithdrawalIn,
    available_actions,
)
from node.settings import NodeSettings
from node.storage.database import NodeDatabase
from node.storage.handling_store import HandlingStore
from node.storage.intake_store import IntakeStore
from shared.case_state import CaseState, CaseStatus, FlagCode
from shared.catalog import Catalog
from shared.delegation import Tier
from shared.errors import ConflictError, NotFoundError, PlatformError
from shared.event_parts import DeferredMaterial, MissingMaterial
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    CorrectionRequested,
    DeliveryMethod,
    ForwardMode,
    IdType,
    Opinion,
    Outcome,
    ProcedureKind,
    ReceiptChannel,
    Received,
)
from shared.hlc import Hlc
from shared.receipts import parse_certificate_no, parse_receipt_no
from sync.projection import decode_view
from sync.replica import Replica
from tests.conftest import FIXED_NOW
from tests.node.conftest import parent_down
from tests.node.test_auth_pages import add_staff, csrf_token, log_in
from tests.sync.tree import CATALOG, accepted, build_tree, forwarded, new_case_id, received, urged

Client = TestClient[Litestar]
ID_NUMBER = "110101194501011234"
ALL_ROLES = frozenset({Role.CLERK, Role.REVIEWER, Role.APPROVER})
USERS = {"clerk1": "clerk", "rev1": "reviewer", "app1": "approver", "adm1": "admin"}
ROLE_USER = {Role.CLERK: "clerk1", Role.REVIEWER: "rev1", Role.APPROVER: "app1"}


@pytest.fixture
def client(township: NodeSettings) -> Iterator[Client]:
    for name, role in USERS.items():
        add_staff(township, name, role)
    app = create_app(township, clock=lambda: FIXED_NOW, prober=parent_down)
    with TestClient(app) as test_client:
        yield test_client


def as_user(client: Client, username: str) -> Client:
    assert log_in(client, username).status_code == 303
    return client


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    token = client.cookies.get(CSRF_COOKIE) or csrf_token(client)
    return client.post(path, json=body, headers={"x-csrftoken": token})


def new_case(client: Client, item: str, decision: str = "accept", **extra: Any) -> dict[str, Any]:
    as_user(client, "clerk1")
    body: dict[str, Any] = {
        "item_code": item,
        "applicant": {"name": "王秀英", "id_type": "resident_id", "id_number": ID_NUMBER},
        "materials": [],
        "decision": decision,
    }
    body.update(extra)
    response = post(client, "/api/v1/cases", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(client: Client, user: str, case_id: str, action: str, body: dict[str, Any]) -> Any:
    as_user(client, user)
    return post(client, f"/api/v1/cases/{case_id}/{action}", body)


def detail(client: Client, case_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def accepted_x05(client: Client) -> str:
    return str(new_case(client, "X05", materials=["M01"])["case_id"])


# -- correction received --------------------------------------------------------------------


def test_correction_received_then_accepted_gets_a_receipt_number_as_at_intake(
    client: Client,
) -> None:
    first = new_case(client, "X05", materials=["M01"])
    case = new_case(client, "X05", "correction")
    assert case["status"] == "awaiting_correction"
    body = {"materials": ["M01"], "decision": "accept", "request_id": "corr-1"}
    response = act(client, "clerk1", case["case_id"], "correction-received", body)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["status"] == "accepted" and result["status_label"] == "已受理（办理中）"
    assert parse_receipt_no(result["receipt_no"]).serial == 2  # after the first case's 1
    assert parse_receipt_no(first["receipt_no"]).serial == 1
    assert len(result["query_code"]) == 6 and len(result["event_ids"]) == 2
    again = act(client, "clerk1", case["case_id"], "correction-received", body)
    assert again.json() == result
    labels = [e["label"] for e in detail(client, case["case_id"])["timeline"]]
    assert labels == ["收件", "一次性告知补正", "收到补正材料", "受理"]


def test_correction_received_still_missing_is_refused_with_every_problem(client: Client) -> None:
    case = new_case(client, "X09", "correction", materials=["M03"])
    body = {"materials": ["M03", "M99"], "decision": "accept"}
    response = act(client, "clerk1", case["case_id"], "correction-received", body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "handling_invalid"
    assert any("M99" in p for p in problem["problems"])
    assert any("M01" in p and "仍未补正" in p for p in problem["problems"])
    deferred = {
        "materials": ["M01"],
        "decision": "accept",
        "deferred": [{"code": "M04", "due": "2026-03-20"}],
    }
    no_commitment = act(client, "clerk1", case["case_id"], "correction-received", deferred)
    assert no_commitment.status_code == 422
    assert "书面承诺" in no_commitment.json()["detail"]
    ok = act(
        client,
        "clerk1",
        case["case_id"],
        "correction-received",
        {**deferred, "commitment": "本人承诺3月20日前补齐"},
    )
    assert ok.status_code == 201, ok.text
    assert detail(client, case["case_id"])["deferred_outstanding"] == ["M04"]


def test_correction_received_then_refused(client: Client) -> None:
    case = new_case(client, "X05", "correction")
    missing_reason = {"materials": ["M01"], "decision": "refuse"}
    response = act(client, "clerk1", case["case_id"], "correction-received", missing_reason)
    assert response.status_code == 422 and "不予受理理由不能为空" in response.json()["problems"]
    body = {**missing_reason, "reason": "补正材料仍不符合法定形式"}
    response = act(client, "clerk1", case["case_id"], "correction-received", body)
    assert response.status_code == 201 and response.json()["status"] == "refused"
    assert response.json()["receipt_no"] is None


def test_correction_received_on_an_accepted_case_is_a_conflict(client: Client) -> None:
    case_id = accepted_x05(client)
    body = {"materials": ["M01"], "decision": "accept"}
    response = act(client, "clerk1", case_id, "correction-received", body)
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_in_status"
    assert "已受理" in response.json()["detail"]


# -- review, pause, extension ---------------------------------------------------------------


def test_review_opinion_of_the_implementing_department(client: Client) -> None:
    case_id = accepted_x05(client)
    bad = act(client, "rev1", case_id, "review", {"opinion": "disagree"})
    assert bad.status_code == 422 and "意见说明" in bad.json()["detail"]
    other = act(client, "rev1", case_id, "review", {"opinion": "agree", "department": "gaj"})
    assert other.status_code == 422 and "实施部门" in other.json()["detail"]
    ok = act(client, "rev1", case_id, "review", {"opinion": "agree", "comment": "材料真实"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "accepted"
    assert detail(client, case_id)["timeline"][-1]["label"] == "部门审查意见"


def test_joint_item_is_approved_only_after_every_department_agrees(client: Client) -> None:
    case_id = str(new_case(client, "Z02", materials=["M01", "M03", "M04", "M05"])["case_id"])
    early = act(client, "app1", case_id, "decision", {"outcome": "approve"})
    assert early.status_code == 409 and early.json()["code"] == "reviews_incomplete"
    assert "zrzy" in early.json()["detail"] and "nync" in early.json()["detail"]
    for department in ("sfz", "zrzy", "nync"):
        body = {"opinion": "agree", "department": department}
        assert act(client, "rev1", case_id, "review", body).status_code == 201
    approved = act(client, "app1", case_id, "decision", {"outcome": "approve"})
    assert approved.status_code == 201 and approved.json()["status"] == "approved"


def test_pause_and_resume_a_special_procedure(client: Client) -> None:
    case_id = str(new_case(client, "Z01", materials=["M01", "M03"])["case_id"])
    unlisted = act(client, "rev1", case_id, "pause", {"procedure": "hearing", "reason": "听证"})
    assert unlisted.status_code == 422 and "未列明" in unlisted.json()["detail"]
    body = {"procedure": "publicity", "reason": "宅基地申请村内公示", "notified_on": "2026-03-02"}
    paused = act(client, "rev1", case_id, "pause", body)
    assert paused.status_code == 201, paused.text
    assert paused.json()["status"] == "paused"
    twice = act(client, "rev1", case_id, "pause", body)
    assert twice.status_code == 409 and "进行中的特别程序" in twice.json()["detail"]
    resumed = act(client, "rev1", case_id, "resume", {"result": "公示无异议"})
    assert resumed.status_code == 201 and resumed.json()["status"] == "accepted"
    again = act(client, "rev1", case_id, "resume", {"result": "公示无异议"})
    assert again.status_code == 409
    blank = act(client, "rev1", case_id, "resume", {"result": " "})
    assert blank.status_code == 409  # not paused: the status is judged before the input


def test_one_extension_within_the_item_allowance(client: Client) -> None:
    case_id = accepted_x05(client)
    base = {"approver": "县林业局负责人", "reason": "需现场核实林木蓄积"}
    too_long = act(client, "app1", case_id, "extension", {**base, "days": 11})
    assert too_long.status_code == 422 and "10 日" in too_long.json()["detail"]
    ok = act(client, "app1", case_id, "extension", {**base, "days": 10})
    assert ok.status_code == 201, ok.text
    second = act(client, "app1", case_id, "extension", {**base, "days": 2})
    assert second.status_code == 409 and second.json()["code"] == "extension_used"
    no_allowance = str(new_case(client, "X19", materials=[])["case_id"])
    refused = act(client, "app1", no_allowance, "extension", {**base, "days": 1})
    assert refused.status_code == 422 and "不允许延长" in refused.json()["detail"]


# -- decision, certificate, delivery, withdrawal ---------------------------------------------


def test_decide_issue_certificate_and_deliver(client: Client) -> None:
    case_id = accepted_x05(client)
    early = act(client, "app1", case_id, "certificate", {})
    assert early.status_code == 409 and "准予许可后" in early.json()["detail"]
    undelivered = act(client, "clerk1", case_id, "delivery", {"method": "window"})
    assert undelivered.status_code == 409
    deny = act(client, "app1", case_id, "decision", {"outcome": "deny", "reason": " "})
    assert deny.status_code == 422 and deny.json()["problems"] == ["不予许可必须说明理由"]
    ok = act(client, "app1", case_id, "decision", {"outcome": "approve"})
    assert ok.status_code == 201 and ok.json()["status"] == "approved"
    twice = act(client, "app1", case_id, "decision", {"outcome": "deny", "reason": "重复"})
    assert twice.status_code == 409
    cert = act(client, "app1", case_id, "certificate", {"valid_until": "2027-03-01"})
    assert cert.status_code == 201, cert.text
    number = parse_certificate_no(cert.json()["certificate_no"])
    assert (number.issuer_code, number.year, number.serial) == ("SFZ", 2026, 1)
    again = act(client, "app1", case_id, "certificate", {})
    assert again.status_code == 409 and again.json()["code"] == "certificate_issued"
    delivered = act(client, "clerk1", case_id, "delivery", {"method": "mail"})
    assert delivered.status_code == 201 and delivered.json()["status"] == "delivered"
    other = accepted_x05(client)
    act(client, "app1", other, "decision", {"outcome": "approve"})
    second = act(client, "app1", other, "certificate", {"title": "林木采伐许可证"})
    assert parse_certificate_no(second.json()["certificate_no"]).serial == 2


def test_withdrawal_before_a_result_only(client: Client) -> None:
    case_id = accepted_x05(client)
    response = act(client, "clerk1", case_id, "withdrawal", {"reason": "申请人书面申请撤回"})
    assert response.status_code == 201 and response.json()["status"] == "withdrawn"
    again = act(client, "clerk1", case_id, "withdrawal", {})
    assert again.status_code == 409 and "已撤回" in again.json()["detail"]


def test_deferred_materials_supplied(client: Client) -> None:
    case = new_case(
        client,
        "X09",
        materials=["M01", "M03"],
        deferred=[{"code": "M04", "due": "2026-03-20"}],
        commitment="本人承诺按期补齐",
    )
    unknown = act(client, "clerk1", case["case_id"], "deferred-supplied", {"codes": ["M01"]})
    assert unknown.status_code == 422 and "不是待补齐的容缺材料" in unknown.json()["detail"]
    ok = act(client, "clerk1", case["case_id"], "deferred-supplied", {"codes": ["M04"]})
    assert ok.status_code == 201, ok.text
    assert detail(client, case["case_id"])["deferred_outstanding"] == []
    none_left = act(client, "clerk1", case["case_id"], "deferred-supplied", {"codes": ["M04"]})
    assert none_left.status_code == 409 and none_left.json()["code"] == "nothing_deferred"


def test_escalated_case_is_handled_by_the_parent_from_then_on(client: Client) -> None:
    case_id = accepted_x05(client)
    blank = act(client, "rev1", case_id, "forward", {"mode": "escalate", "reason": ""})
    assert blank.status_code == 422
    body = {"mode": "escalate", "reason": "情况复杂，报县林业局决定"}
    response = act(client, "rev1", case_id, "forward", body)
    assert response.status_code == 201, response.text
    assert response.json()["handling_node"] == "county"
    decided = act(client, "app1", case_id, "decision", {"outcome": "approve"})
    assert decided.status_code == 409 and decided.json()["code"] == "case_handled_elsewhere"
    assert "示范县政务服务中心" in decided.json()["detail"]
    # the reception point still takes the applicant's withdrawal
    withdrawn = act(client, "clerk1", case_id, "withdrawal", {})
    assert withdrawn.status_code == 201


def test_unknown_case_and_unknown_urge_are_not_found(client: Client) -> None:
    missing = act(client, "app1", str(uuid.uuid4()), "decision", {"outcome": "approve"})
    assert missing.status_code == 404 and missing.json()["code"] == "case_not_found"
    case_id = accepted_x05(client)
    urge = act(client, "clerk1", case_id, "urges/u9/answer", {"answer": "已加快办理"})
    assert urge.status_code == 404 and urge.json()["code"] == "urge_not_found"


def test_a_malformed_body_is_refused_in_chinese(client: Client) -> None:
    case_id = accepted_x05(client)
    response = act(client, "app1", case_id, "decision", {"outcome": "maybe"})
    assert response.status_code == 400
    assert response.json()["title"] == "请求内容不符合要求"


def test_double_submit_records_one_event(client: Client) -> None:
    case_id = accepted_x05(client)
    body = {"outcome": "approve", "request_id": "dec-7"}
    first = act(client, "app1", case_id, "decision", body)
    second = act(client, "app1", case_id, "decision", body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert [e["label"] for e in detail(client, case_id)["timeline"]].count("作出决定") == 1


# -- roles ----------------------------------------------------------------------------------

ROUTES: dict[Action, tuple[str, dict[str, Any]]] = {
    Action.CORRECTION_RECEIVED: (
        "correction-received",
        {"materials": ["M01"], "decision": "accept"},
    ),
    Action.REVIEW: ("review", {"opinion": "agree"}),
    Action.PAUSE: ("pause", {"procedure": "other", "reason": "x"}),
    Action.RESUME: ("resume", {"result": "x"}),
    Action.EXTENSION: ("extension", {"days": 1, "approver": "x", "reason": "x"}),
    Action.DECISION: ("decision", {"outcome": "approve"}),
    Action.CERTIFICATE: ("certificate", {}),
    Action.DELIVERY: ("delivery", {"method": "window"}),
    Action.WITHDRAWAL: ("withdrawal", {}),
    Action.DEFERRED_SUPPLIED: ("deferred-supplied", {"codes": ["M04"]}),
    Action.FORWARD: ("forward", {"mode": "forward", "reason": "x"}),
    Action.URGE_ANSWER: ("urges/u1/answer", {"answer": "x"}),
}


def test_every_route_refuses_the_roles_it_does_not_name(client: Client) -> None:
    case_id = accepted_x05(client)
    before = detail(client, case_id)["timeline"]
    for action, (path, body) in ROUTES.items():
        duties = {duty.value for duty in action.roles}
        forbidden = [ROLE_USER[r] for r in ROLE_USER if r.value not in duties] + ["adm1"]
        for user in forbidden:
            response = act(client, user, case_id, path, body)
            assert response.status_code == 403, (action, user, response.text)
            assert response.json()["code"] == "role_required"
            assert "需要" in response.json()["detail"]
    assert detail(client, case_id)["timeline"] == before


def test_every_route_wants_a_login(client: Client) -> None:
    case_id = accepted_x05(client)
    client.post("/logout", headers={"x-csrftoken": client.cookies.get(CSRF_COOKIE) or ""})
    client.cookies.delete("tongban_session")
    for path, body in ROUTES.values():
        response = post(client, f"/api/v1/cases/{case_id}/{path}", body)
        assert response.status_code == 401, (path, response.text)


def test_the_routes_are_in_the_openapi_schema(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path, _ in ROUTES.values():
        assert f"/api/v1/cases/{{case_id}}/{path.replace('u1', '{urge_id}')}" in paths
    assert not any("/actions/" in p for p in paths)


# -- the pure helper ------------------------------------------------------------------------


def _state(status: CaseStatus, **extra: Any) -> CaseState:
    return CaseState(case_id="c", status=status, **extra)


def test_available_actions_follow_status_and_roles() -> None:
    accepted_state = _state(CaseStatus.ACCEPTED)
    assert available_actions(accepted_state, {Role.CLERK}) == [Action.WITHDRAWAL, Action.FORWARD]
    assert available_actions(accepted_state, {Role.REVIEWER}) == [
        Action.REVIEW,
        Action.PAUSE,
        Action.FORWARD,
    ]
    assert available_actions(accepted_state, {Role.APPROVER}) == [
        Action.EXTENSION,
        Action.DECISION,
    ]
    assert available_actions(accepted_state, {Role.ADMIN}) == []
    extended = _state(CaseStatus.PAUSED, extension_days=5)
    assert Action.EXTENSION not in available_actions(extended, ALL_ROLES)
    assert Action.RESUME in available_actions(extended, ALL_ROLES)
    approved = _state(CaseStatus.APPROVED, outcome=Outcome.APPROVE, finished=True)
    assert available_actions(approved, ALL_ROLES) == [Action.CERTIFICATE, Action.DELIVERY]
    issued = _state(CaseStatus.DELIVERED, outcome=Outcome.APPROVE, certificates=("SFZ-1",))
    assert available_actions(issued, ALL_ROLES) == []
    waiting = _state(CaseStatus.AWAITING_CORRECTION)
    assert available_actions(waiting, {Role.CLERK})[0] is Action.CORRECTION_RECEIVED
    owed = DeferredMaterial(code="M04", name="x", due=date(2026, 3, 20))
    delivered = _state(CaseStatus.DELIVERED, deferred_outstanding=(owed,))
    assert available_actions(delivered, {Role.CLERK}) == [Action.DEFERRED_SUPPLIED]


# -- the service on a bare replica: invariant and the township as parent --------------------


class _Catalog:
    def catalog_for(self, version: int) -> Catalog | None:
        return CATALOG if version == 1 else None


def _identity(node_id: str) -> NodeIdentity:
    names = {"zhen-shifan": ("示范镇便民服务中心", Tier.TOWNSHIP, "SFZ")}
    names["she-dongcun"] = ("东村社区便民服务站", Tier.COMMUNITY, "DCS")
    name, tier, code = names[node_id]
    return NodeIdentity(
        node_id=node_id,
        name=name,
        tier=tier,
        short_code=code,
        parent_url="http://parent.test",
        county_key="",
        created_at=FIXED_NOW,
    )


def _service(replica: Replica, node_id: str, folder: Path) -> tuple[HandlingService, NodeDatabase]:
    database = NodeDatabase(folder / f"{node_id}.sqlite")
    service = HandlingService(
        replica,
        _Catalog(),
        _identity(node_id),
        HandlingStore(database),
        lambda: FIXED_NOW,
        intake_store=IntakeStore(database),
    )
    return service, database


APPLICANT = Applicant(name="王秀英", id_type=IdType.RESIDENT_ID, id_number=ID_NUMBER)


def _opening(
    case_id: str, node_id: str, correction: bool
) -> Callable[[Callable[[], Hlc]], list[CaseEvent]]:
    def build(tick: Callable[[], Hlc]) -> list[CaseEvent]:
        def base() -> dict[str, Any]:
            return {
                "id": str(uuid.uuid4()),
                "case_id": case_id,
                "node_id": node_id,
                "actor": "t",
                "hlc": tick(),
            }

        events: list[CaseEvent] = [
            Received(
                **base(),
                item_code="X09",
                catalog_version=1,
                applicant=APPLICANT,
                materials=("M01", "M03"),
                channel=ReceiptChannel.WINDOW,
            )
        ]
        if correction:
            missing = MissingMaterial(code="M04", name="收入证明", requirement="原件1份")
            events.append(CorrectionRequested(**base(), missing=(missing,)))
        else:
            owed = DeferredMaterial(code="M04", name="收入证明", due=date(2026, 3, 20))
            events.append(
                Accepted(
                    **base(), receipt_no="SFZ-20260302-0099-0", deferred=(owed,), commitment="承诺"
                )
            )
        return events

    return build


ATTEMPTS: dict[Action, Any] = {
    Action.CORRECTION_RECEIVED: CorrectionIn(materials=("M04",), decision=AfterCorrection.ACCEPT),
    Action.REVIEW: ReviewIn(opinion=Opinion.AGREE),
    Action.PAUSE: PauseIn(procedure=ProcedureKind.PUBLICITY, reason="公示"),
    Action.RESUME: ResumeIn(result="无异议"),
    Action.EXTENSION: ExtensionIn(days=5, approver="负责人", reason="复杂"),
    Action.DECISION: DecisionIn(outcome=Outcome.APPROVE),
    Action.CERTIFICATE: CertificateIn(),
    Action.DELIVERY: DeliveryIn(method=DeliveryMethod.WINDOW),
    Action.WITHDRAWAL: WithdrawalIn(),
    Action.DEFERRED_SUPPLIED: DeferredSuppliedIn(codes=("M04",)),
    Action.FORWARD: ForwardIn(mode=ForwardMode.ESCALATE, reason="报县"),
}


async def _attempt(service: HandlingService, case_id: str, action: Action) -> None:
    data = ATTEMPTS[action]
    method: dict[Action, Callable[..., Awaitable[ActionResult]]] = {
        Action.CORRECTION_RECEIVED: service.correction_received,
        Action.REVIEW: service.review,
        Action.PAUSE: service.pause,
        Action.RESUME: service.resume,
        Action.EXTENSION: service.extend,
        Action.DECISION: service.decide,
        Action.CERTIFICATE: service.issue_certificate,
        Action.DELIVERY: service.deliver,
        Action.WITHDRAWAL: service.withdraw,
        Action.DEFERRED_SUPPLIED: service.supply_deferred,
        Action.FORWARD: service.forward,
    }
    await method[action](case_id, data, "tester")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    correction=st.booleans(),
    attempts=st.lists(st.sampled_from(sorted(ATTEMPTS, key=str)), min_size=1, max_size=12),
)
def test_attempted_actions_never_leave_out_of_order_events(
    correction: bool, attempts: list[Action]
) -> None:
    async def run(folder: Path) -> None:
        tree = build_tree()
        township = tree.township
        service, database = _service(township.replica, "zhen-shifan", folder)
        try:
            case_id = new_case_id()
            await township.replica.record(case_id, _opening(case_id, "zhen-shifan", correction))
            for action in attempts:
                state = await service.state_of(case_id)
                offered = service.panel(state, ALL_ROLES).actions
                try:
                    await _attempt(service, case_id, action)
                except (ConflictError, NotFoundError) as exc:
                    assert action not in offered, (action, state.status, exc)
                except PlatformError as exc:
                    pytest.fail(f"{action} refused unexpectedly: {exc}")
                else:
                    assert action in offered, (action, state.status)
            final = await service.state_of(case_id)
            assert not final.has_flag(FlagCode.OUT_OF_ORDER), final.flags
            assert not final.has_flag(FlagCode.CONFLICT), final.flags
        finally:
            database.close()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))


@pytest.mark.anyio
async def test_township_decides_a_community_forwarded_case_and_it_flows_back(
    tmp_path: Path,
) -> None:
    tree = build_tree()
    community, township, county = tree.community, tree.township, tree.county
    case = new_case_id()
    await community.record(
        case,
        received(case, "she-dongcun", "X12"),
        accepted(case, "she-dongcun"),
        forwarded(case, "she-dongcun", "zhen-shifan", "township"),
    )
    await community.sync()
    town, town_db = _service(township.replica, "zhen-shifan", tmp_path)
    village, village_db = _service(community.replica, "she-dongcun", tmp_path)
    try:
        refused = village.decide(case, DecisionIn(outcome=Outcome.APPROVE), "c1")
        with pytest.raises(ConflictError, match="示范镇便民服务中心办理"):
            await refused
        assert Action.DECISION in town.panel(await town.state_of(case), ALL_ROLES).actions
        await township.sync()
        await county.record(case, urged(case, "county"))
        await township.sync()
        answer = await town.answer_urge(case, "u1", UrgeAnswerIn(answer="已办结"), "t1")
        assert answer.status == "accepted"
        result = await town.decide(case, DecisionIn(outcome=Outcome.APPROVE), "t1")
        assert result.status == "approved"
        await township.sync()
        await community.sync()
        row = (await community.store.case_rows([case]))[case]
        state = decode_view(row.state_json).state
        assert (row.status, state.handling_node, state.open_urges) == (
            "approved",
            "zhen-shifan",
            (),
        )
        # the reception point hands the result to the applicant
        delivered = await village.deliver(case, DeliveryIn(method=DeliveryMethod.WINDOW), "c1")
        assert delivered.status == "delivered"
        await community.sync()
        await township.sync()
        county_row = (await county.store.case_rows([case]))[case]
        assert county_row.status == "delivered"
        assert not decode_view(county_row.state_json).unauthorized
    finally:
        town_db.close()
        village_db.close()

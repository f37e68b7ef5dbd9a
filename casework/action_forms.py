"""The case page's action forms, the same at a node and at the county: reading a posted form
into an action's input with every unreadable field named in Chinese, running the action, and
the state a refused form is drawn again with (what was typed and why it was refused).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import msgspec

from casework.actions import (
    Action,
    ActionPanel,
    ActionResult,
    CertificateIn,
    CorrectionIn,
    DecisionIn,
    DeferredSuppliedIn,
    DeliveryIn,
    ExtensionIn,
    ForwardIn,
    HandlingRejectedError,
    PauseIn,
    ResumeIn,
    ReviewIn,
    UrgeAnswerIn,
    WithdrawalIn,
)
from casework.handling import HandlingService
from shared.case_state import CaseState
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError

_INPUTS: dict[Action, type[msgspec.Struct]] = {
    Action.CORRECTION_RECEIVED: CorrectionIn,
    Action.REVIEW: ReviewIn,
    Action.PAUSE: PauseIn,
    Action.RESUME: ResumeIn,
    Action.EXTENSION: ExtensionIn,
    Action.DECISION: DecisionIn,
    Action.CERTIFICATE: CertificateIn,
    Action.DELIVERY: DeliveryIn,
    Action.WITHDRAWAL: WithdrawalIn,
    Action.DEFERRED_SUPPLIED: DeferredSuppliedIn,
    Action.FORWARD: ForwardIn,
    Action.URGE_ANSWER: UrgeAnswerIn,
}
_FIELD_NAMES = {
    "decision": "处理结果",
    "materials": "补正材料",
    "deferred": "容缺材料补齐期限",
    "opinion": "审查意见",
    "procedure": "特别程序种类",
    "expected_days": "预计所需天数",
    "notified_on": "告知日期",
    "days": "延长天数",
    "outcome": "决定结果",
    "valid_until": "有效期至",
    "method": "送达方式",
    "codes": "补齐的容缺材料",
    "mode": "转办方式",
}
_LISTS = {"materials", "codes"}
_PATH = re.compile(r"at `\$\.(\w+)")
_MISSING = re.compile(r"missing required field `(\w+)`")
_STATUS_OF_REFUSAL = ((ValidationError, 422), (ConflictError, 409), (PermissionDeniedError, 403))
REFUSALS = (ValidationError, ConflictError, PermissionDeniedError)
"""The errors a form comes back with, beside the form, instead of an error page."""


class PostedForm(Protocol):
    """A posted form: its keys, one value, or every value of a key."""

    def __iter__(self) -> Iterator[str]: ...

    def get(self, key: str, /) -> Any: ...

    def getall(self, key: str, /) -> list[Any]: ...


@dataclass(frozen=True)
class PanelView:
    """What the partial draws: the panel, a fresh request id, and a refused form's state."""

    panel: ActionPanel
    request_id: str
    values: Mapping[str, Any]
    failed: str | None
    problems: tuple[str, ...]
    done: str | None = None
    status: int = 200

    @property
    def done_label(self) -> str | None:
        """The name of the action just recorded (``?done=``), if it is one."""
        try:
            return Action(self.done).label if self.done else None
        except ValueError:
            return None


def fresh_view(panel: ActionPanel, done: str | None) -> PanelView:
    """The panel as first drawn, with a new request id."""
    return PanelView(
        panel=panel, request_id=str(uuid.uuid4()), values={}, failed=None, problems=(), done=done
    )


def action_named(action: str) -> Action:
    """The action a form posts to.

    Raises:
        NotFoundError: there is no such action.
    """
    try:
        return Action(action)
    except ValueError:
        raise NotFoundError(f"没有名为 {action} 的办理操作。", code="action_not_found") from None


async def run_action(
    service: HandlingService,
    case_id: str,
    data: msgspec.Struct,
    *,
    actor: str,
    urge_id: str = "",
    acting_for: str | None = None,
) -> ActionResult:
    """Run the action ``data`` is the input of."""
    match data:
        case CorrectionIn():
            return await service.correction_received(case_id, data, actor)
        case ReviewIn():
            return await service.review(case_id, data, actor, acting_for=acting_for)
        case PauseIn():
            return await service.pause(case_id, data, actor)
        case ResumeIn():
            return await service.resume(case_id, data, actor)
        case ExtensionIn():
            return await service.extend(case_id, data, actor)
        case DecisionIn():
            return await service.decide(case_id, data, actor)
        case CertificateIn():
            return await service.issue_certificate(case_id, data, actor)
        case DeliveryIn():
            return await service.deliver(case_id, data, actor)
        case WithdrawalIn():
            return await service.withdraw(case_id, data, actor)
        case DeferredSuppliedIn():
            return await service.supply_deferred(case_id, data, actor)
        case ForwardIn():
            return await service.forward(case_id, data, actor)
        case UrgeAnswerIn():
            return await service.answer_urge(case_id, urge_id, data, actor)
    raise NotFoundError("没有这个办理操作。", code="action_not_found")


def form_values(form: PostedForm) -> dict[str, Any]:
    """What was typed, to draw a refused form again."""
    found: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        found[key] = form.getall(key) if key in _LISTS else str(form.get(key) or "")
    return found


def action_input(action: Action, form: PostedForm) -> msgspec.Struct:
    """The action's input from the form, every unreadable field named in Chinese.

    Raises:
        HandlingRejectedError: a field is missing or unreadable.
    """
    raw: dict[str, Any] = {}
    for key in form:
        if key in ("_csrf_token", "urge_id") or key.startswith("due_"):
            continue
        if key in _LISTS:
            raw[key] = [str(v).strip() for v in form.getall(key) if str(v).strip()]
            continue
        text = str(form.get(key) or "").strip()
        if text:
            raw[key] = text
    if action is Action.CORRECTION_RECEIVED:
        raw.setdefault("materials", [])
        supplied = set(raw["materials"])
        raw["deferred"] = [
            {"code": key[4:], "due": str(form.get(key)).strip()}
            for key in form
            if key.startswith("due_")
            and str(form.get(key) or "").strip()
            and key[4:] not in supplied
        ]
    if action is Action.DEFERRED_SUPPLIED:
        raw.setdefault("codes", [])
    try:
        return msgspec.convert(raw, type=_INPUTS[action], strict=False)
    except msgspec.ValidationError as exc:
        raise HandlingRejectedError([_field_problem(str(exc))]) from None


def _field_problem(message: str) -> str:
    missing = _MISSING.search(message)
    if missing is not None:
        return f"请填写“{_FIELD_NAMES.get(missing.group(1), missing.group(1))}”"
    found = _PATH.search(message)
    if found is None:
        return "表单内容不完整或格式不正确，请检查后重新提交"
    name = _FIELD_NAMES.get(found.group(1), found.group(1))
    return f"“{name}”填写不正确，请检查后重新提交"


def refused_view(
    action: Action, values: Mapping[str, Any], error: Exception, panel: ActionPanel
) -> PanelView:
    """The panel drawn again with the refused form open, its reasons and what was typed.

    The refused form is shown even if the case moved on, so the reasons stay readable.
    """
    problems = error.problems if isinstance(error, ValidationError) else [str(error)]
    status = next(code for kind, code in _STATUS_OF_REFUSAL if isinstance(error, kind))
    if action not in panel.actions:
        panel = _with_action(panel, action)
    return PanelView(
        panel=panel,
        request_id=str(values.get("request_id") or uuid.uuid4()),
        values=values,
        failed=action.value,
        problems=tuple(problems),
        status=status,
    )


def _with_action(panel: ActionPanel, action: Action) -> ActionPanel:
    return replace(panel, actions=(*panel.actions, action))


@dataclass(frozen=True)
class CaseHeading:
    """The little of a case the refused-form page names."""

    case_id: str
    receipt_no: str | None
    item_code: str | None
    status_label: str

    @classmethod
    def of(cls, state: CaseState) -> CaseHeading:
        """The heading of ``state``'s case."""
        return cls(
            case_id=state.case_id,
            receipt_no=state.receipt_no,
            item_code=state.item_code,
            status_label=state.status.label,
        )

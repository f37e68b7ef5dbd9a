"""Whether a node may take an action on a case: the semantic check a receiver runs last.

A signed, well-formed event can still be one its node had no business recording, e.g. a
community service station deciding a licence that was only pushed down to it for 代办. Such an
event is kept as evidence but the fold ignores it. The rules, checked in this order:

1. **Registered.** A node missing from the registry may do nothing; an event must name the
   node it is checked against.
2. **Competence** (what the catalog lets the node's tier do with the item):

   * 收件、受理、补正、不予受理 (Received, Accepted, CorrectionRequested, CorrectionReceived,
     Refused): the node may accept the item on that day, or it is the county, whose hall may
     receive anything.
   * 决定、即办、特别程序、延期、制证 (Decided, DecidedOnSpot, ClockPaused, ClockResumed,
     ExtensionGranted, CertificateIssued): the node's own tier decides the item for it, i.e.
     it is at the item's home tier or holds a deciding delegation (直接下放、委托、审核权) in
     force. Forward-only and 代办 points never decide.
   * 部门审查意见 (DepartmentReviewed): the department is the item's lead department or, for a
     并联 item, one of its parallel departments; the node is the county (where the departments
     sit) or decides the item as above.
   * Everything else needs no particular competence.

3. **Case binding** (who may touch this particular case), by the fold's handling node and the
   node that received the case:

   * Received, Rated, ComplaintFiled: none. Rating and complaint kiosks are everywhere.
   * Urged: the county or a node above the handling node (催办 goes downwards).
   * decisions, DepartmentReviewed, ComplaintAnswered: the handling node or a node above it.
   * intake steps after receipt and UrgeAnswered, Delivered, DeferredSupplied, Withdrawn,
     Forwarded, DeemedAccepted: as the line above, or the node that received the case (a
     reception point still takes corrections and hands out results after forwarding).

   The county is above every node.

A receiver that lacks a fact does not refuse on it: with no catalog item (the case names a
catalog version this receiver has not installed) competence is not judged, and with no
handling node (the receipt has not arrived yet) the case binding is not judged. The county
holds every catalog version and every case, so it judges in full.
"""

from __future__ import annotations

from datetime import date

from shared.catalog import Item
from shared.delegation import Tier
from shared.events import (
    Accepted,
    CaseEvent,
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    ComplaintAnswered,
    ComplaintFiled,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    DecidedOnSpot,
    DepartmentReviewed,
    ExtensionGranted,
    Rated,
    Received,
    Refused,
    Urged,
)
from shared.registry import COUNTY_NODE_ID, NodeRecord, Registry
from shared.terms import ProjectType

__all__ = ["unauthorized_reason"]

_INTAKE = (Received, Accepted, CorrectionRequested, CorrectionReceived, Refused)
_DECISION = (
    DecidedOnSpot,
    Decided,
    ExtensionGranted,
    ClockPaused,
    ClockResumed,
    CertificateIssued,
)
_UNBOUND = (Received, Rated, ComplaintFiled)
_HANDLER_OR_ABOVE = (*_DECISION, DepartmentReviewed, ComplaintAnswered)


def unauthorized_reason(
    event: CaseEvent,
    *,
    node: NodeRecord | None,
    item: Item | None,
    registry: Registry,
    handling_node: str | None,
    on: date,
    received_by: str | None = None,
) -> str | None:
    """Why ``node`` may not record ``event``, or None when it may (or cannot be judged).

    Args:
        event: the event to check.
        node: the registry record of ``event.node_id``; None when it is not registered.
        item: the catalog item the case is for, from the catalog version the case names;
            None when this receiver does not hold that version.
        registry: the node tree, to tell which nodes are above the handling node.
        handling_node: the node handling the case before this event (the fold's
            ``handling_node``); None when the receipt is not known yet.
        on: the day the action takes effect, for delegations with an effective date.
        received_by: the node that received the case (the fold's ``origin_node``).

    Returns:
        None when the action is allowed, else a Chinese explanation for supervisors.
    """
    if node is None:
        return f"节点 {event.node_id} 未在节点登记表中，无权记录“{event.LABEL}”。"
    if node.node_id != event.node_id:
        return f"事件署名节点 {event.node_id} 与核对的节点 {node.node_id} 不一致。"
    if item is not None:
        problem = _competence(event, node, item, on)
        if problem is not None:
            return problem
    if handling_node is None:
        return None
    return _binding(event, node, registry, handling_node, received_by)


def _competence(event: CaseEvent, node: NodeRecord, item: Item, on: date) -> str | None:
    # Runs for every event of every projected case: build the Chinese text only on refusal.
    if isinstance(event, _INTAKE):
        if node.tier is Tier.COUNTY or item.can_accept_at(node.tier, node.node_id, on):
            return None
        return (
            f"{_where(node)}不能受理{_what(item)}：该事项在 {on} 未下放到本节点，"
            f"无权记录“{event.LABEL}”。"
        )
    if isinstance(event, DepartmentReviewed):
        if item.project_type is not ProjectType.JOINT:
            # A single-department item has one review: its implementing body's own opinion.
            if event.department != item.lead_department:
                return (
                    f"{_what(item)}不是并联审批事项，只能记录实施部门 {item.lead_department} "
                    "的审查意见。"
                )
        elif event.department not in (item.lead_department, *item.parallel_departments):
            return (
                f"部门 {event.department} 不是{_what(item)}的牵头部门或并联部门，不能出具审查意见。"
            )
        if node.tier is Tier.COUNTY or _decides(item, node, on):
            return None
        return f"{_where(node)}不办理{_what(item)}，不能代为记录部门审查意见。"
    if isinstance(event, _DECISION) and not _decides(item, node, on):
        decider = item.handling_tier_for(node.tier, node.node_id, on)
        why = "本节点不能办理该事项" if decider is None else f"该事项由{decider.label}作出决定"
        return f"{_where(node)}无权对{_what(item)}记录“{event.LABEL}”：{why}。"
    return None


def _where(node: NodeRecord) -> str:
    return f"{node.name}（{node.tier.label}）"


def _what(item: Item) -> str:
    return f"事项 {item.code}「{item.name}」"


def _decides(item: Item, node: NodeRecord, on: date) -> bool:
    return item.handling_tier_for(node.tier, node.node_id, on) is node.tier


def _binding(
    event: CaseEvent,
    node: NodeRecord,
    registry: Registry,
    handling_node: str,
    received_by: str | None,
) -> str | None:
    if isinstance(event, _UNBOUND):
        return None
    above = node.node_id == COUNTY_NODE_ID or node.node_id in registry.ancestors(handling_node)
    if isinstance(event, Urged):
        if above:
            return None
        return (
            f"只有县级中心或办理节点的上级才能催办督办；{node.name}不是办理节点 "
            f"{handling_node} 的上级。"
        )
    if above or node.node_id == handling_node:
        return None
    if not isinstance(event, _HANDLER_OR_ABOVE) and node.node_id == received_by:
        return None
    return (
        f"{node.name}不是该办件的办理节点（{handling_node}）或其上级"
        f"{'' if isinstance(event, _HANDLER_OR_ABOVE) else '，也不是收件节点'}，"
        f"无权记录“{event.LABEL}”。"
    )

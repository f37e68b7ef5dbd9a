"""The node's case handling: the rules live in :mod:`casework.handling`, shared with the county.

The node's stores, identity and catalog service meet the protocols the service asks for, so
the node uses it as it is. Node roles carry the same values as the case-work duties
(窗口人员 clerk, 审核 reviewer, 决定 approver), which is how a route guard finds an action's
roles among them: :func:`node_roles`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casework import handling as core
from casework.actions import (
    ACTION_ROLES,
    Action,
    ActionPanel,
    ActionResult,
    AfterCorrection,
    CertificateIn,
    CorrectionIn,
    DecisionIn,
    DeferredSuppliedIn,
    DeliveryIn,
    DepartmentReview,
    ExtensionIn,
    ForwardIn,
    HandlingRejectedError,
    MaterialChoice,
    PauseIn,
    ResumeIn,
    ReviewIn,
    UrgeAnswerIn,
    WithdrawalIn,
    available_actions,
    require_role,
)
from casework.handling import MAX_TEXT, department_reviews
from casework.ports import CatalogSource, Identity
from node.services.accounts import Role
from node.services.casework_ports import NodeCertificateSerials, NodeIntakeLedger
from node.storage.handling_store import HandlingStore
from node.storage.intake_store import IntakeStore
from sync.replica import Replica

__all__ = [
    "ACTION_ROLES",
    "MAX_TEXT",
    "Action",
    "ActionPanel",
    "ActionResult",
    "AfterCorrection",
    "CatalogSource",
    "CertificateIn",
    "CorrectionIn",
    "DecisionIn",
    "DeferredSuppliedIn",
    "DeliveryIn",
    "DepartmentReview",
    "ExtensionIn",
    "ForwardIn",
    "HandlingRejectedError",
    "HandlingService",
    "MaterialChoice",
    "PauseIn",
    "ResumeIn",
    "ReviewIn",
    "UrgeAnswerIn",
    "WithdrawalIn",
    "available_actions",
    "department_reviews",
    "node_roles",
    "require_role",
]


class HandlingService(core.HandlingService):
    """The case-work handling over the node's synchronous stores."""

    def __init__(
        self,
        replica: Replica,
        catalog: CatalogSource,
        identity: Identity,
        store: HandlingStore,
        clock: Callable[[], datetime],
        *,
        intake_store: IntakeStore,
    ) -> None:
        super().__init__(
            replica,
            catalog,
            identity,
            NodeCertificateSerials(store),
            clock,
            intake_store=NodeIntakeLedger(intake_store),
        )


def node_roles(action: Action) -> tuple[Role, ...]:
    """The node roles that may take ``action``, in a stable order (for route guards)."""
    return tuple(role for role in Role if role.value in action.roles)

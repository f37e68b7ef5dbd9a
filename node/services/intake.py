"""The node's window intake: the rules live in :mod:`casework.intake`, shared with the county.

The node's :class:`node.storage.intake_store.IntakeStore`, :class:`node.identity.NodeIdentity`
and :class:`node.services.catalog.NodeCatalogService` meet the protocols the service asks for,
once the store is wrapped as the coroutine port; the names stay importable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casework import intake as core
from casework.intake import (
    MAX_REQUEST_ID,
    Application,
    Decision,
    DeferredIn,
    IntakeRejectedError,
    IntakeResult,
    acceptance_check,
)
from casework.ports import CatalogInForce, Identity
from node.services.casework_ports import NodeIntakeLedger
from node.storage.intake_store import IntakeStore
from sync.replica import Replica

__all__ = [
    "MAX_REQUEST_ID",
    "Application",
    "Decision",
    "DeferredIn",
    "IntakeRejectedError",
    "IntakeResult",
    "IntakeService",
    "acceptance_check",
]


class IntakeService(core.IntakeService):
    """The case-work intake over the node's synchronous intake store."""

    def __init__(
        self,
        replica: Replica,
        catalog: CatalogInForce,
        identity: Identity,
        store: IntakeStore,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(replica, catalog, identity, NodeIntakeLedger(store), clock)

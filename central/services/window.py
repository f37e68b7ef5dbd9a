"""The county's windows: the node's intake and handling rules (:mod:`casework`) for county-level
items, for cases townships escalate (上报) or forward to the county, and for department opinions
in parallel approval (并联审批).

County roles map onto the case-work duties by value (clerk, reviewer, approver); a department
account reviews as its department and only for it. Every read is bounded by the caller's
subtree: a county account sees everything, a township account its own part of the tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from casework.actions import ActionPanel
from casework.duties import Duty
from casework.handling import HandlingService
from casework.intake import Application, IntakeResult, IntakeService
from casework.ports import HeldCatalog
from central.db.casework_tables import PiccoloCaseworkStore, window_case_rows
from central.services.accounts import CountyRole, CountyUser, can_see_case
from central.services.releases import ReleaseService
from shared.case_state import CaseState, CaseStatus
from shared.catalog import Catalog
from shared.delegation import Tier
from shared.errors import NotFoundError, PermissionDeniedError
from shared.receipts import make_query_code
from shared.registry import COUNTY_NODE_ID
from sync.projection import decode_view
from sync.replica import Replica

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class CountyIdentity:
    """The county centre as a recording node: id ``county``, its short code from settings."""

    short_code: str
    node_id: str = COUNTY_NODE_ID
    tier: Tier = Tier.COUNTY


class CountyCatalog:
    """The releases in force as the case-work catalog port."""

    def __init__(self, releases: ReleaseService) -> None:
        self._releases = releases

    def current(self) -> HeldCatalog | None:
        """The newest release this process knows."""
        return self._releases.cached()

    def catalog_for(self, version: int) -> Catalog | None:
        """The catalog of a published version."""
        return self._releases.catalog_for(version)


def duties(user: CountyUser) -> frozenset[str]:
    """The case-work duties a county account holds; a department account reviews."""
    held = {role.value for role in user.roles if role.value in {d.value for d in Duty}}
    if CountyRole.DEPARTMENT in user.roles:
        held.add(Duty.REVIEWER.value)
    return frozenset(held)


def ensure_county_window(user: CountyUser) -> None:
    """Refuse an account of a township's part of the tree at the county's own window.

    Raises:
        PermissionDeniedError: code ``outside_subtree``.
    """
    if user.visible is not None:
        raise PermissionDeniedError(
            "县级窗口收件只能由县中心的窗口人员办理，您的账号属于乡镇（街道）范围。",
            code="outside_subtree",
        )


def acting_for(user: CountyUser) -> str | None:
    """The department a department account speaks for."""
    if CountyRole.DEPARTMENT in user.roles:
        return (user.department or "").strip() or None
    return None


@dataclass(frozen=True)
class QueueEntry:
    """One line of the county window's queue."""

    case_id: str
    item_code: str | None
    receipt_no: str | None
    applicant_name: str | None
    status: str
    status_label: str
    origin_node: str | None
    handling_node: str | None
    promised_due: date | None
    light: str | None


def _label(status: str) -> str:
    try:
        return CaseStatus(status).label
    except ValueError:
        return status


class CountyWindow:
    """Intake and handling at the county window, with the caller's subtree checked."""

    def __init__(
        self,
        replica: Replica,
        releases: ReleaseService,
        short_code: str,
        clock: Callable[[], datetime],
    ) -> None:
        store = PiccoloCaseworkStore()
        identity = CountyIdentity(short_code=short_code)
        catalog = CountyCatalog(releases)
        self.replica = replica
        self.store = store
        self.intake = IntakeService(replica, catalog, identity, store, clock)
        self.handling = HandlingService(
            replica,
            catalog,
            identity,
            store,
            clock,
            intake_store=store,
        )

    async def receive(self, application: Application, user: CountyUser) -> IntakeResult:
        """Record an application taken at the county window.

        Raises:
            PermissionDeniedError: the account is not one of the county's own (403).
            IntakeRejectedError: the application breaks a rule (422, every problem listed).
        """
        ensure_county_window(user)
        return await self.intake.submit(application, user.username)

    async def query_code(self, receipt_no: str | None) -> str | None:
        """The query code printed beside a county receipt number."""
        if not receipt_no:
            return None
        return make_query_code(await self.store.query_secret(), receipt_no)

    async def queue(self, user: CountyUser, *, open_only: bool = True) -> list[QueueEntry]:
        """Cases handled at the county (escalated ones included) that the user may see."""
        rows = await window_case_rows(
            handling_nodes=frozenset({COUNTY_NODE_ID}) if user.visible is None else user.visible,
            open_only=open_only,
            limit=QUEUE_LIMIT,
        )
        return [
            QueueEntry(
                case_id=str(r["case_id"]),
                item_code=_opt(r["item_code"]),
                receipt_no=_opt(r["receipt_no"]),
                applicant_name=_opt(r["applicant_name"]),
                status=str(r["status"]),
                status_label=_label(str(r["status"])),
                origin_node=_opt(r["origin_node"]),
                handling_node=_opt(r["handling_node"]),
                promised_due=r["promised_due"] if isinstance(r["promised_due"], date) else None,
                light=_opt(r["light"]),
            )
            for r in rows
        ]

    async def state(self, case_id: str, user: CountyUser) -> CaseState:
        """The case's state, when it lies in the user's subtree.

        Raises:
            NotFoundError: no such case.
            PermissionDeniedError: the case is outside the user's subtree.
        """
        row = (await self.replica.store.case_rows([case_id])).get(case_id)
        if row is None:
            raise NotFoundError(f"县中心没有编号为 {case_id} 的办件。", code="case_not_found")
        if not can_see_case(user, (row.origin_node, row.handling_node)):
            raise PermissionDeniedError("该办件不在您的管辖范围内。", code="outside_subtree")
        return decode_view(row.state_json).state

    def panel(self, state: CaseState, user: CountyUser) -> ActionPanel:
        """What the user may do on the case here."""
        return self.handling.panel(state, duties(user), acting_for=acting_for(user))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)

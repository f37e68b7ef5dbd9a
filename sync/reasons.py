"""Outcomes of the receiver checks, each with a stable code and a Chinese explanation.

The receiver checks every envelope in this order and stops at the first that fails:

1. origin      known, not revoked, not quarantined          unknown_origin, revoked_origin,
                                                              quarantined_origin
2. form        decodes as a supported envelope               malformed
3. chain and   for an origin inside the receiver's subtree  duplicate (harmless), gap (held),
   signature   (whose records all come up through it): it   fork, bad_signature
               must extend the origin's hash chain, and the
               last valid signature of a run vouches for
               every earlier body; for an origin above it
               (records relayed down, only for the cases it
               takes part in): each record's own signature
4. clock       HLC not far ahead, never behind the origin    clock_ahead (held), clock_regression
5. replay and  the update is new; the client id is not       replay, foreign_client
   ownership   another node's
6. structure   appends only; events carry the origin;        deletes_history, foreign_node_event,
   (projection) only the origin's own client ids; nothing    foreign_client, unknown_root,
               outside the events list                       malformed_event, case_mismatch,
                                                              undecodable_update
7. authority   the origin may take each action (semantic)    unauthorized_action (kept as
   (projection)                                              evidence, ignored by the fold)

A fork is declared only for a conflicting record that the origin's own key signed: an unsigned
fake can never get an honest node quarantined. A run's last record with a bad signature is held
(reason bad_signature) until a later record vouches for its body or a genuine record for its seq
shows it forged. Rejections marked as quarantining (a fork, the structural rules) bar the origin
from that seq on: a node that writes outside its own log is either broken or tampered with, and
nothing more it signs is trusted until the county acts.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one envelope."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already held; re-sending is harmless
    HELD = "held"  # kept aside until what is missing arrives
    REJECTED = "rejected"


class Reason(StrEnum):
    """Why an envelope was held or rejected, or why an action was not authorised."""

    UNKNOWN_ORIGIN = "unknown_origin"
    REVOKED_ORIGIN = "revoked_origin"
    QUARANTINED_ORIGIN = "quarantined_origin"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    GAP = "gap"
    FORK = "fork"
    REPLAY = "replay"
    CLOCK_AHEAD = "clock_ahead"
    CLOCK_REGRESSION = "clock_regression"
    DELETES_HISTORY = "deletes_history"
    FOREIGN_NODE_EVENT = "foreign_node_event"
    FOREIGN_CLIENT = "foreign_client"
    UNKNOWN_ROOT = "unknown_root"
    MALFORMED_EVENT = "malformed_event"
    CASE_MISMATCH = "case_mismatch"
    UNDECODABLE_UPDATE = "undecodable_update"
    UNAUTHORIZED_ACTION = "unauthorized_action"

    @property
    def label(self) -> str:
        """Chinese explanation for clerks and supervisors."""
        return _LABELS[self]

    @property
    def quarantines(self) -> bool:
        """Whether this rejection puts the origin in quarantine."""
        return self in _STRUCTURAL


_STRUCTURAL = frozenset(
    {
        Reason.FORK,
        Reason.DELETES_HISTORY,
        Reason.FOREIGN_NODE_EVENT,
        Reason.FOREIGN_CLIENT,
        Reason.UNKNOWN_ROOT,
        Reason.MALFORMED_EVENT,
        Reason.CASE_MISMATCH,
        Reason.UNDECODABLE_UPDATE,
    }
)

_LABELS = {
    Reason.UNKNOWN_ORIGIN: "来源节点未登记",
    Reason.REVOKED_ORIGIN: "来源节点已被吊销",
    Reason.QUARANTINED_ORIGIN: "来源节点已被隔离",
    Reason.MALFORMED: "信封格式错误",
    Reason.BAD_SIGNATURE: "签名校验失败",
    Reason.GAP: "序号不连续，等待缺失的记录",
    Reason.FORK: "同一序号出现两份不同记录（疑似节点被复制或篡改）",
    Reason.REPLAY: "重放：同一更新已以其他记录提交过",
    Reason.CLOCK_AHEAD: "时间戳超前过多，暂缓接收",
    Reason.CLOCK_REGRESSION: "时间戳早于该节点上一条记录",
    Reason.DELETES_HISTORY: "试图删除已有办件记录",
    Reason.FOREIGN_NODE_EVENT: "记录中的事件署名为其他节点",
    Reason.FOREIGN_CLIENT: "使用了属于其他节点的写入标识",
    Reason.UNKNOWN_ROOT: "写入了办件事件之外的数据",
    Reason.MALFORMED_EVENT: "事件内容无法解析",
    Reason.CASE_MISMATCH: "事件所属办件与信封不符",
    Reason.UNDECODABLE_UPDATE: "更新数据无法解析",
    Reason.UNAUTHORIZED_ACTION: "该节点无权对此事项执行此操作",
}

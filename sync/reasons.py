"""Outcomes of the receiver checks, each with a stable code and a Chinese explanation.

The receiver checks every envelope in this order and stops at the first that fails:

1. origin      known, not revoked, not quarantined          unknown_origin, revoked_origin,
                                                              quarantined_origin
2. form        decodes as a supported envelope               malformed
3. signature   the origin's key signed the exact body        bad_signature
4. chain       next in the origin's hash chain               duplicate (harmless), gap (held),
                                                              fork, replay
5. clock       HLC not far ahead, never behind the origin    clock_ahead (held), clock_regression
6. structure   appends only; events carry the origin;        deletes_history, foreign_node_event,
               only the origin's own client ids              foreign_client, unknown_root,
                                                              malformed_event, case_mismatch,
                                                              undecodable_update
7. authority   the origin may take each action (semantic)    unauthorized_action (kept as
                                                              evidence, ignored by the fold)

Rejections at steps 6 put the origin in quarantine: a node that writes outside its own log is
either broken or tampered with, and nothing more it sends is trusted until the county acts.
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

"""Who is calling: a child signs each sync request with its node key.

Envelopes carry their own signatures, but a pull returns case records (personal data), so the
parent must know the caller. The ``X-Tongban-Node`` header carries the node id, a timestamp and a
signature over ``node id, timestamp, SHA-256 of the body``; the parent accepts only its own,
active children, within a generous clock window because offline nodes drift.
"""

from __future__ import annotations

import base64
import hashlib

from shared.errors import AuthenticationError, PermissionDeniedError, SignatureInvalidError
from shared.registry import NodeRecord, NodeStatus, Registry
from shared.signing import SigningKey, VerifyKey

HEADER = "X-Tongban-Node"
AUTH_DOMAIN = b"tongban-sync-request/v1\x00"
MAX_CLOCK_DIFFERENCE_MS = 2 * 3600 * 1000


def _message(node_id: str, timestamp_ms: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return AUTH_DOMAIN + f"{node_id}\n{timestamp_ms}\n{digest}".encode()


def sign_request(key: SigningKey, node_id: str, body: bytes, now_ms: int) -> str:
    """The header value for a request body."""
    signature = base64.urlsafe_b64encode(key.sign(_message(node_id, now_ms, body))).decode()
    return f"{node_id};{now_ms};{signature}"


def authenticate(
    header: str | None, body: bytes, registry: Registry, parent_id: str, now_ms: int
) -> NodeRecord:
    """The calling child, after checking its signature, status and place in the tree.

    Raises:
        AuthenticationError: no or malformed header, unknown node, bad signature, clock too far.
        PermissionDeniedError: the node is revoked or is not a child of this parent.
    """
    if not header:
        raise AuthenticationError("同步请求缺少节点签名。", code="sync_unsigned")
    parts = header.split(";")
    if len(parts) != 3 or not parts[1].isdigit():
        raise AuthenticationError("同步请求的节点签名格式错误。", code="sync_unsigned")
    node_id, timestamp_text, signature_text = parts
    record = registry.get(node_id)
    if record is None or not record.public_key:
        raise AuthenticationError(f"节点 {node_id} 未登记或尚未注册。", code="unknown_node")
    timestamp = int(timestamp_text)
    if abs(timestamp - now_ms) > MAX_CLOCK_DIFFERENCE_MS:
        hours = abs(timestamp - now_ms) / 3_600_000
        raise AuthenticationError(
            f"节点 {node_id} 的时钟与上级相差约 {hours:.1f} 小时，请校准时间后再同步。",
            code="clock_difference",
        )
    try:
        signature = base64.urlsafe_b64decode(signature_text.encode())
        VerifyKey.from_text(record.public_key).verify(signature, _message(node_id, timestamp, body))
    except (SignatureInvalidError, ValueError) as exc:
        raise AuthenticationError(
            f"节点 {node_id} 的请求签名无效。", code="sync_bad_signature"
        ) from exc
    if record.status is NodeStatus.REVOKED:
        raise PermissionDeniedError(f"节点 {node_id} 已被吊销，不能再同步。", code="node_revoked")
    if record.parent != parent_id:
        raise PermissionDeniedError(
            f"节点 {node_id} 不是本节点的下级，请向其上级同步。", code="not_a_child"
        )
    return record

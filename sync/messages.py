"""The batch sync protocol on the wire (msgpack, gzip-compressed, one endpoint).

A child calls ``POST /api/v1/sync`` on its parent. Each request pushes a batch of envelopes
from the child's subtree (oldest first) and asks for the next page of the child's feed; each
response says what became of every pushed envelope, how far the parent holds each origin of the
child's subtree, the next feed page, and a newer catalog release if there is one. Everything may
be re-sent: envelopes are idempotent and both cursors only move after the child has stored what
the response carried.
"""

from __future__ import annotations

import gzip
import zlib

import msgspec

from shared.errors import InvalidError
from shared.hlc import Hlc
from sync.envelope import Envelope
from sync.reasons import Outcome, Reason

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (1,)
MAX_BATCH_ENVELOPES = 2_000
MAX_PULL = 2_000
MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest decompressed request body; a larger one is refused before it is parsed."""

MEDIA_TYPE = "application/vnd.tongban.sync+msgpack"


# Messages hold plain values only (gc=False, as sync.envelope explains).
class SyncRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One round trip from a child."""

    protocol: int
    node_id: str
    envelopes: tuple[Envelope, ...] = ()
    pull_after: int = 0
    pull_limit: int = 1_000
    release_version: int | None = None
    final: bool = True
    software: str = ""
    """The child's tongban version, for the county's node registry ("" from older children)."""
    waiting: int | None = None
    """Log entries the child still has to push after this batch (an upper bound; None if not
    reported). Both fields have defaults, so children and parents of either age understand
    each other without a protocol change."""


class EnvelopeResult(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What a receiver did with one envelope it was sent."""

    origin: str
    seq: int
    outcome: Outcome
    reason: Reason | None = None
    detail: str = ""


class SyncResponse(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The parent's answer."""

    protocol: int
    results: tuple[EnvelopeResult, ...]
    heads: dict[str, int]
    envelopes: tuple[Envelope, ...]
    pull_next: int
    more: bool
    server_hlc: Hlc
    release: bytes | None = None
    quarantined: dict[str, str] = {}


_ENCODER = msgspec.msgpack.Encoder()


def encode(message: SyncRequest | SyncResponse) -> bytes:
    """Serialise and gzip a message."""
    return gzip.compress(_ENCODER.encode(message), compresslevel=1)


def decode_request(raw: bytes) -> SyncRequest:
    """Parse a (gzip-compressed) request, refusing oversized or malformed bodies.

    Raises:
        InvalidError: with code ``sync_malformed``, ``sync_too_large`` or ``protocol_version``.
    """
    payload = _inflate(raw)
    try:
        request = msgspec.msgpack.decode(payload, type=SyncRequest)
    except msgspec.DecodeError as exc:
        version = _peek_protocol(payload)
        if version is not None and version not in SUPPORTED_PROTOCOLS:
            raise _version_error(version) from exc
        raise InvalidError(f"同步请求格式错误：{exc}", code="sync_malformed") from exc
    if request.protocol not in SUPPORTED_PROTOCOLS:
        raise _version_error(request.protocol)
    if len(request.envelopes) > MAX_BATCH_ENVELOPES:
        raise InvalidError(
            f"一批最多 {MAX_BATCH_ENVELOPES} 条记录，收到 {len(request.envelopes)} 条。",
            code="sync_too_large",
        )
    return request


def decode_response(raw: bytes) -> SyncResponse:
    """Parse a parent's answer (httpx has already undone gzip transfer encoding if used)."""
    payload = _inflate(raw) if raw[:2] == b"\x1f\x8b" else raw
    try:
        return msgspec.msgpack.decode(payload, type=SyncResponse)
    except msgspec.DecodeError as exc:
        raise InvalidError(f"上级返回的同步应答无法解析：{exc}", code="sync_malformed") from exc


def _inflate(raw: bytes) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidError("同步请求过大。", code="sync_too_large")
        return raw
    try:
        # Bounded inflation: a small gzip bomb cannot make us allocate more than the limit.
        payload = zlib.decompressobj(wbits=31).decompress(raw, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise InvalidError("同步请求压缩数据已损坏。", code="sync_malformed") from exc
    if len(payload) > MAX_BODY_BYTES:
        raise InvalidError("同步请求解压后过大。", code="sync_too_large")
    return payload


def _peek_protocol(payload: bytes) -> int | None:
    try:
        loose = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        return None
    version = loose.get("protocol") if isinstance(loose, dict) else None
    return version if isinstance(version, int) else None


def _version_error(version: int) -> InvalidError:
    supported = "、".join(str(v) for v in SUPPORTED_PROTOCOLS)
    return InvalidError(
        f"同步协议版本 {version} 不受支持：本机支持版本 {supported}。"
        "请将较旧的一方升级到相同版本的通办后再同步。",
        code="protocol_version",
    )

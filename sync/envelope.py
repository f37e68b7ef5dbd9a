"""Signed envelopes: the unit of replication.

Every local transaction on a case document becomes one envelope::

    body = msgpack [format, origin, seq, prev, case_id, hlc, client_id, update]
    sig  = Ed25519(origin key, DOMAIN || body)
    hash = SHA-256(body)

``seq`` counts the origin's envelopes from 1 without gaps and ``prev`` is the hash of the
origin's previous envelope (empty for seq 1), so each origin's envelopes form a hash chain: a
receiver that holds a contiguous run can check every link and needs to verify only the run's
last signature to authenticate all of it. The body bytes and the signature are stored and
forwarded exactly as they arrived; nothing is ever re-encoded, so signatures hold end to end.
"""

from __future__ import annotations

import hashlib

import msgspec

from shared.errors import InvalidError
from shared.hlc import Hlc
from shared.signing import SigningKey, VerifyKey

ENVELOPE_FORMAT = 1
SIGNING_DOMAIN = b"tongban-envelope/v1\x00"
GENESIS = b""
"""``prev`` of an origin's first envelope."""

MAX_UPDATE_BYTES = 256 * 1024
"""One transaction appends a few events; anything near this size is refused as malformed."""


# Bodies and envelopes hold plain values only, so they can never be part of a reference cycle:
# gc=False leaves them out of the garbage collector's passes over a backlog of many thousands.
class EnvelopeBody(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What the origin signs. Field order is part of the format."""

    format: int
    origin: str
    seq: int
    prev: bytes
    case_id: str
    hlc: Hlc
    client_id: int
    update: bytes


class Envelope(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The bytes that travel and are stored: the encoded body and its signature."""

    body: bytes
    sig: bytes

    @property
    def hash(self) -> bytes:
        """SHA-256 of the body: the envelope's identity and the next envelope's ``prev``."""
        return hashlib.sha256(self.body).digest()


_ENCODER = msgspec.msgpack.Encoder()
_BODY_DECODER = msgspec.msgpack.Decoder(EnvelopeBody)


def seal(key: SigningKey, body: EnvelopeBody) -> Envelope:
    """Encode and sign a body."""
    encoded = _ENCODER.encode(body)
    return Envelope(body=encoded, sig=key.sign(SIGNING_DOMAIN + encoded))


def open_body(envelope: Envelope) -> EnvelopeBody:
    """Decode the body (after, or independently of, signature checks).

    Raises:
        InvalidError: the bytes are not an envelope body of a supported format.
    """
    try:
        body = _BODY_DECODER.decode(envelope.body)
    except msgspec.DecodeError as exc:
        raise InvalidError(f"信封内容无法解析：{exc}", code="malformed") from exc
    if body.format != ENVELOPE_FORMAT:
        raise InvalidError(f"信封格式版本 {body.format} 不受支持。", code="malformed")
    if body.seq < 1 or (body.seq == 1) != (body.prev == GENESIS):
        raise InvalidError("信封序号或前序摘要无效。", code="malformed")
    if len(body.update) > MAX_UPDATE_BYTES:
        raise InvalidError("信封中的更新过大。", code="malformed")
    return body


def verify_envelope(envelope: Envelope, key: VerifyKey) -> None:
    """Check the origin's signature over the exact body bytes.

    Raises:
        SignatureInvalidError: the signature does not verify.
    """
    key.verify(envelope.sig, SIGNING_DOMAIN + envelope.body)


def update_hash(update: bytes) -> bytes:
    """Identity of a CRDT update, used to spot the same update re-wrapped (a replay)."""
    return hashlib.sha256(update).digest()

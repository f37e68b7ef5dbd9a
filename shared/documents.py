"""Signed notices and certificates, their compact QR text and how anyone checks them.

A document issued at a window is a :class:`DocumentPayload` (who issued it, its number, the case
it belongs to and either the :class:`~shared.notices.Notice` as printed or the certificate's
fields) signed with the issuing node's key as a :class:`~shared.signing.SignedDocument`.

The QR code on the paper holds the whole signed document, so it can be checked with nothing but
the county's node registry, offline, years later: ``tb1.`` followed by the zlib-compressed JSON
of the signed document in base64url without padding. :func:`check_document` gives a verdict with
a stable reason code for each way a check can fail. Nothing here depends on the node or the
county: both verification pages call the same function.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

import msgspec

from shared.errors import InvalidError, SignatureInvalidError
from shared.notices import Notice
from shared.registry import NodeStatus, Registry
from shared.signing import SignedDocument, SigningKey, VerifyKey, sign_document, verify_document

__all__ = [
    "COMPACT_PREFIX",
    "DOCUMENT_SIGNED_KIND",
    "CertificateContent",
    "DocumentCheck",
    "DocumentKind",
    "DocumentPayload",
    "Verdict",
    "check_document",
    "decode_compact",
    "encode_compact",
    "sign_payload",
]

COMPACT_PREFIX: Final = "tb1."
"""Version tag of the compact text form; a later format gets another tag."""

DOCUMENT_SIGNED_KIND: Final = "window_document"
"""The ``kind`` of the :class:`SignedDocument` wrapping every window document."""

# A QR code holds at most about 2,900 bytes in byte mode; anything much larger is not ours.
_MAX_COMPACT_LEN: Final = 8_000
_MAX_INFLATED: Final = 64_000
# A node's clock may run a little ahead; a document from further in the future is not genuine.
_CLOCK_SLACK: Final = timedelta(days=1)


class DocumentKind(StrEnum):
    """What a window document is: one of the notices, or the certificate (证照)."""

    RECEIPT_VOUCHER = "receipt_voucher"
    ACCEPTANCE = "acceptance"
    REFUSAL = "refusal"
    CORRECTION = "correction"
    DEFERRED_ACCEPTANCE = "deferred_acceptance"
    CERTIFICATE = "certificate"

    @property
    def label(self) -> str:
        """Chinese name."""
        return _KIND_LABELS[self]


_KIND_LABELS: Final = {
    DocumentKind.RECEIPT_VOUCHER: "收件凭证",
    DocumentKind.ACCEPTANCE: "受理通知书",
    DocumentKind.REFUSAL: "不予受理通知书",
    DocumentKind.CORRECTION: "补正材料通知书（一次性告知书）",
    DocumentKind.DEFERRED_ACCEPTANCE: "容缺受理通知书",
    DocumentKind.CERTIFICATE: "证照",
}


class CertificateContent(msgspec.Struct, frozen=True, kw_only=True):
    """The fields printed on a certificate (证照)."""

    certificate_no: str
    title: str
    holder: str
    item: str
    issued_on: date
    valid_until: date | None = None
    issuer: str


class DocumentPayload(msgspec.Struct, frozen=True, kw_only=True):
    """What is signed: the issuer, the document's identity and its printed content.

    Exactly one of ``notice`` and ``certificate`` is set, matching ``kind``. The applicant's ID
    number is never part of a payload: anyone holding the paper can read the QR code.
    """

    issuer_node: str
    issuer_name: str
    document_no: str
    kind: DocumentKind
    case_id: str
    receipt_no: str | None
    issued_at: datetime
    notice: Notice | None = None
    certificate: CertificateContent | None = None


class Verdict(StrEnum):
    """The outcome of checking a document; the values are stable reason codes."""

    VALID = "valid"
    MALFORMED = "malformed"
    UNKNOWN_ISSUER = "unknown_issuer"
    REVOKED_ISSUER = "revoked_issuer"
    BAD_SIGNATURE = "bad_signature"

    @property
    def message(self) -> str:
        """What the verification page tells the person holding the paper."""
        return _VERDICT_MESSAGES[self]


_VERDICT_MESSAGES: Final = {
    Verdict.VALID: "验证通过：本文书由登记在册的服务机构签发，内容未被改动。",
    Verdict.MALFORMED: (
        "无法识别：二维码内容不完整或不是本系统签发的文书，请重新扫码或向签发机构核实。"
    ),
    Verdict.UNKNOWN_ISSUER: "无法验证：签发机构不在节点登记表中，请向县政务服务中心核实。",
    Verdict.REVOKED_ISSUER: (
        "签发机构已被吊销或隔离：本文书不能作为有效凭证，请向县政务服务中心核实。"
    ),
    Verdict.BAD_SIGNATURE: "验证失败：签名与内容不符，文书可能被篡改或伪造，请勿采信。",
}


class DocumentCheck(msgspec.Struct, frozen=True, kw_only=True):
    """A verdict, its Chinese message, and the content when it could be read.

    ``payload`` is set whenever the document decoded, even when the verdict is not valid, so a
    verifier can show what the paper claims next to the warning.
    """

    verdict: Verdict
    message: str
    issuer_name: str | None = None
    payload: DocumentPayload | None = None

    @property
    def valid(self) -> bool:
        """Whether the document checked out."""
        return self.verdict is Verdict.VALID


def sign_payload(key: SigningKey, payload: DocumentPayload) -> SignedDocument:
    """Sign a document payload with the issuing node's key.

    Raises:
        InvalidError: a notice that lacks its content or carries content of another kind.
    """
    has_notice, has_certificate = payload.notice is not None, payload.certificate is not None
    if has_notice == has_certificate:
        raise InvalidError(
            "文书内容必须且只能是通知书或证照之一。", code="document_content_invalid"
        )
    if (payload.kind is DocumentKind.CERTIFICATE) != has_certificate:
        raise InvalidError(
            f"文书种类“{payload.kind.label}”与其内容不符。", code="document_content_invalid"
        )
    # Through JSON first: canonical encoding takes lists, and notices hold tuples.
    plain = msgspec.json.decode(msgspec.json.encode(payload))
    return sign_document(key, plain, kind=DOCUMENT_SIGNED_KIND, signer=payload.issuer_node)


_SIGNED_ENCODER = msgspec.json.Encoder()
_SIGNED_DECODER = msgspec.json.Decoder(SignedDocument)
_PAYLOAD_DECODER = msgspec.json.Decoder(DocumentPayload)


def encode_compact(signed: SignedDocument) -> str:
    """The text put in the QR code: version tag, then zlib + base64url of the signed JSON."""
    packed = zlib.compress(_SIGNED_ENCODER.encode(signed), 9)
    return COMPACT_PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_compact(text: str) -> SignedDocument:
    """Read the text of a QR code back into the signed document.

    Raises:
        InvalidError: ``code="document_malformed"`` for anything that is not a compact document
            of a known version.
    """
    if not isinstance(text, str):
        raise _malformed("文书内容不是文字。")
    body = text.strip()
    if not body.startswith(COMPACT_PREFIX):
        raise _malformed("文书编码缺少版本标记或版本不受支持。")
    body = body[len(COMPACT_PREFIX) :]
    if len(body) > _MAX_COMPACT_LEN:
        raise _malformed("文书编码过长。")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, _MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise _malformed("文书编码不完整或含有多余内容。")
        return _SIGNED_DECODER.decode(raw)
    except (binascii.Error, ValueError, zlib.error, msgspec.DecodeError) as exc:
        raise _malformed("文书编码无法解码。") from exc


def _malformed(message: str) -> InvalidError:
    return InvalidError(message, code="document_malformed")


def _read_payload(signed: SignedDocument) -> DocumentPayload | None:
    try:
        payload = _PAYLOAD_DECODER.decode(signed.payload)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    # The signer named outside the payload must be the issuer named inside it.
    return payload if payload.issuer_node == signed.signer else None


def check_document(text: str, registry: Registry, now: datetime) -> DocumentCheck:
    """Check the text of a QR code against the node registry.

    Args:
        text: the compact form (see :func:`encode_compact`).
        registry: the county's node registry, from the release in force.
        now: the checking instant. A revoked or quarantined issuer fails the check whatever
            the document's date: once a key is withdrawn nobody can tell which of its
            signatures were made before it was compromised. A document dated more than a day
            after ``now`` is treated as malformed.

    Returns:
        The verdict with its message, and the content when it could be read.
    """
    try:
        signed = decode_compact(text)
    except InvalidError:
        return _verdict(Verdict.MALFORMED)
    if signed.kind != DOCUMENT_SIGNED_KIND:
        return _verdict(Verdict.MALFORMED)
    payload = _read_payload(signed)
    if (
        payload is None
        or payload.issued_at.tzinfo is None
        or payload.issued_at > now + _CLOCK_SLACK
    ):
        return _verdict(Verdict.MALFORMED)
    record = registry.get(signed.signer)
    if record is None or not record.public_key:
        return _verdict(Verdict.UNKNOWN_ISSUER, payload=payload)
    try:
        key = VerifyKey.from_text(record.public_key)
        verify_document(signed, key, kind=DOCUMENT_SIGNED_KIND)
    except (InvalidError, SignatureInvalidError):
        return _verdict(Verdict.BAD_SIGNATURE, payload=payload, issuer=record.name)
    if record.status is not NodeStatus.ACTIVE:
        return _verdict(Verdict.REVOKED_ISSUER, payload=payload, issuer=record.name)
    return _verdict(Verdict.VALID, payload=payload, issuer=record.name)


def _verdict(
    verdict: Verdict, *, payload: DocumentPayload | None = None, issuer: str | None = None
) -> DocumentCheck:
    return DocumentCheck(
        verdict=verdict, message=verdict.message, issuer_name=issuer, payload=payload
    )

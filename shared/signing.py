"""Ed25519 keys, signatures and signed documents.

Everything here is pure: keys come in and go out as bytes or text. Writing a key file (mode
:data:`KEY_FILE_MODE`) is the job of a small I/O module outside ``shared``; it writes the bytes
returned by :meth:`SigningKey.to_pem`.

Text forms chosen here, and relied on by registries and user interfaces:

* public key text: ``"ed25519:"`` followed by the 32 raw key bytes in base64url without
  padding (43 characters), see :meth:`VerifyKey.to_text`;
* fingerprint: the first 16 hex digits of SHA-256 over the raw public key, lower case, in four
  groups of four joined by ``":"`` (``"3f2a:09bc:77d1:e0a4"``). It is for people comparing keys
  by eye and for naming keys in a signed document; registries store the full key.

Structured data is signed over :func:`canonical_bytes`. A verifier checks the exact bytes that
were signed and never re-encodes a decoded payload, so encoder differences cannot break a
signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Final, TypeVar

import msgspec
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.errors import InvalidError, SignatureInvalidError

__all__ = [
    "KEY_FILE_MODE",
    "SIGNED_DOCUMENT_VERSION",
    "SignedDocument",
    "SigningKey",
    "VerifyKey",
    "canonical_bytes",
    "decode_payload",
    "sign_document",
    "verify_document",
]

KEY_FILE_MODE: Final = 0o600
"""Permissions for a private key file: owner read/write only."""

SIGNED_DOCUMENT_VERSION: Final = 1

_KEY_TEXT_PREFIX: Final = "ed25519:"
_KEY_TEXT_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_RAW_KEY_LEN: Final = 32
_SIGNATURE_LEN: Final = 64
# Integers beyond ±(2**53 - 1) lose precision in JavaScript and other double-based JSON readers.
_MAX_SAFE_INT: Final = 2**53 - 1
# Domain separation: a signature over a document can never be replayed as a signature over
# some other message this project signs.
_DOCUMENT_CONTEXT: Final = b"tongban/signed-document"

T = TypeVar("T")


def _key_invalid(message: str) -> InvalidError:
    return InvalidError(message, code="key_invalid")


class VerifyKey:
    """An Ed25519 public key. Equal and hashed by its 32 raw bytes."""

    __slots__ = ("_key", "_raw")

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        self._raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> VerifyKey:
        """Load a public key from its 32 raw bytes.

        Raises:
            InvalidError: ``code="key_invalid"`` when ``raw`` is not 32 bytes.
        """
        if not isinstance(raw, bytes) or len(raw) != _RAW_KEY_LEN:
            raise _key_invalid("公钥格式不正确：应为 32 字节的 Ed25519 公钥。")
        try:
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError as exc:
            raise _key_invalid("公钥格式不正确：无法读取 Ed25519 公钥。") from exc

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        """Load a public key from the text made by :meth:`to_text`; surrounding spaces are ignored.

        Raises:
            InvalidError: ``code="key_invalid"`` for anything else.
        """
        stripped = text.strip() if isinstance(text, str) else ""
        body = stripped.removeprefix(_KEY_TEXT_PREFIX)
        if body == stripped or not _KEY_TEXT_RE.fullmatch(body):
            raise _key_invalid(
                "公钥文本格式不正确：应以“ed25519:”开头，后接 43 个字符的 base64url 编码。"
            )
        raw = base64.urlsafe_b64decode(body + "=")
        key = cls.from_bytes(raw)
        # Two spare bits in the last character would let one key have several spellings.
        if key.to_text() != stripped:
            raise _key_invalid("公钥文本不是规范编码，请从原始来源重新复制。")
        return key

    @property
    def raw(self) -> bytes:
        """The 32 raw key bytes."""
        return self._raw

    def to_text(self) -> str:
        """``"ed25519:"`` + base64url of the raw key, without padding."""
        return _KEY_TEXT_PREFIX + base64.urlsafe_b64encode(self._raw).decode("ascii").rstrip("=")

    def fingerprint(self) -> str:
        """Short stable id such as ``"3f2a:09bc:77d1:e0a4"`` (64 bits of SHA-256 of the raw key)."""
        digest = hashlib.sha256(self._raw).hexdigest()[:16]
        return ":".join(digest[i : i + 4] for i in range(0, 16, 4))

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check an Ed25519 signature over ``message``.

        Raises:
            SignatureInvalidError: the signature is not 64 bytes, either argument is not bytes,
                or the signature does not match this key and message.
        """
        if not isinstance(signature, bytes) or not isinstance(message, bytes):
            raise SignatureInvalidError("签名或被签名的内容类型不正确，无法校验。")
        if len(signature) != _SIGNATURE_LEN:
            raise SignatureInvalidError("签名长度不正确，签名已损坏或不是 Ed25519 签名。")
        try:
            self._key.verify(signature, message)
        except InvalidSignature as exc:
            raise SignatureInvalidError(
                "签名校验失败：内容可能被篡改，或并非由该密钥签名。"
            ) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.to_text()!r})"


class SigningKey:
    """An Ed25519 private key. Its repr never shows key material."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> SigningKey:
        """Load a key from its 32-byte seed (the RFC 8032 "secret key").

        Raises:
            InvalidError: ``code="key_invalid"`` when ``raw`` is not 32 bytes.
        """
        if not isinstance(raw, bytes) or len(raw) != _RAW_KEY_LEN:
            raise _key_invalid("私钥格式不正确：应为 32 字节的 Ed25519 私钥。")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Load an unencrypted PKCS#8 PEM private key, as written by :meth:`to_pem`.

        Raises:
            InvalidError: ``code="key_invalid"`` when the PEM is malformed, encrypted, or holds
                a key that is not Ed25519.
        """
        if not isinstance(data, bytes):
            raise _key_invalid("私钥文件内容类型不正确，应为 PEM 字节串。")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError as exc:  # encrypted PEM and no password
            raise _key_invalid("私钥文件已加密，本系统只能读取未加密的 PEM 私钥。") from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise _key_invalid(
                "私钥文件无法读取：不是有效的 PEM 私钥，请检查文件是否完整。"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise _key_invalid("私钥类型不正确：本系统只使用 Ed25519 私钥。")
        return cls(key)

    def private_bytes(self) -> bytes:
        """The 32-byte seed. Treat as secret."""
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM: the bytes to write to a key file with :data:`KEY_FILE_MODE`."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> VerifyKey:
        """The matching public key."""
        return VerifyKey(self._key.public_key())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``message``."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(fingerprint={self.public_key.fingerprint()!r})"


def _check_canonical(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise InvalidError(
            f"待签名数据中的 {path} 是浮点数；浮点数的文本表示不唯一，请改用整数或字符串。",
            code="canonical_float",
        )
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise InvalidError(
                f"待签名数据中的 {path} 整数超出 ±(2^53-1) 范围，请改用字符串表示。",
                code="canonical_int_range",
            )
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_canonical(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidError(
                    f"待签名数据中的 {path} 含有非字符串的键 {key!r}。", code="canonical_key"
                )
            _check_canonical(item, f"{path}.{key}")
        return
    raise InvalidError(f"待签名数据中的 {path} 类型无法规范编码。", code="canonical_type")


def canonical_bytes(obj: object) -> bytes:
    """Deterministic UTF-8 JSON for signing structured data.

    Structs, dataclasses, dicts, lists, tuples, sets, str, int, bool, None, ``date`` and
    ``datetime`` (and the other types msgspec turns into strings: bytes as base64, UUID, Decimal,
    enums) are accepted. Object keys and struct fields are sorted by code point, sets are sorted,
    output is compact with no spaces. Floats are refused because their text form differs between
    implementations; integers must be within ±(2**53 - 1) for the same reason. Dict keys must be
    strings.

    Args:
        obj: the value to encode.

    Returns:
        The bytes to sign. Keep them; verify against them, never against a re-encoding.

    Raises:
        InvalidError: a float, an out-of-range integer, a non-string key or an unsupported type.
    """
    try:
        builtins = msgspec.to_builtins(obj, order="sorted")
    except TypeError as exc:
        raise InvalidError(
            "待签名数据含有无法规范编码的类型或无法排序的键。", code="canonical_type"
        ) from exc
    _check_canonical(builtins, "$")
    return msgspec.json.encode(builtins, order="sorted")


class SignedDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A payload with an Ed25519 signature, used for notices, certificates and catalog releases.

    The signature covers ``version``, ``kind``, ``signer``, ``key_id`` and the exact ``payload``
    bytes, so a signed notice cannot be passed off as a certificate or re-attributed. In JSON,
    ``payload`` and ``signature`` appear as standard base64 text.

    Attributes:
        version: format of this wrapper; currently :data:`SIGNED_DOCUMENT_VERSION`.
        kind: what the payload is, e.g. ``"notice"``, ``"certificate"``, ``"catalog_release"``.
        signer: id of the signing node or body as the caller's registry knows it.
        key_id: :meth:`VerifyKey.fingerprint` of the signing key, to pick a key during rotation.
        payload: canonical JSON bytes of the signed value (see :func:`canonical_bytes`).
        signature: 64-byte Ed25519 signature.
    """

    version: int = SIGNED_DOCUMENT_VERSION
    kind: str
    signer: str
    key_id: str
    payload: bytes
    signature: bytes


def _signing_input(version: int, kind: str, signer: str, key_id: str, payload: bytes) -> bytes:
    # Length-prefixed framing: no field boundary can be shifted to forge another document.
    parts = [_DOCUMENT_CONTEXT, str(version).encode(), kind.encode(), signer.encode()]
    parts += [key_id.encode(), payload]
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def sign_document(
    key: SigningKey, payload_obj: object, *, kind: str, signer: str
) -> SignedDocument:
    """Sign ``payload_obj`` as a :class:`SignedDocument`.

    Args:
        key: the signer's private key.
        payload_obj: any value :func:`canonical_bytes` accepts.
        kind: what the payload is; checked again by :func:`verify_document`.
        signer: id of the signer in the caller's registry.

    Raises:
        InvalidError: empty ``kind`` or ``signer``, or a payload that cannot be encoded.
    """
    if not kind.strip() or not signer.strip():
        raise InvalidError("签名文件的类型和签发方不能为空。", code="signed_document_invalid")
    payload = canonical_bytes(payload_obj)
    key_id = key.public_key.fingerprint()
    message = _signing_input(SIGNED_DOCUMENT_VERSION, kind, signer, key_id, payload)
    return SignedDocument(
        kind=kind, signer=signer, key_id=key_id, payload=payload, signature=key.sign(message)
    )


def verify_document(doc: SignedDocument, key: VerifyKey, *, kind: str | None = None) -> None:
    """Check that ``doc`` was signed by ``key`` and, if given, is of ``kind``.

    Raises:
        SignatureInvalidError: unknown version (``signature_format_unsupported``), wrong kind
            (``signature_kind_mismatch``), a key other than the one named in the document
            (``signature_key_mismatch``), or a bad signature.
    """
    if doc.version != SIGNED_DOCUMENT_VERSION:
        raise SignatureInvalidError(
            f"签名文件格式版本 {doc.version} 不受支持，请升级软件后再校验。",
            code="signature_format_unsupported",
        )
    if kind is not None and doc.kind != kind:
        raise SignatureInvalidError(
            f"签名文件类型不符：应为“{kind}”，实际为“{doc.kind}”。",
            code="signature_kind_mismatch",
        )
    if doc.key_id != key.fingerprint():
        raise SignatureInvalidError(
            f"签名文件由密钥 {doc.key_id} 签发，与用于校验的密钥 {key.fingerprint()} 不一致。",
            code="signature_key_mismatch",
        )
    message = _signing_input(doc.version, doc.kind, doc.signer, doc.key_id, doc.payload)
    key.verify(doc.signature, message)


def decode_payload(doc: SignedDocument, type_: type[T]) -> T:
    """Decode a document's payload into ``type_``. Call :func:`verify_document` first.

    Raises:
        InvalidError: ``code="signed_payload_invalid"`` when the payload does not fit ``type_``.
    """
    try:
        return msgspec.json.decode(doc.payload, type=type_)
    except msgspec.ValidationError as exc:
        raise InvalidError(
            f"签名文件内容与预期结构不符：{exc}", code="signed_payload_invalid"
        ) from exc
    except msgspec.DecodeError as exc:
        raise InvalidError("签名文件内容不是有效的 JSON。", code="signed_payload_invalid") from exc

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidError, SignatureInvalidError
from shared.signing import (
    KEY_FILE_MODE,
    SignedDocument,
    SigningKey,
    VerifyKey,
    canonical_bytes,
    decode_payload,
    sign_document,
    verify_document,
)

# RFC 8032 section 7.1, TEST 1-3: (secret key, public key, message, signature).
RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

KEY = SigningKey.from_private_bytes(bytes.fromhex(RFC8032_VECTORS[0][0]))
OTHER_KEY = SigningKey.from_private_bytes(bytes.fromhex(RFC8032_VECTORS[1][0]))


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_signing_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = SigningKey.from_private_bytes(bytes.fromhex(secret))
    assert key.private_bytes().hex() == secret
    assert key.public_key.raw.hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    VerifyKey.from_bytes(bytes.fromhex(public)).verify(
        bytes.fromhex(signature), bytes.fromhex(message)
    )


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_signing_round_trip_any_message(message: bytes) -> None:
    signature = KEY.sign(message)
    assert len(signature) == 64
    KEY.public_key.verify(signature, message)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_signing_tampered_message_rejected(message: bytes, data: st.DataObject) -> None:
    signature = KEY.sign(message)
    index = data.draw(st.integers(0, len(message) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = bytearray(message)
    tampered[index] ^= flip
    with pytest.raises(SignatureInvalidError):
        KEY.public_key.verify(signature, bytes(tampered))


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_signing_tampered_signature_rejected(index: int) -> None:
    signature = bytearray(KEY.sign(b"tongban"))
    signature[index] ^= 0x01
    with pytest.raises(SignatureInvalidError):
        KEY.public_key.verify(bytes(signature), b"tongban")


def test_signing_wrong_key_rejected() -> None:
    with pytest.raises(SignatureInvalidError):
        OTHER_KEY.public_key.verify(KEY.sign(b"tongban"), b"tongban")


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (b"", b"m"),
        (b"\x00" * 63, b"m"),
        (b"\x00" * 65, b"m"),
        ("0" * 64, b"m"),
        (bytearray(64), b"m"),
        (b"\x00" * 64, "m"),
        (None, b"m"),
    ],
)
def test_signing_malformed_signature_raises_ours(signature: object, message: object) -> None:
    with pytest.raises(SignatureInvalidError):
        KEY.public_key.verify(signature, message)  # type: ignore[arg-type]


def test_signing_pem_round_trip() -> None:
    pem = KEY.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = SigningKey.from_pem(pem)
    assert loaded.private_bytes() == KEY.private_bytes()
    assert loaded.public_key == KEY.public_key
    assert KEY_FILE_MODE == 0o600


def test_signing_generate_gives_distinct_working_keys() -> None:
    first, second = SigningKey.generate(), SigningKey.generate()
    assert first.public_key != second.public_key
    first.public_key.verify(first.sign(b"x"), b"x")


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"not a pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "text, not bytes",
    ],
)
def test_signing_malformed_pem_is_key_invalid(pem: object) -> None:
    with pytest.raises(InvalidError) as info:
        SigningKey.from_pem(pem)  # type: ignore[arg-type]
    assert info.value.code == "key_invalid"


def test_signing_wrong_key_type_pem_is_key_invalid() -> None:
    ec_pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidError) as info:
        SigningKey.from_pem(ec_pem)
    assert info.value.code == "key_invalid"
    assert "Ed25519" in info.value.message


def test_signing_encrypted_pem_is_key_invalid() -> None:
    encrypted = KEY._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    )
    with pytest.raises(InvalidError) as info:
        SigningKey.from_pem(encrypted)
    assert info.value.code == "key_invalid"
    assert "加密" in info.value.message


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_signing_raw_key_wrong_length_is_key_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidError) as info:
        SigningKey.from_private_bytes(raw)
    assert info.value.code == "key_invalid"
    with pytest.raises(InvalidError) as info:
        VerifyKey.from_bytes(raw)
    assert info.value.code == "key_invalid"


def test_signing_key_text_exact_value_and_round_trip() -> None:
    # RFC 8032 TEST 1 public key; value cross-checked with coreutils `basenc --base64url`.
    expected = "ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert KEY.public_key.to_text() == expected
    assert VerifyKey.from_text(f"  {expected}\n") == KEY.public_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ed25519:",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "rsa:" + "A" * 43,
        "ed25519:" + "A" * 42,
        "ed25519:" + "A" * 44,
        "ed25519:" + "A" * 42 + "+",
        "ed25519:" + "A" * 42 + "B",  # non-zero spare bits: not the canonical spelling
    ],
)
def test_signing_key_text_malformed_is_key_invalid(text: str) -> None:
    with pytest.raises(InvalidError) as info:
        VerifyKey.from_text(text)
    assert info.value.code == "key_invalid"


def test_signing_fingerprint_format_and_value() -> None:
    # sha256sum of the RFC 8032 TEST 1 public key starts 21fe31dfa154a261.
    assert KEY.public_key.fingerprint() == "21fe:31df:a154:a261"
    assert KEY.public_key.fingerprint() != OTHER_KEY.public_key.fingerprint()


def test_signing_verify_key_equality_and_hash_by_raw() -> None:
    again = VerifyKey.from_bytes(KEY.public_key.raw)
    assert again == KEY.public_key
    assert len({again, KEY.public_key, OTHER_KEY.public_key}) == 2
    assert again != KEY.public_key.raw


def test_signing_repr_hides_private_key() -> None:
    assert KEY.private_bytes().hex() not in repr(KEY)
    assert KEY.public_key.fingerprint() in repr(KEY)


class Sample(msgspec.Struct, frozen=True, kw_only=True):
    zeta: int
    alpha: str
    day: date


def test_canonical_bytes_exact_output() -> None:
    value = {"b": [1, True, None], "a": Sample(zeta=3, alpha="中", day=date(2026, 11, 22))}
    assert canonical_bytes(value) == (
        '{"a":{"alpha":"中","day":"2026-11-22","zeta":3},"b":[1,true,null]}'.encode()
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
def test_canonical_bytes_ignores_key_order(value: dict[str, object], rnd: object) -> None:
    items = list(value.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert canonical_bytes(dict(items)) == canonical_bytes(value)
    assert msgspec.json.decode(canonical_bytes(value)) == value


class WithFloat(msgspec.Struct, frozen=True, kw_only=True):
    amount: float


@pytest.mark.parametrize("value", [1.5, {"a": 0.0}, [1, [2, float("nan")]], WithFloat(amount=2.0)])
def test_canonical_bytes_refuses_float(value: object) -> None:
    with pytest.raises(InvalidError) as info:
        canonical_bytes(value)
    assert info.value.code == "canonical_float"


def test_canonical_bytes_refuses_unsafe_int_and_non_str_keys() -> None:
    assert canonical_bytes(2**53 - 1) == b"9007199254740991"
    with pytest.raises(InvalidError) as info:
        canonical_bytes([2**53])
    assert info.value.code == "canonical_int_range"
    with pytest.raises(InvalidError) as info:
        canonical_bytes({1: "a"})
    assert info.value.code == "canonical_key"
    with pytest.raises(InvalidError) as info:
        canonical_bytes(object())
    assert info.value.code == "canonical_type"


def test_canonical_bytes_sorts_sets() -> None:
    assert canonical_bytes({"s": {"b", "c", "a"}}) == b'{"s":["a","b","c"]}'


def test_signed_document_round_trip_through_json() -> None:
    payload = Sample(zeta=7, alpha="受理", day=date(2026, 11, 22))
    doc = sign_document(KEY, payload, kind="notice", signer="node:SFZ")
    assert doc.payload == canonical_bytes(payload)
    assert doc.key_id == KEY.public_key.fingerprint()
    wire = msgspec.json.encode(doc)
    back = msgspec.json.decode(wire, type=SignedDocument)
    assert back == doc
    verify_document(back, KEY.public_key, kind="notice")
    assert decode_payload(back, Sample) == payload


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": "certificate"}, "signature_invalid"),
        ({"signer": "node:XYZ"}, "signature_invalid"),
        ({"payload": b'{"alpha":"x","day":"2026-11-22","zeta":7}'}, "signature_invalid"),
        ({"signature": bytes(64)}, "signature_invalid"),
        ({"version": 2}, "signature_format_unsupported"),
        ({"key_id": "0000:0000:0000:0000"}, "signature_key_mismatch"),
    ],
)
def test_signed_document_tampering_rejected(change: dict[str, object], code: str) -> None:
    doc = sign_document(KEY, {"n": 1}, kind="notice", signer="node:SFZ")
    tampered = msgspec.structs.replace(doc, **change)
    with pytest.raises(SignatureInvalidError) as info:
        verify_document(tampered, KEY.public_key)
    assert info.value.code == code


def test_signed_document_wrong_key_or_kind_rejected() -> None:
    doc = sign_document(KEY, {"n": 1}, kind="notice", signer="node:SFZ")
    with pytest.raises(SignatureInvalidError) as info:
        verify_document(doc, OTHER_KEY.public_key)
    assert info.value.code == "signature_key_mismatch"
    with pytest.raises(SignatureInvalidError) as info:
        verify_document(doc, KEY.public_key, kind="certificate")
    assert info.value.code == "signature_kind_mismatch"


def test_signed_document_requires_kind_and_signer() -> None:
    with pytest.raises(InvalidError):
        sign_document(KEY, {}, kind=" ", signer="node:SFZ")
    with pytest.raises(InvalidError):
        sign_document(KEY, {}, kind="notice", signer="")


def test_signed_document_payload_of_wrong_shape_is_invalid() -> None:
    doc = sign_document(KEY, {"zeta": "not an int"}, kind="notice", signer="node:SFZ")
    with pytest.raises(InvalidError) as info:
        decode_payload(doc, Sample)
    assert info.value.code == "signed_payload_invalid"

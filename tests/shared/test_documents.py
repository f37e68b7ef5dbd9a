"""Signed window documents: compact QR text round trip, tampering, issuers in the registry."""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.delegation import Tier
from shared.documents import (
    COMPACT_PREFIX,
    CertificateContent,
    DocumentKind,
    DocumentPayload,
    Verdict,
    check_document,
    decode_compact,
    encode_compact,
    sign_payload,
)
from shared.errors import InvalidError
from shared.notices import NoticeKind, build_notice
from shared.registry import NodeRecord, NodeStatus, Registry
from shared.signing import SigningKey

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
KEY = SigningKey.generate()


def registry(status: NodeStatus = NodeStatus.ACTIVE, key: SigningKey = KEY) -> Registry:
    return Registry(
        nodes=(
            NodeRecord(
                node_id="county",
                name="示范县政务服务中心",
                tier=Tier.COUNTY,
                parent=None,
                short_code="XZX",
            ),
            NodeRecord(
                node_id="zhen-shifan",
                name="示范镇便民服务中心",
                tier=Tier.TOWNSHIP,
                parent="county",
                short_code="SFZ",
                public_key=key.public_key.to_text(),
                status=status,
            ),
        )
    )


def notice_payload(applicant: str = "王秀英", item: str = "林木采伐许可证核发") -> DocumentPayload:
    notice = build_notice(
        NoticeKind.ACCEPTANCE,
        "示范镇受〔2026〕第000001号",
        date(2026, 3, 2),
        "示范镇便民服务中心",
        receipt_no="SFZ-20260302-0001-E",
        applicant=applicant,
        contact="13800000000",
        item=item,
        accepted_on="2026年3月2日",
        materials_received=["申请表"],
        promised_due_date="2026年3月5日",
        officer="clerk1",
        officer_phone="0000-6100104",
        seal="示范镇便民服务中心",
    )
    return DocumentPayload(
        issuer_node="zhen-shifan",
        issuer_name="示范镇便民服务中心",
        document_no="示范镇受〔2026〕第000001号",
        kind=DocumentKind.ACCEPTANCE,
        case_id="c-1",
        receipt_no="SFZ-20260302-0001-E",
        issued_at=NOW,
        notice=notice,
    )


def compact(payload: DocumentPayload | None = None, key: SigningKey = KEY) -> str:
    return encode_compact(sign_payload(key, payload or notice_payload()))


def test_a_signed_notice_checks_out_with_its_content() -> None:
    text = compact()
    assert text.startswith(COMPACT_PREFIX)
    check = check_document(text, registry(), NOW)
    assert check.verdict is Verdict.VALID and check.valid
    assert check.issuer_name == "示范镇便民服务中心"
    assert check.payload is not None and check.payload.notice is not None
    assert check.payload.notice.fields["applicant"] == "王秀英"
    assert "验证通过" in check.message


@settings(max_examples=40, deadline=None)
@given(
    applicant=st.text(min_size=1, max_size=30).filter(lambda s: s.strip()),
    item=st.text(min_size=1, max_size=60).filter(lambda s: s.strip()),
)
def test_compact_round_trip_for_any_content(applicant: str, item: str) -> None:
    signed = sign_payload(KEY, notice_payload(applicant, item))
    assert decode_compact(encode_compact(signed)) == signed
    check = check_document(encode_compact(signed), registry(), NOW)
    assert check.valid
    assert check.payload is not None and check.payload.notice is not None
    assert check.payload.notice.fields["applicant"] == applicant.strip()


SIGNED = sign_payload(KEY, notice_payload())


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_changing_any_byte_of_the_signed_document_fails(data: st.DataObject) -> None:
    raw = bytearray(msgspec.json.encode(SIGNED))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))
    text = COMPACT_PREFIX + base64.urlsafe_b64encode(zlib.compress(bytes(raw))).decode().rstrip("=")
    try:
        if decode_compact(text) == SIGNED:
            return  # a non-canonical spelling of the very same bytes (e.g. base64 slack bits)
    except InvalidError:
        pass
    check = check_document(text, registry(), NOW)
    assert not check.valid
    assert check.verdict in {Verdict.MALFORMED, Verdict.BAD_SIGNATURE, Verdict.UNKNOWN_ISSUER}


def test_a_changed_field_is_a_bad_signature() -> None:
    forged_payload = SIGNED.payload.replace("王秀英".encode(), "李四五".encode())
    forged = msgspec.structs.replace(SIGNED, payload=forged_payload)
    check = check_document(encode_compact(forged), registry(), NOW)
    assert check.verdict is Verdict.BAD_SIGNATURE
    assert check.payload is not None  # shown beside the warning
    assert "篡改" in check.message


def test_unknown_and_revoked_issuers() -> None:
    text = compact()
    other = Registry(nodes=tuple(n for n in registry().nodes if n.node_id != "zhen-shifan"))
    assert check_document(text, other, NOW).verdict is Verdict.UNKNOWN_ISSUER
    revoked = check_document(text, registry(NodeStatus.REVOKED), NOW)
    assert revoked.verdict is Verdict.REVOKED_ISSUER and "吊销" in revoked.message
    assert check_document(text, registry(NodeStatus.QUARANTINED), NOW).verdict is (
        Verdict.REVOKED_ISSUER
    )


def test_a_key_other_than_the_registered_one_is_a_bad_signature() -> None:
    text = compact(key=SigningKey.generate())
    assert check_document(text, registry(), NOW).verdict is Verdict.BAD_SIGNATURE


@pytest.mark.parametrize(
    "text",
    ["", "hello", "tb1.", "tb1.!!!!", "tb2." + compact()[4:], compact()[:-20], compact() + "AAAA"],
)
def test_malformed_texts(text: str) -> None:
    check = check_document(text, registry(), NOW)
    assert check.verdict is Verdict.MALFORMED
    assert check.payload is None
    assert "无法识别" in check.message


def test_decode_compact_raises_a_coded_error() -> None:
    with pytest.raises(InvalidError) as caught:
        decode_compact("tb1.not-zlib")
    assert caught.value.code == "document_malformed"


def test_a_document_from_the_future_is_not_accepted() -> None:
    later = msgspec.structs.replace(notice_payload(), issued_at=NOW + timedelta(days=3))
    assert check_document(compact(later), registry(), NOW).verdict is Verdict.MALFORMED


def test_certificate_payloads_and_kind_mismatch() -> None:
    certificate = CertificateContent(
        certificate_no="SFZ-2026-000001-M",
        title="林木采伐许可证",
        holder="王秀英",
        item="林木采伐许可证核发",
        issued_on=date(2026, 3, 2),
        issuer="示范镇便民服务中心",
    )
    payload = msgspec.structs.replace(
        notice_payload(), kind=DocumentKind.CERTIFICATE, notice=None, certificate=certificate
    )
    check = check_document(compact(payload), registry(), NOW)
    assert check.valid and check.payload is not None
    assert check.payload.certificate == certificate
    with pytest.raises(InvalidError):
        sign_payload(KEY, msgspec.structs.replace(payload, kind=DocumentKind.ACCEPTANCE))
    with pytest.raises(InvalidError):
        sign_payload(KEY, msgspec.structs.replace(payload, notice=notice_payload().notice))

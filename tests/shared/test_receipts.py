from __future__ import annotations

import hashlib
import hmac
import itertools
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidError
from shared.receipts import (
    ALPHABET,
    CertificateNo,
    DocumentNo,
    ReceiptNo,
    _damm_step,
    check_char,
    check_query_code,
    format_certificate_no,
    format_document_no,
    format_receipt_no,
    make_query_code,
    normalize_node_code,
    parse_certificate_no,
    parse_document_no,
    parse_receipt_no,
)

SECRET = b"0123456789abcdef-node-secret"
DAY = date(2026, 11, 22)

node_codes = st.text(alphabet=ALPHABET, min_size=2, max_size=8)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
serials = st.integers(1, 99_999_999)


def test_receipts_quasigroup_is_totally_antisymmetric_with_zero_diagonal() -> None:
    symbols = range(36)
    for x in symbols:
        assert sorted(_damm_step(x, y) for y in symbols) == list(symbols)
        assert sorted(_damm_step(y, x) for y in symbols) == list(symbols)
        assert _damm_step(x, x) == 0
    for c, x, y in itertools.product(symbols, repeat=3):
        if x != y:
            assert _damm_step(_damm_step(c, x), y) != _damm_step(_damm_step(c, y), x)


def test_receipts_check_char_exact_values() -> None:
    assert check_char("") == "0"
    assert check_char("SFZ202611220007") == "9"
    with pytest.raises(InvalidError):
        check_char("SFZ-1")


def test_receipts_format_exact() -> None:
    assert format_receipt_no("SFZ", DAY, 7) == "SFZ-20261122-0007-9"
    assert format_receipt_no("sfz", DAY, 7) == "SFZ-20261122-0007-9"


def test_receipts_serial_widens_past_9999() -> None:
    assert format_receipt_no("SFZ", DAY, 9999).split("-")[2] == "9999"
    widened = format_receipt_no("SFZ", DAY, 12345)
    assert widened.split("-")[2] == "12345"
    assert parse_receipt_no(widened) == ReceiptNo(node_code="SFZ", day=DAY, serial=12345)


@pytest.mark.parametrize(
    "text",
    [
        "SFZ-20261122-0007-9",
        "  sfz-20261122-0007-9 \n",
        "ＳＦＺ－２０２６１１２２－０００７－９",
    ],
)
def test_receipts_parse_tolerant_spellings(text: str) -> None:
    parsed = parse_receipt_no(text)
    assert parsed == ReceiptNo(node_code="SFZ", day=DAY, serial=7)
    assert str(parsed) == "SFZ-20261122-0007-9"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SFZ-20261122-0007",
        "SFZ20261122-0007-9",
        "S-20261122-0007-9",
        "ABCDEFGHI-20261122-0007-9",
        "SFZ-2026112-0007-9",
        "SFZ-20261122-007-9",
        "SFZ-20261122-00007-9",
        "SFZ-20261122-0007-99",
        "SFZ 20261122 0007 9",
        "SF_Z-20261122-0007-9",
    ],
)
def test_receipts_parse_malformed_is_invalid(text: str) -> None:
    with pytest.raises(InvalidError) as info:
        parse_receipt_no(text)
    assert info.value.code == "receipt_no_invalid"
    assert "格式不正确" in info.value.message


def test_receipts_parse_impossible_date_or_zero_serial_is_invalid() -> None:
    body = "SFZ202602300007"
    with pytest.raises(InvalidError) as info:
        parse_receipt_no(f"SFZ-20260230-0007-{check_char(body)}")
    assert info.value.code == "receipt_no_invalid"
    assert "20260230" in info.value.message
    with pytest.raises(InvalidError) as info:
        parse_receipt_no(f"SFZ-20261122-0000-{check_char('SFZ202611220000')}")
    assert info.value.code == "receipt_no_invalid"


def test_receipts_parse_wrong_check_char() -> None:
    with pytest.raises(InvalidError) as info:
        parse_receipt_no("SFZ-20261122-0007-8")
    assert info.value.code == "receipt_no_check_failed"
    assert "校验位" in info.value.message


@pytest.mark.parametrize(
    ("code", "day", "serial"),
    [
        ("S", DAY, 1),
        ("ABCDEFGHI", DAY, 1),
        ("SF-Z", DAY, 1),
        ("SFZ", DAY, 0),
        ("SFZ", DAY, 100_000_000),
        ("SFZ", datetime(2026, 11, 22, 10, 0), 1),
    ],
)
def test_receipts_format_rejects_bad_parts(code: str, day: date, serial: int) -> None:
    with pytest.raises(InvalidError):
        format_receipt_no(code, day, serial)


def test_receipts_normalize_node_code() -> None:
    assert normalize_node_code(" sfz01 ") == "SFZ01"
    with pytest.raises(InvalidError) as info:
        normalize_node_code("示范镇")
    assert info.value.code == "node_code_invalid"


@settings(max_examples=200, deadline=None)
@given(node_codes, days, serials)
def test_receipts_format_parse_round_trip(code: str, day: date, serial: int) -> None:
    text = format_receipt_no(code, day, serial)
    parsed = parse_receipt_no(text.lower())
    assert parsed == ReceiptNo(node_code=code, day=day, serial=serial)
    assert parsed.text == text


SUBSTITUTES = ALPHABET + "-"


@settings(max_examples=200, deadline=None)
@given(node_codes, days, serials, st.data())
def test_receipts_single_substitution_detected(
    code: str, day: date, serial: int, data: st.DataObject
) -> None:
    text = format_receipt_no(code, day, serial)
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(SUBSTITUTES).filter(lambda ch: ch != text[index]))
    with pytest.raises(InvalidError):
        parse_receipt_no(text[:index] + replacement + text[index + 1 :])


@settings(max_examples=200, deadline=None)
@given(node_codes, days, serials)
def test_receipts_every_adjacent_transposition_detected(code: str, day: date, serial: int) -> None:
    text = format_receipt_no(code, day, serial)
    for i in range(len(text) - 1):
        if text[i] == text[i + 1]:
            continue
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        with pytest.raises(InvalidError):
            parse_receipt_no(swapped)


def test_receipts_query_code_exact_and_deterministic() -> None:
    receipt = "SFZ-20261122-0007-9"
    digest = hmac.new(
        SECRET, b"tongban/query-code/v1\x00" + receipt.encode(), hashlib.sha256
    ).digest()
    expected = f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"
    code = make_query_code(SECRET, receipt)
    assert code == expected
    assert len(code) == 6
    assert code.isdigit()
    assert make_query_code(SECRET, " sfz-20261122-0007-9 ") == code


def test_receipts_query_code_depends_on_secret_and_receipt() -> None:
    receipts = [format_receipt_no("SFZ", DAY, n) for n in range(1, 41)]
    codes = {make_query_code(SECRET, r) for r in receipts}
    assert len(codes) >= 39
    other_secret = {make_query_code(b"another-secret-of-16+", r) for r in receipts}
    assert codes != other_secret


def test_receipts_check_query_code() -> None:
    receipt = "SFZ-20261122-0007-9"
    code = make_query_code(SECRET, receipt)
    assert check_query_code(SECRET, receipt, code)
    assert check_query_code(SECRET, receipt.lower(), f" {code[:3]} {code[3:]} ")
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert check_query_code(SECRET, receipt, full_width)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert not check_query_code(SECRET, receipt, wrong)
    assert not check_query_code(SECRET, receipt, "")
    assert not check_query_code(SECRET, receipt, code + "0")
    with pytest.raises(InvalidError):
        check_query_code(SECRET, "SFZ-20261122-0007-8", code)


def test_receipts_query_code_short_secret_refused() -> None:
    with pytest.raises(InvalidError) as info:
        make_query_code(b"short", "SFZ-20261122-0007-9")
    assert info.value.code == "query_secret_invalid"


def test_receipts_document_no_exact() -> None:
    assert format_document_no("示范镇受", 2026, 123) == "示范镇受〔2026〕第000123号"
    assert format_document_no("示范镇受", 2026, 1_234_567) == "示范镇受〔2026〕第1234567号"


@pytest.mark.parametrize(
    "text",
    ["示范镇受〔2026〕第000123号", " 示范镇受[2026]第000123号 ", "示范镇受［2026］第000123号"],
)
def test_receipts_document_no_parse(text: str) -> None:
    parsed = parse_document_no(text)
    assert parsed == DocumentNo(prefix="示范镇受", year=2026, serial=123)
    assert str(parsed) == "示范镇受〔2026〕第000123号"


@pytest.mark.parametrize(
    "text",
    [
        "〔2026〕第000123号",
        "示范镇受〔26〕第000123号",
        "示范镇受〔2026〕第123号",
        "示范镇受2026第000123号",
    ],
)
def test_receipts_document_no_parse_invalid(text: str) -> None:
    with pytest.raises(InvalidError) as info:
        parse_document_no(text)
    assert info.value.code == "document_no_invalid"


@pytest.mark.parametrize(
    ("prefix", "year", "serial"),
    [
        ("", 2026, 1),
        ("示范 镇受", 2026, 1),
        ("示范〔镇", 2026, 1),
        ("示范镇受", 26, 1),
        ("示范镇受", 2026, 0),
    ],
)
def test_receipts_document_no_rejects_bad_parts(prefix: str, year: int, serial: int) -> None:
    with pytest.raises(InvalidError):
        format_document_no(prefix, year, serial)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="示范镇县受补不延许审批局办中心", min_size=1, max_size=10),
    st.integers(1000, 9999),
    serials,
)
def test_receipts_document_no_round_trip(prefix: str, year: int, serial: int) -> None:
    text = format_document_no(prefix, year, serial)
    assert parse_document_no(text) == DocumentNo(prefix=prefix, year=year, serial=serial)


def test_receipts_certificate_no_exact() -> None:
    assert format_certificate_no("sfz", 2026, 123) == "SFZ-2026-000123-M"
    assert parse_certificate_no(" sfz-2026-000123-m ") == CertificateNo(
        issuer_code="SFZ", year=2026, serial=123
    )
    with pytest.raises(InvalidError) as info:
        parse_certificate_no("SFZ-2026-000123-N")
    assert info.value.code == "certificate_no_check_failed"
    with pytest.raises(InvalidError) as info:
        parse_certificate_no("SFZ-20261122-0007-9")
    assert info.value.code == "certificate_no_invalid"


@settings(max_examples=200, deadline=None)
@given(node_codes, st.integers(1000, 9999), serials, st.data())
def test_receipts_certificate_no_round_trip_and_typos_detected(
    code: str, year: int, serial: int, data: st.DataObject
) -> None:
    text = format_certificate_no(code, year, serial)
    assert parse_certificate_no(text).text == text
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(SUBSTITUTES).filter(lambda ch: ch != text[index]))
    with pytest.raises(InvalidError):
        parse_certificate_no(text[:index] + replacement + text[index + 1 :])
    for i in range(len(text) - 1):
        if text[i] != text[i + 1]:
            with pytest.raises(InvalidError):
                parse_certificate_no(text[:i] + text[i + 1] + text[i] + text[i + 2 :])

"""Receipt numbers, query codes, notice document numbers and certificate numbers.

Receipt number (受理编号 / 办件编号)::

    SFZ-20261122-0007-9
    │   │        │    └ check character (0-9, A-Z), see below
    │   │        └───── per-node, per-day serial from 1; four digits with leading zeros, and
    │   │               simply more digits past 9999 (widened, never wrapped)
    │   └────────────── China-time day the case was received, yyyymmdd
    └────────────────── the node's registered short code, 2-8 of A-Z and 0-9

The node code makes the number unique across the county without any coordination, so an
offline node can issue numbers. Groups are separated by ``-`` so a clerk can read it over the
phone in four breaths. Parsing ignores case and surrounding spaces and accepts full-width
characters (NFKC), as typed with a Chinese input method.

Check character: the Damm algorithm over the 36 symbols ``0-9A-Z``, computed over the
characters of the number without the separators. The quasigroup is the direct product of
GF(4) with ``x*y = w(x+y)`` and Z9 with ``x*y = 2(x-y)``; it is totally anti-symmetric with a
zero diagonal, so every single-character substitution and every adjacent transposition
(including one with the check character) is caught before a lookup. ISO 7064 MOD 37,36 was not
used: it lets some adjacent transpositions such as ``01``/``10`` through.

Query code (查询码): six digits derived by HMAC-SHA256 from a node secret and the receipt
number, printed on the receipt so the applicant can look up progress. It is only as strong as
six digits: callers must rate-limit lookups.

Document number (文书编号): ``<机关简称+性质>〔<year>〕第<6-digit serial>号``, e.g.
``示范镇受〔2026〕第000123号``. Certificate number (project-owned, not the national licence
OID): ``<issuer code>-<year>-<6-digit serial>-<check>``, e.g. ``SFZ-2026-000123-M``, with the
same check character.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date, datetime
from typing import Final

import msgspec

from shared.errors import InvalidError

__all__ = [
    "ALPHABET",
    "CertificateNo",
    "DocumentNo",
    "ReceiptNo",
    "check_char",
    "check_query_code",
    "format_certificate_no",
    "format_document_no",
    "format_receipt_no",
    "make_query_code",
    "normalize_node_code",
    "parse_certificate_no",
    "parse_document_no",
    "parse_receipt_no",
]

ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE: Final = {ch: i for i, ch in enumerate(ALPHABET)}
_NODE_CODE_RE: Final = re.compile(r"[A-Z0-9]{2,8}")
_SERIAL_RE: Final = r"(?:[0-9]{4}|[1-9][0-9]{4,7})"
_MAX_SERIAL: Final = 99_999_999
_RECEIPT_RE: Final = re.compile(
    rf"(?P<node>[A-Z0-9]{{2,8}})-(?P<day>[1-9][0-9]{{7}})-(?P<serial>{_SERIAL_RE})-(?P<check>[0-9A-Z])"
)
_SERIAL6_RE: Final = r"(?:[0-9]{6}|[1-9][0-9]{6,7})"
_CERTIFICATE_RE: Final = re.compile(
    rf"(?P<issuer>[A-Z0-9]{{2,8}})-(?P<year>[1-9][0-9]{{3}})-(?P<serial>{_SERIAL6_RE})-(?P<check>[0-9A-Z])"
)
_DOCUMENT_RE: Final = re.compile(
    rf"(?P<prefix>[^\s〔〕\[\]]+)[〔\[](?P<year>[1-9][0-9]{{3}})[〕\]]第(?P<serial>{_SERIAL6_RE})号"
)
_QUERY_CODE_CONTEXT: Final = b"tongban/query-code/v1\x00"
_MIN_SECRET_LEN: Final = 16


def _mul_w(x: int) -> int:
    # Multiply by the generator w of GF(4) = {0, 1, w, w+1} stored as bits (b1, b0); w^2 = w + 1.
    b1, b0 = x >> 1, x & 1
    return ((b1 ^ b0) << 1) | b1


def _damm_step(interim: int, value: int) -> int:
    # Row/column index = 9 * (GF(4) part) + (Z9 part).
    return 9 * _mul_w((interim // 9) ^ (value // 9)) + (2 * (interim % 9 - value % 9)) % 9


def check_char(data: str) -> str:
    """The Damm check character over ``data``.

    Args:
        data: characters from ``0-9A-Z``.

    Raises:
        InvalidError: a character outside that alphabet.
    """
    interim = 0
    for ch in data:
        value = _VALUE.get(ch)
        if value is None:
            raise InvalidError(
                f"校验位只能按数字和大写字母计算，遇到了“{ch}”。", code="check_input"
            )
        interim = _damm_step(interim, value)
    return ALPHABET[interim]


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


def normalize_node_code(code: str) -> str:
    """Return the canonical node (or issuer) short code: 2-8 of ``A-Z0-9``, upper case.

    Raises:
        InvalidError: ``code="node_code_invalid"``.
    """
    normalized = _normalize(code)
    if not _NODE_CODE_RE.fullmatch(normalized):
        raise InvalidError(
            f"节点简码“{code}”不正确：应为 2 至 8 位大写字母或数字。", code="node_code_invalid"
        )
    return normalized


def _check_serial(serial: int) -> None:
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= _MAX_SERIAL:
        raise InvalidError(
            f"流水号 {serial!r} 不正确：应为 1 至 {_MAX_SERIAL} 的整数。", code="serial_invalid"
        )


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise InvalidError(f"年份 {year!r} 不正确：应为四位数年份。", code="year_invalid")


class ReceiptNo(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed receipt number. ``str(receipt)`` gives the printed form."""

    node_code: str
    day: date
    serial: int

    @property
    def text(self) -> str:
        """The printed form, e.g. ``SFZ-20261122-0007-9``."""
        return format_receipt_no(self.node_code, self.day, self.serial)

    def __str__(self) -> str:
        return self.text


def format_receipt_no(node_code: str, day: date, serial: int) -> str:
    """Build a receipt number.

    Args:
        node_code: the node's registered short code (normalized to upper case).
        day: the China-time day the case was received.
        serial: the node's serial for that day, from 1.

    Raises:
        InvalidError: bad node code, day or serial.
    """
    code = normalize_node_code(node_code)
    if isinstance(day, datetime) or not isinstance(day, date) or day.year < 1000:
        # A datetime might be UTC; the caller must decide the China-time day.
        raise InvalidError(
            "受理编号的日期应为中国时间的日期（date），而不是时间点。", code="day_invalid"
        )
    _check_serial(serial)
    body = f"{code}-{day.year:04d}{day.month:02d}{day.day:02d}-{serial:04d}"
    return f"{body}-{check_char(body.replace('-', ''))}"


def parse_receipt_no(text: str) -> ReceiptNo:
    """Parse a receipt number typed or read out by a person.

    Raises:
        InvalidError: ``receipt_no_invalid`` for a malformed number or impossible date,
            ``receipt_no_check_failed`` when the check character does not match (a typo).
    """
    normalized = _normalize(text)
    match = _RECEIPT_RE.fullmatch(normalized)
    if match is None:
        raise InvalidError(
            f"受理编号“{text.strip()}”格式不正确，应形如 SFZ-20261122-0007-9。",
            code="receipt_no_invalid",
        )
    body = normalized[: match.start("check") - 1].replace("-", "")
    if check_char(body) != match["check"]:
        raise InvalidError(
            f"受理编号“{normalized}”校验位不符，可能有字符输错或前后颠倒，请核对后重新输入。",
            code="receipt_no_check_failed",
        )
    raw_day = match["day"]
    try:
        day = date(int(raw_day[:4]), int(raw_day[4:6]), int(raw_day[6:]))
    except ValueError as exc:
        raise InvalidError(
            f"受理编号“{normalized}”中的日期 {raw_day} 不存在。", code="receipt_no_invalid"
        ) from exc
    if int(match["serial"]) == 0:
        raise InvalidError(f"受理编号“{normalized}”的流水号不能为 0。", code="receipt_no_invalid")
    return ReceiptNo(node_code=match["node"], day=day, serial=int(match["serial"]))


def make_query_code(secret: bytes, receipt_no: str) -> str:
    """The six-digit query code for a receipt number.

    Args:
        secret: the issuing node's query-code secret, at least 16 bytes.
        receipt_no: the receipt number; any spelling :func:`parse_receipt_no` accepts.

    Raises:
        InvalidError: a short secret or a malformed receipt number.
    """
    if not isinstance(secret, bytes) or len(secret) < _MIN_SECRET_LEN:
        raise InvalidError("查询码密钥至少需要 16 字节。", code="query_secret_invalid")
    canonical = parse_receipt_no(receipt_no).text
    digest = hmac.new(secret, _QUERY_CODE_CONTEXT + canonical.encode(), hashlib.sha256).digest()
    # 64 bits reduced mod 10^6: the bias (below 1e-13) is irrelevant.
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def check_query_code(secret: bytes, receipt_no: str, code: str) -> bool:
    """Whether ``code`` is the query code of ``receipt_no``, compared in constant time.

    Spaces and full-width digits in ``code`` are tolerated.

    Raises:
        InvalidError: a short secret or a malformed receipt number (so the applicant can be
            told to check the number rather than the code).
    """
    expected = make_query_code(secret, receipt_no)
    given = unicodedata.normalize("NFKC", code).replace(" ", "") if isinstance(code, str) else ""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class DocumentNo(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed notice document number (文书编号)."""

    prefix: str
    year: int
    serial: int

    @property
    def text(self) -> str:
        """The printed form, e.g. ``示范镇受〔2026〕第000123号``."""
        return format_document_no(self.prefix, self.year, self.serial)

    def __str__(self) -> str:
        return self.text


def format_document_no(prefix: str, year: int, serial: int) -> str:
    """Build a document number such as ``示范镇受〔2026〕第000123号``.

    Args:
        prefix: 机关简称 + 文书性质, e.g. ``"示范镇受"``; no spaces or brackets.
        year: four-digit year of issue.
        serial: the body's yearly serial for this kind of document, from 1.

    Raises:
        InvalidError: empty or malformed prefix, bad year or serial.
    """
    if not isinstance(prefix, str) or not re.fullmatch(r"[^\s〔〕\[\]]+", prefix):
        raise InvalidError(
            f"文书编号前缀“{prefix}”不正确：应为机关简称加文书性质，不含空格和括号。",
            code="document_prefix_invalid",
        )
    _check_year(year)
    _check_serial(serial)
    return f"{prefix}〔{year}〕第{serial:06d}号"


def parse_document_no(text: str) -> DocumentNo:
    """Parse a document number; ``[2026]`` is accepted for ``〔2026〕``.

    Raises:
        InvalidError: ``code="document_no_invalid"``.
    """
    normalized = unicodedata.normalize("NFKC", text).strip()
    match = _DOCUMENT_RE.fullmatch(normalized)
    if match is None:
        raise InvalidError(
            f"文书编号“{text.strip()}”格式不正确，应形如 示范镇受〔2026〕第000123号。",
            code="document_no_invalid",
        )
    if int(match["serial"]) == 0:
        raise InvalidError(f"文书编号“{normalized}”的顺序号不能为 0。", code="document_no_invalid")
    return DocumentNo(prefix=match["prefix"], year=int(match["year"]), serial=int(match["serial"]))


class CertificateNo(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed project certificate number."""

    issuer_code: str
    year: int
    serial: int

    @property
    def text(self) -> str:
        """The printed form, e.g. ``SFZ-2026-000123-`` plus the check character."""
        return format_certificate_no(self.issuer_code, self.year, self.serial)

    def __str__(self) -> str:
        return self.text


def format_certificate_no(issuer_code: str, year: int, serial: int) -> str:
    """Build a certificate number ``<issuer>-<year>-<serial>-<check>``.

    Args:
        issuer_code: the issuing body's registered short code (same rule as node codes).
        year: four-digit year of issue.
        serial: the issuer's yearly serial, from 1; six digits, widened past 999999.

    Raises:
        InvalidError: bad issuer code, year or serial.
    """
    code = normalize_node_code(issuer_code)
    _check_year(year)
    _check_serial(serial)
    body = f"{code}-{year}-{serial:06d}"
    return f"{body}-{check_char(body.replace('-', ''))}"


def parse_certificate_no(text: str) -> CertificateNo:
    """Parse a certificate number, tolerant of case, spaces around it and full-width characters.

    Raises:
        InvalidError: ``certificate_no_invalid`` or ``certificate_no_check_failed``.
    """
    normalized = _normalize(text)
    match = _CERTIFICATE_RE.fullmatch(normalized)
    if match is None:
        raise InvalidError(
            f"证照编号“{text.strip()}”格式不正确，应形如 SFZ-2026-000123-M。",
            code="certificate_no_invalid",
        )
    body = normalized[: match.start("check") - 1].replace("-", "")
    if check_char(body) != match["check"]:
        raise InvalidError(
            f"证照编号“{normalized}”校验位不符，可能有字符输错或前后颠倒，请核对后重新输入。",
            code="certificate_no_check_failed",
        )
    if int(match["serial"]) == 0:
        raise InvalidError(
            f"证照编号“{normalized}”的流水号不能为 0。", code="certificate_no_invalid"
        )
    return CertificateNo(
        issuer_code=match["issuer"], year=int(match["year"]), serial=int(match["serial"])
    )

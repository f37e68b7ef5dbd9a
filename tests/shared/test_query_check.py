"""The query check on acceptances, and complaints that reopen an answered one."""

from __future__ import annotations

import string
from datetime import date

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.case_state import FlagCode
from shared.errors import InvalidError
from shared.events import Accepted, ComplaintAnswered, ComplaintFiled, decode_event, encode_event
from shared.intake_events import make_query_check, query_check_matches
from shared.receipts import format_receipt_no
from tests.shared.test_fold import at, c02_accepted, codes, ev, fold

CASE = "0b8f6a1e-2c4d-4e5f-8a9b-1c2d3e4f5a6b"
RECEIPT = format_receipt_no("SFZ", date(2026, 3, 2), 7)


def test_query_check_accepts_only_its_own_code_case_and_receipt() -> None:
    check = make_query_check(CASE, RECEIPT, "314159")
    assert check.startswith("pbkdf2-sha256$20000$")
    assert "314159" not in check
    assert query_check_matches(check, CASE, RECEIPT, "314159")
    assert query_check_matches(check, CASE, RECEIPT.lower(), " 314 159 ")  # spaces, any case
    assert query_check_matches(check, CASE, RECEIPT, "３１４１５９")  # full-width digits
    assert not query_check_matches(check, CASE, RECEIPT, "314158")
    assert not query_check_matches(check, "another-case", RECEIPT, "314159")
    other = format_receipt_no("SFZ", date(2026, 3, 2), 8)
    assert not query_check_matches(check, CASE, other, "314159")
    # The same code on another case hashes differently: no table of codes serves two cases.
    assert make_query_check("another-case", RECEIPT, "314159") != check


@pytest.mark.parametrize(
    "check",
    [None, "", "md5$1$00", "pbkdf2-sha256$x$00", "pbkdf2-sha256$1$00", "pbkdf2-sha256$20000"],
)
def test_missing_or_odd_checks_never_match(check: str | None) -> None:
    assert not query_check_matches(check, CASE, RECEIPT, "314159")


def test_a_malformed_receipt_number_is_refused() -> None:
    with pytest.raises(InvalidError):
        make_query_check(CASE, "SFZ-1", "314159")


@settings(max_examples=15, deadline=None)
@given(code=st.text(alphabet=string.digits, min_size=6, max_size=6))
def test_every_code_matches_its_own_check(code: str) -> None:
    assert query_check_matches(make_query_check(CASE, RECEIPT, code), CASE, RECEIPT, code)


def test_acceptances_without_a_check_still_decode_and_new_ones_round_trip() -> None:
    accepted = ev(Accepted, at(2026, 3, 2), receipt_no=RECEIPT)
    raw = msgspec.json.decode(encode_event(accepted))
    del raw["query_check"]  # as recorded before the field existed
    old = decode_event(msgspec.json.encode(raw))
    assert isinstance(old, Accepted) and old.query_check is None
    checked = ev(
        Accepted,
        at(2026, 3, 2),
        receipt_no=RECEIPT,
        query_check=make_query_check(CASE, RECEIPT, "1"),
    )
    again = decode_event(encode_event(checked))
    assert isinstance(again, Accepted) and again.query_check == checked.query_check


def test_complaint_fields_are_optional_and_validated() -> None:
    raw = msgspec.json.decode(encode_event(ev(ComplaintFiled, at(2026, 3, 2))))
    del raw["reopens"], raw["answer_due"]
    old = decode_event(msgspec.json.encode(raw))
    assert isinstance(old, ComplaintFiled) and old.reopens is None and old.answer_due is None
    bad = ev(ComplaintFiled, at(2026, 3, 2), reopens="k1", answer_due=date(2026, 3, 1))
    with pytest.raises(InvalidError):
        bad.validate()


def test_reopening_an_answered_complaint_opens_a_new_one_with_its_own_deadline() -> None:
    events = [
        *c02_accepted(),
        ev(ComplaintFiled, at(2026, 2, 9), answer_due=date(2026, 2, 23)),
        ev(ComplaintAnswered, at(2026, 2, 10)),
        ev(
            ComplaintFiled,
            at(2026, 2, 11),
            complaint_id="k2",
            reopens="k1",
            answer_due=date(2026, 2, 25),
        ),
    ]
    state = fold(events, at(2026, 2, 12))
    [open_one] = state.open_complaints
    assert open_one.complaint_id == "k2"
    assert open_one.reopens == "k1"
    assert open_one.answer_due == date(2026, 2, 25)
    assert open_one.filed_on == date(2026, 2, 11)
    assert not codes(state)


@pytest.mark.parametrize("answered", [False, True])
def test_reopening_needs_an_answer_and_happens_once(answered: bool) -> None:
    events = [*c02_accepted(), ev(ComplaintFiled, at(2026, 2, 9))]
    if answered:
        events.append(ev(ComplaintAnswered, at(2026, 2, 10)))
        events.append(ev(ComplaintFiled, at(2026, 2, 11), complaint_id="k2", reopens="k1"))
    events.append(ev(ComplaintFiled, at(2026, 2, 12), complaint_id="k3", reopens="k1"))
    state = fold(events, at(2026, 2, 13))
    assert FlagCode.OUT_OF_ORDER in codes(state)
    assert "k3" not in {c.complaint_id for c in state.open_complaints}

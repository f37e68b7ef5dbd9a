"""Pages show instants in China time, through one filter both apps share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from shared.calendar import CHINA_TZ
from web.frame import template_config
from web.local_time import china_time

INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


def test_utc_evening_is_the_next_morning_in_china() -> None:
    moment = datetime(2026, 11, 22, 23, 14, 5, tzinfo=UTC)
    assert china_time(moment) == "2026-11-23 07:14"
    assert china_time(moment, seconds=True) == "2026-11-23 07:14:05"
    assert china_time(None) == ""


@given(moment=INSTANTS, offset_hours=st.integers(min_value=-12, max_value=14))
def test_the_same_instant_reads_the_same_from_any_zone(moment: datetime, offset_hours: int) -> None:
    elsewhere = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    shown = china_time(elsewhere, seconds=True)
    assert shown == china_time(moment, seconds=True)
    back = datetime.strptime(shown, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    assert back == moment.replace(microsecond=0)


@given(moment=INSTANTS)
def test_a_naive_value_is_read_as_utc(moment: datetime) -> None:
    assert china_time(moment.replace(tzinfo=None)) == china_time(moment)


def test_every_app_template_has_the_filter() -> None:
    engine = template_config().engine_instance
    template = engine.engine.from_string("{{ at | china_time }}")
    assert template.render(at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) == "2026-03-02 10:00"

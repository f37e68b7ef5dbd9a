"""``make bench``: measure the domain core and replication, and write ``bench/results.md``.

The replication part (tests/bench/sync_bench.py) runs the county as a real server and PouchDB
beside it; on PostgreSQL too when ``TONGBAN_TEST_POSTGRES_URL`` is set. The node with 100,000
cases (tests/bench/node_bench.py) and supervision over 1,000,000 cases
(tests/bench/supervision_bench.py) follow.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from shared.calendar import CHINA_TZ, official_calendar
from shared.catalog import decode_catalog
from shared.delegation import Tier
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    ClockPaused,
    ClockResumed,
    Decided,
    Delivered,
    DeliveryMethod,
    ExtensionGranted,
    IdType,
    Outcome,
    ProcedureKind,
    Rated,
    RatingChannel,
    ReceiptChannel,
    Received,
    Satisfaction,
    decode_event,
    encode_event,
)
from shared.fold import fold_case
from shared.guide import guide_for
from shared.hlc import Hlc
from shared.signing import SigningKey
from shared.terms import CaseTerms, ProjectType
from tests.bench import node_bench, supervision_bench, sync_bench

RESULTS = Path("bench/results.md")
RUNS = 5


def measure(label: str, unit: str, fn: Callable[[], int]) -> tuple[str, str, float, float, float]:
    """Run ``fn`` (which returns how many operations it did) RUNS times; report ops/s."""
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return label, unit, statistics.median(rates), min(rates), max(rates)


def lifecycle(case_id: str, start: datetime) -> list[CaseEvent]:
    """An eight-event promised case: receipt to delivery with a pause, an extension, a rating."""
    base: dict[str, Any] = {"case_id": case_id, "node_id": "zhen-shifan", "actor": "clerk-1"}

    def stamp(hours: float) -> Hlc:
        return Hlc(int((start + timedelta(hours=hours)).timestamp() * 1000), 0)

    applicant = Applicant(name="张三", id_type=IdType.RESIDENT_ID, id_number="110101199001011234")
    return [
        Received(
            id=str(uuid.uuid4()),
            hlc=stamp(0),
            item_code="X02",
            catalog_version=1,
            applicant=applicant,
            materials=("M1", "M2"),
            channel=ReceiptChannel.WINDOW,
            **base,
        ),
        Accepted(id=str(uuid.uuid4()), hlc=stamp(1), receipt_no="SFZ-20260302-0001-X", **base),
        ClockPaused(
            id=str(uuid.uuid4()),
            hlc=stamp(30),
            pause_id="p1",
            procedure=ProcedureKind.TESTING,
            reason="检测",
            **base,
        ),
        ClockResumed(id=str(uuid.uuid4()), hlc=stamp(100), pause_id="p1", result="合格", **base),
        ExtensionGranted(
            id=str(uuid.uuid4()),
            hlc=stamp(120),
            days=10,
            approver="局长",
            reason="情况复杂",
            **base,
        ),
        Decided(id=str(uuid.uuid4()), hlc=stamp(200), outcome=Outcome.APPROVE, reason="", **base),
        Delivered(id=str(uuid.uuid4()), hlc=stamp(220), method=DeliveryMethod.WINDOW, **base),
        Rated(
            id=str(uuid.uuid4()),
            hlc=stamp(221),
            level=Satisfaction.VERY_SATISFIED,
            channel=RatingChannel.HALL_TABLET,
            **base,
        ),
    ]


def main() -> None:
    calendar = official_calendar()
    rng = random.Random(7)
    starts = [date(2025, 1, 1) + timedelta(days=rng.randrange(600)) for _ in range(20_000)]
    limits = [rng.randrange(0, 60) for _ in starts]
    terms = CaseTerms(
        project_type=ProjectType.PROMISED, promised_days=5, statutory_days=20, extension_days=10
    )
    now = datetime(2026, 6, 1, 2, tzinfo=UTC)
    cases = [lifecycle(f"case-{i}", datetime(2026, 3, 2, 9, tzinfo=CHINA_TZ)) for i in range(2_000)]
    encoded = [encode_event(e) for case in cases for e in case]
    catalog_bytes = (files("tongban") / "demo_catalog.json").read_bytes()
    catalog = decode_catalog(catalog_bytes)
    key = SigningKey.generate()
    message = b"x" * 200
    signature = key.sign(message)

    def adds() -> int:
        for s, n in zip(starts, limits, strict=True):
            calendar.add_working_days(s, n)
        return len(starts)

    def adds_paused() -> int:
        for s, n in zip(starts, limits, strict=True):
            calendar.add_working_days(
                s, n, pauses=[(s + timedelta(days=3), s + timedelta(days=12))]
            )
        return len(starts)

    def folds() -> int:
        for case in cases:
            fold_case(case, terms=terms, calendar=calendar, now=now)
        return len(cases)

    def encodes() -> int:
        for case in cases:
            for event in case:
                encode_event(event)
        return len(encoded)

    def decodes() -> int:
        for raw in encoded:
            decode_event(raw)
        return len(encoded)

    def catalog_decodes() -> int:
        for _ in range(200):
            decode_catalog(catalog_bytes)
        return 200

    def guides() -> int:
        for _ in range(200):
            guide_for(catalog, Tier.TOWNSHIP, "zhen-shifan", date(2026, 3, 2))
        return 200

    def verifies() -> int:
        public = key.public_key
        for _ in range(5_000):
            public.verify(signature, message)
        return 5_000

    rows = [
        measure("calendar: add N working days (N < 60)", "ops/s", adds),
        measure("calendar: add N working days with one pause", "ops/s", adds_paused),
        measure("fold: 8-event case with pause, extension, decision", "cases/s", folds),
        measure("event: encode to JSON", "events/s", encodes),
        measure("event: decode and type-check", "events/s", decodes),
        measure(
            f"catalog: decode demo catalog ({len(catalog.items)} items)",
            "catalogs/s",
            catalog_decodes,
        ),
        measure("guide: township guide from the demo catalog", "guides/s", guides),
        measure("Ed25519 verify, 200-byte message, one core", "ops/s", verifies),
    ]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()} on {platform.machine()}, one process, "
        f"median of {RUNS} runs (min–max).",
        "",
        "| what | unit | median | min | max |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {label} | {unit} | {med:,.0f} | {lo:,.0f} | {hi:,.0f} |"
            for label, unit, med, lo, hi in rows
        ),
        "",
    ]
    print("\n".join(lines), flush=True)
    replication = sync_bench.run()
    replication += supervision_bench.run_bench()
    replication += node_bench.run()
    lines += replication
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(replication))


if __name__ == "__main__":
    main()

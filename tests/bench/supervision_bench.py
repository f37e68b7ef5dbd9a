"""Supervision over 1,000,000 cases across 1,000 nodes, on SQLite and PostgreSQL.

Cases are generated inside the database (``generate_series`` on PostgreSQL, a recursive CTE on
SQLite). Measured in the same run: one set-based UPDATE of the open rows' light (the yardstick),
a first reconciliation (every open case enters ``supervision_case``), a second one the same day
(nothing changed), one the next working day (every remaining-days value changes), and a signal
refresh. Run alone with ``python -m tests.bench.supervision_bench [cases]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.reconcile_sql import Dialect, run
from central.db.registry_store import RegistryStore
from central.services.reconcile import Reconciler
from central.services.releases import ReleaseService
from central.services.signals import SignalService
from central.services.supervision_rules import RuleService
from shared.calendar import official_calendar

T = TypeVar("T")

SIZE = 1_000_000
NODES = 1_000
DAY_ONE = datetime(2026, 4, 1, 2, tzinfo=UTC)  # Wednesday 10:00 in China
DAY_TWO = datetime(2026, 4, 2, 2, tzinfo=UTC)
REPEATS = 3


def _generate_sql(d: Dialect, size: int) -> str:
    columns = (
        "case_id, item_code, catalog_version, origin_node, handling_node, status, receipt_no, "
        "applicant_name, received_on, accepted_on, promised_due, statutory_due, due_provisional, "
        "paused, finished, light, flags, events_count, last_hlc_wall, last_hlc_counter, state_json"
    )
    if d.pg:
        accepted = "DATE '2026-01-05' + (g % 80)"
        due = f"{accepted} + (g % 40)"
        statutory = f"{accepted} + 60"
        state = (
            'convert_to(\'{"state":{"case_id":"c\' || g || \'","status":"accepted",'
            '"remaining_working_days":\' || (g % 9) || \',"open_pause":\' || '
            "CASE WHEN g % 50 = 0 THEN '{\"first\":\"2026-03-02\"}' ELSE 'null' END || "
            "',\"open_urges\":[]}}', 'UTF8')"
        )
        source = f"FROM generate_series(1, {size}) AS s(g)"
        prefix = ""
    else:
        accepted = "date('2026-01-05', '+' || (g % 80) || ' days')"
        due = "date('2026-01-05', '+' || ((g % 80) + (g % 40)) || ' days')"
        statutory = "date('2026-01-05', '+' || ((g % 80) + 60) || ' days')"
        state = (
            'CAST(\'{"state":{"case_id":"c\' || g || \'","status":"accepted",'
            '"remaining_working_days":\' || (g % 9) || \',"open_pause":\' || '
            "CASE WHEN g % 50 = 0 THEN '{\"first\":\"2026-03-02\"}' ELSE 'null' END || "
            "',\"open_urges\":[]}}' AS BLOB)"
        )
        source = "FROM s"
        prefix = (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {size}) "
        )
    return (
        f"{prefix}INSERT INTO case_row ({columns}) SELECT "
        "'c' || g, 'I' || (g % 50), 1, 'n' || (g % 1000), 'n' || (g % 1000), "
        "CASE WHEN g % 5 = 0 THEN 'approved' WHEN g % 50 = 1 THEN 'paused' ELSE 'accepted' END, "
        f"'R' || g, '张三', {accepted}, {accepted}, {due}, {statutory}, FALSE, "
        "g % 50 = 0, g % 5 = 0, 'green', "
        "CASE WHEN g % 997 = 0 THEN '[\"late_registration\"]' ELSE '[]' END, "
        f"3, g, 0, {state} {source}"
    )


def _baseline_sql(d: Dialect) -> str:
    today = d.day(DAY_TWO.date())
    return (
        "UPDATE case_row SET light = CASE "
        f"WHEN promised_due < {today} THEN 'red' "
        f"WHEN promised_due <= {d.day(DAY_TWO.date().replace(day=5))} THEN 'yellow' "
        "ELSE 'green' END WHERE finished = FALSE"
    )


async def _timed(label: str, action: Any, results: list[tuple[str, float]]) -> Any:
    start = time.perf_counter()
    value = await action
    results.append((label, time.perf_counter() - start))
    print(f"  {label}: {results[-1][1]:.2f} s", flush=True)
    return value


async def _median_of(
    label: str,
    runs: list[Callable[[], Awaitable[Any]]],
    results: list[tuple[str, float]],
    before: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Time each of ``runs`` (after ``before``, untimed) and keep the median."""
    seconds = []
    for action in runs:
        if before is not None:
            await before()
        start = time.perf_counter()
        await action()
        seconds.append(time.perf_counter() - start)
    results.append((label, statistics.median(seconds)))
    shown = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  {label}: median {results[-1][1]:.2f} s of {shown}", flush=True)


async def _bench(url: str | None, folder: Path, size: int) -> list[tuple[str, float]]:
    engine = make_engine(url, folder / "central.sqlite")
    await open_database(engine)
    d = Dialect(engine)
    results: list[tuple[str, float]] = []
    try:
        for table in ("case_row", "supervision_case", "supervision_action", "supervision_signal"):
            await run(engine, f"DELETE FROM {table}")

        def clock() -> datetime:
            return DAY_ONE

        releases = ReleaseService(CatalogStore(), RegistryStore(), lambda: None, clock)  # type: ignore[arg-type,return-value]
        rules = RuleService(engine, clock)
        reconciler = Reconciler(engine, releases, rules, clock)
        await reconciler.sync_calendar(DAY_ONE.date())
        await _timed(f"generate {size:,} cases", run(engine, _generate_sql(d, size)), results)
        if d.pg:
            await engine.run_ddl("ANALYZE")
        # The yardstick and the daily runs are repeated and their medians kept: one run of a
        # few seconds on a shared two-core machine varies by a tenth either way.
        # Each yardstick run starts from the same lights, so each one rewrites the same rows
        # (SQLite writes much less when an UPDATE only sets what is already there).
        reset = "UPDATE case_row SET light = 'green' WHERE finished = FALSE"
        await _median_of(
            "one set-based UPDATE of the open rows",
            [lambda: run(engine, _baseline_sql(d)) for _ in range(REPEATS)],
            results,
            before=lambda: run(engine, reset),
        )
        await _timed(
            "reconcile, first run (fills supervision_case)", reconciler.reconcile(DAY_ONE), results
        )
        await _median_of(
            "reconcile, same day again",
            [lambda: reconciler.reconcile(DAY_ONE) for _ in range(REPEATS)],
            results,
        )
        days = official_calendar().workdays_in(DAY_TWO.date(), DAY_TWO.date() + timedelta(days=14))

        def on(day: date) -> Callable[[], Awaitable[Any]]:
            return lambda: reconciler.reconcile(datetime.combine(day, DAY_ONE.timetz()))

        await _median_of(
            "reconcile, next working day", [on(day) for day in days[:REPEATS]], results
        )
        await _timed(
            "signals refresh", SignalService(engine, rules, clock).refresh(DAY_TWO), results
        )
    finally:
        await close_database(engine)
    return results


async def in_scratch_database(url: str, name: str, bench: Callable[[str], Awaitable[T]]) -> T:
    """Run ``bench`` on a PostgreSQL database ``name`` made for it and dropped afterwards."""
    import asyncpg

    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(url)
    try:
        return await bench(urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def run_bench(size: int = SIZE) -> list[str]:
    """Run on SQLite, and on PostgreSQL when ``TONGBAN_TEST_POSTGRES_URL`` is set."""
    lines = [
        "",
        f"## Supervision: {size:,} cases across {NODES:,} nodes",
        "",
        f"The yardstick UPDATE and the daily reconciliations are the medians of {REPEATS} runs "
        "(the next-working-day runs on consecutive working days). The first run fills "
        "`supervision_case` from nothing, once, after installation or an upgrade.",
        "",
        "| backend | step | seconds | vs. one UPDATE |",
        "|---|---|---:|---:|",
    ]
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    url = os.environ.get("TONGBAN_TEST_POSTGRES_URL")
    if url:
        targets.append(("PostgreSQL", url))
    for name, target in targets:
        print(f"{name}:", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            if target is None:
                results = asyncio.run(_bench(None, Path(folder), size))
            else:
                results = asyncio.run(
                    in_scratch_database(
                        target,
                        "tongban_supervision_bench",
                        lambda db: _bench(db, Path(folder), size),
                    )
                )
        base = dict(results)["one set-based UPDATE of the open rows"]
        for label, seconds in results:
            ratio = "" if label.startswith("generate") else f"{seconds / base:.2f}x"
            lines.append(f"| {name} | {label} | {seconds:.2f} | {ratio} |")
    return lines


if __name__ == "__main__":
    print("\n".join(run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE)))

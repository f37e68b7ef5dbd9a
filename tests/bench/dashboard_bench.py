"""Dashboard aggregates against the raw SQL for the same aggregates, on SQLite and PostgreSQL.

Fills ``case_row`` with the supervision benchmark's generator (tests/bench/supervision_bench.py,
1,000,000 cases across 1,000 nodes by default), reconciles once so the reconciled lights exist,
rebuilds the performance tables, then measures in the same run, each repeated and reported at
the 95th percentile:

* the dashboard's tier tree (light counts per node, rolled up a 1,000-node registry) against the
  same GROUP BY sent straight to the driver (sqlite3 / asyncpg), and
* a month of performance indicators per node and item, and the daily trend, against their SQL
  sent straight to the driver.

The target is at most 2x the raw SQL. Run alone with
``python -m tests.bench.dashboard_bench [cases]``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from central.db.catalog_store import CatalogStore
from central.db.engine import close_database, make_engine, open_database
from central.db.performance_sql import (
    Window,
    case_counts_sql,
    complaint_counts_sql,
    daily_sql,
    light_counts_sql,
    rating_counts_sql,
)
from central.db.reconcile_sql import Dialect, run
from central.db.registry_store import RegistryStore
from central.services.accounts import CountyRole, CountyUser
from central.services.dashboard import DashboardService
from central.services.performance import Grain, PerformanceService, Period
from central.services.reconcile import Reconciler
from central.services.releases import ReleaseService
from central.services.supervision_rules import RuleService
from shared.delegation import Tier
from shared.registry import COUNTY_NODE_ID, NodeRecord, Registry
from tests.bench.supervision_bench import DAY_ONE, NODES, SIZE, _generate_sql, in_scratch_database

REPEATS = 15
TOWNSHIPS = 50
SUPERVISOR = CountyUser(
    user_id=1,
    username="bench",
    name="bench",
    roles=frozenset({CountyRole.SUPERVISOR}),
    home_node=COUNTY_NODE_ID,
)


def bench_registry() -> Registry:
    """The county, 50 townships and the generator's nodes n0 … n999 below them."""
    nodes = [
        NodeRecord(
            node_id=COUNTY_NODE_ID, name="县", tier=Tier.COUNTY, parent=None, short_code="XZX"
        )
    ]
    nodes += [
        NodeRecord(
            node_id=f"t{i}",
            name=f"乡镇{i}",
            tier=Tier.TOWNSHIP,
            parent=COUNTY_NODE_ID,
            short_code=f"T{i:03d}",
        )
        for i in range(TOWNSHIPS)
    ]
    nodes += [
        NodeRecord(
            node_id=f"n{i}",
            name=f"站点{i}",
            tier=Tier.COMMUNITY,
            parent=f"t{i % TOWNSHIPS}",
            short_code=f"N{i:04d}",
        )
        for i in range(NODES)
    ]
    return Registry(nodes=tuple(nodes))


class BenchReleases(ReleaseService):
    """The release service with the benchmark's registry in force."""

    def __init__(self, registry: Registry, clock: Callable[[], Any]) -> None:
        super().__init__(CatalogStore(), RegistryStore(), lambda: None, clock)  # type: ignore[arg-type,return-value]
        self._bench_registry = registry

    def registry_now(self) -> Registry:
        return self._bench_registry


async def p95(action: Callable[[], Awaitable[Any]]) -> float:
    """95th percentile of :data:`REPEATS` timed runs (after one warm-up)."""
    await action()
    times: list[float] = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[min(len(times) - 1, round(0.95 * len(times)) - 1)]


def raw_runner(url: str | None, sqlite_path: Path) -> Callable[[str], Awaitable[Any]]:
    """Run a statement straight through the driver, without Piccolo or the services."""
    if url is None:
        connection = sqlite3.connect(str(sqlite_path))

        async def on_sqlite(sql: str) -> Any:
            return connection.execute(sql).fetchall()

        return on_sqlite
    import asyncpg

    pool: list[Any] = []

    async def on_pg(sql: str) -> Any:
        if not pool:
            pool.append(await asyncpg.connect(url))
        return await pool[0].fetch(sql)

    return on_pg


async def _bench(url: str | None, folder: Path, size: int) -> list[tuple[str, float, float]]:
    engine = make_engine(url, folder / "central.sqlite")
    await open_database(engine)
    d = Dialect(engine)
    results: list[tuple[str, float, float]] = []
    try:

        def clock() -> Any:
            return DAY_ONE

        releases = BenchReleases(bench_registry(), clock)
        rules = RuleService(engine, clock)
        await Reconciler(engine, releases, rules, clock).sync_calendar(DAY_ONE.date())
        await run(engine, "DELETE FROM case_row")
        await run(engine, _generate_sql(d, size))
        if d.pg:
            await engine.run_ddl("ANALYZE")
        await Reconciler(engine, releases, rules, clock).reconcile(DAY_ONE)
        performance = PerformanceService(engine, releases, clock)
        start = time.perf_counter()
        await performance.refresh(DAY_ONE.date())
        print(f"  performance refresh: {time.perf_counter() - start:.2f} s", flush=True)
        if d.pg:
            await engine.run_ddl("ANALYZE")
        dashboard = DashboardService(engine, None, releases, performance, clock)  # type: ignore[arg-type]
        raw = raw_runner(url, folder / "central.sqlite")
        month = Period.containing(Grain.MONTH, date(2026, 3, 15))
        window = Window(month.first, month.last, DAY_ONE.date())
        quarter = Window(date(2026, 1, 1), date(2026, 3, 31), DAY_ONE.date())
        everything = "1 = 1"
        pairs: list[tuple[str, Callable[[], Awaitable[Any]], list[str]]] = [
            (
                "tier tree by light",
                lambda: dashboard.tree(SUPERVISOR),
                [light_counts_sql(everything)],
            ),
            (
                "month indicators per node and item",
                lambda: performance.counts(month, None, DAY_ONE.date()),
                [
                    case_counts_sql(d, window, everything),
                    rating_counts_sql(d, window, everything),
                    complaint_counts_sql(d, window, everything),
                ],
            ),
            (
                "daily trend, one quarter",
                lambda: performance.trend(quarter.first, quarter.last, Grain.WEEK, None),
                [daily_sql(d, quarter, everything)],
            ),
        ]
        for label, service_call, statements in pairs:

            async def direct(statements: list[str] = statements) -> None:
                for sql in statements:
                    await raw(sql)

            ours = await p95(service_call)
            theirs = await p95(direct)
            results.append((label, ours, theirs))
            print(f"  {label}: {ours * 1000:.1f} ms vs raw {theirs * 1000:.1f} ms", flush=True)
    finally:
        await close_database(engine)
    return results


def run_bench(size: int = SIZE) -> list[str]:
    """Run on SQLite, and on PostgreSQL when ``TONGBAN_TEST_POSTGRES_URL`` is set."""
    lines = [
        "",
        f"## Dashboard aggregates: {size:,} cases across {NODES:,} nodes (p95 of {REPEATS})",
        "",
        "| backend | aggregate | dashboard ms | raw SQL ms | ratio (target ≤ 2x) |",
        "|---|---|---:|---:|---:|",
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
                        "tongban_dashboard_bench",
                        lambda db: _bench(db, Path(folder), size),
                    )
                )
        for label, ours, theirs in results:
            ratio = ours / theirs if theirs else float("inf")
            lines.append(
                f"| {name} | {label} | {ours * 1000:.1f} | {theirs * 1000:.1f} | {ratio:.2f}x |"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else SIZE)))

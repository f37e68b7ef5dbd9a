"""Node benchmark (issue #4): a township node holding 100,000 cases, served as a real process.

``make bench`` runs it after the replication benchmarks (:func:`run` returns the section of
``bench/results.md``); ``python -m tests.bench.node_bench [--cases N]`` runs it alone.

The cases are built in bulk before any clock starts: each is a real signed envelope of this
node's hash chain with its CRDT state and projected row, written through the node's store in
large transactions (the same tables ``replica.record`` writes, without one HTTP call and one
transaction per case). The mix is realistic: most cases decided or delivered, a large share
open with green, yellow and red lights, some waiting for a correction, over the demo catalog's
township items and two months of receipt days. ``tongban node serve`` then runs on 127.0.0.1
and is measured over HTTP: the clerk's queue page, its search, the resident's lookup by
receipt number and query code, and the resident memory of the served process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx

from node.identity import read_identity
from node.services.accounts import AccountService
from node.services.catalog import NodeCatalogService
from node.settings import NodeSettings
from node.storage.accounts import AccountStore
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.intake_store import IntakeStore
from node.storage.sync_store import NodeSyncStore
from shared.calendar import CHINA_TZ
from shared.catalog import decode_catalog
from shared.event_parts import MissingMaterial
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    CorrectionRequested,
    Decided,
    Delivered,
    DeliveryMethod,
    IdType,
    Outcome,
    ReceiptChannel,
    Received,
)
from shared.hlc import Hlc
from shared.receipts import format_receipt_no, make_query_code
from shared.signing import SigningKey
from sync.casedoc import CaseDoc
from sync.client import PUSH_CURSOR
from sync.envelope import ENVELOPE_FORMAT, GENESIS, EnvelopeBody, seal
from sync.keys import load_private_key
from sync.projection import ProjectionContext, merge_case_outcome, project_case
from sync.store import Head, LogEntry, WriteSet
from tests.factories import make_node

CASES = 100_000
CHUNK = 5_000
SAMPLES = 300
WARMUP = 30
NODE_ID = "zhen-shifan"
USER = "bench"
PASSWORD = "基准-测试-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "秀英建国桂兰志强淑珍海燕玉梅明华春花德胜晓东丽娟国庆红霞"
# Items a township takes and decides itself (the demo catalog's entrusted and direct ones).
OPEN_ITEMS = ("X05", "X19")
CLOSED_ITEMS = ("X05", "X19", "X12", "X14", "X16", "X17", "X18")


@dataclass(frozen=True)
class Sample:
    """A case the lookups use: its receipt number, query code and applicant name."""

    receipt_no: str
    query_code: str
    name: str


def _events(
    case_id: str, rng: random.Random, received_at: datetime, serial: int
) -> tuple[list[CaseEvent], str | None, str]:
    """The events of one case in the mix; also its receipt number (None before acceptance)."""
    base: dict[str, Any] = {"case_id": case_id, "node_id": NODE_ID, "actor": "clerk-1"}
    name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
    roll = rng.random()
    item = rng.choice(OPEN_ITEMS if roll < 0.45 else CLOSED_ITEMS)

    def stamp(minutes: float) -> Hlc:
        return Hlc(int((received_at + timedelta(minutes=minutes)).timestamp() * 1000), 0)

    received = Received(
        id=str(uuid.uuid4()),
        hlc=stamp(0),
        item_code=item,
        catalog_version=1,
        applicant=Applicant(name=name, id_type=IdType.RESIDENT_ID, id_number="110101194501011230"),
        materials=("M01",),
        channel=ReceiptChannel.WINDOW,
        **base,
    )
    if roll >= 0.95:
        missing = MissingMaterial(code="M02", name="补充材料", requirement="原件")
        correction = CorrectionRequested(
            id=str(uuid.uuid4()), hlc=stamp(5), missing=(missing,), **base
        )
        return [received, correction], None, name
    day = received_at.astimezone(CHINA_TZ).date()
    receipt_no = format_receipt_no("SFZ", day, serial)
    events: list[CaseEvent] = [
        received,
        Accepted(id=str(uuid.uuid4()), hlc=stamp(1), receipt_no=receipt_no, **base),
    ]
    if roll >= 0.45:
        events.append(
            Decided(
                id=str(uuid.uuid4()),
                hlc=stamp(60 * 24 * rng.uniform(0.2, 2.0)),
                outcome=Outcome.APPROVE,
                reason="",
                **base,
            )
        )
    if roll >= 0.85:
        events.append(
            Delivered(
                id=str(uuid.uuid4()),
                hlc=stamp(60 * 24 * 2.5),
                method=DeliveryMethod.WINDOW,
                **base,
            )
        )
    return events, receipt_no, name


async def build_node(root: Path, count: int, now: datetime) -> tuple[NodeSettings, list[Sample]]:
    """A township folder holding ``count`` signed, projected cases; some lookups to try."""
    catalog = decode_catalog((files("tongban") / "demo_catalog.json").read_bytes())
    settings = make_node(root / "township", NODE_ID, SigningKey.generate(), catalog)
    identity = read_identity(settings.config_path)
    key = load_private_key(settings.key_path)
    database = NodeDatabase(settings.database_path)
    rng = random.Random(20260302)
    samples: list[Sample] = []
    try:
        AccountService(AccountStore(database), lambda: now).add_user(
            username=USER, name="基准测试", roles=["clerk"], password=PASSWORD
        )
        releases = NodeCatalogService(NodeCatalogStore(database), identity, lambda: now)
        store = NodeSyncStore(database)
        secret = IntakeStore(database).query_secret()
        ctx = ProjectionContext(
            node_id=NODE_ID,
            registry=releases.registry_now(),
            catalog_for=releases.catalog_for,
            calendar=releases.calendar_now(),
            now=now,
            feed_children=False,
        )
        serials: dict[date, int] = {}
        seq, prev, last = 0, GENESIS, Hlc(0, 0)
        for first in range(0, count, CHUNK):
            writes = WriteSet()
            for _ in range(min(CHUNK, count - first)):
                # Receipt days over the last two months, office hours, oldest first.
                offset = (count - seq) * (60 * 86_400 / count)
                received_at = now - timedelta(seconds=offset) + timedelta(minutes=rng.random())
                day = received_at.astimezone(CHINA_TZ).date()
                serials[day] = serials.get(day, 0) + 1
                case_id = str(uuid.uuid4())
                events, receipt_no, name = _events(case_id, rng, received_at, serials[day])
                doc = CaseDoc.load(None)
                update = doc.append(events)
                seq += 1
                last = max(e.hlc for e in events)
                body = EnvelopeBody(
                    format=ENVELOPE_FORMAT,
                    origin=NODE_ID,
                    seq=seq,
                    prev=prev,
                    case_id=case_id,
                    hlc=last,
                    client_id=doc.client_id,
                    update=update,
                )
                entry = LogEntry.of(seal(key, body), body)
                prev = entry.hash
                outcome = project_case(case_id, None, [entry], ctx, quarantined={})
                writes.entries.append(entry)
                writes.client_claims[doc.client_id] = NODE_ID
                merge_case_outcome(writes, outcome)
                if receipt_no is not None and rng.random() < 0.01:
                    samples.append(Sample(receipt_no, make_query_code(secret, receipt_no), name))
            writes.heads[NODE_ID] = Head(NODE_ID, seq, prev, last)
            writes.watermark = seq
            # All but the last day's few hundred records have reached the county already.
            writes.cursors[PUSH_CURSOR] = max(0, seq - 300)
            await store.commit(writes)
    finally:
        database.close()
    return settings, samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> tuple[int, int]:
    """Resident and peak resident memory of a process, in KiB (Linux /proc)."""
    found = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def timed(fn: Callable[[int], httpx.Response], samples: int) -> list[float]:
    """Milliseconds per call after a warm-up; every answer must be 200."""
    for n in range(WARMUP):
        response = fn(n)
        assert response.status_code == 200, response.text[:300]
    times = []
    for n in range(samples):
        start = time.perf_counter()
        response = fn(n)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text[:300]
    return times


def _search(client: httpx.Client, texts: list[str]) -> Callable[[int], httpx.Response]:
    return lambda n: client.get("/window", params={"q": texts[n % len(texts)]})


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def serve_and_measure(settings: NodeSettings, samples: list[Sample]) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tongban",
            "node",
            "serve",
            "--data",
            str(settings.data_dir),
            "--port",
            str(port),
        ],
        env={**os.environ, "NODE_SYNC_INTERVAL": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the node did not start")
            time.sleep(0.2)
        started_rss = rss_kib(process.pid)[0]
        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.get("/login").text
            token = login.split('name="_csrf_token" value="')[1].split('"')[0]
            client.post(
                "/login", data={"username": USER, "password": PASSWORD, "_csrf_token": token}
            )
            assert client.get("/window").status_code == 200
            by_kind = {
                "search_receipt": [s.receipt_no for s in samples[:100]],
                "search_name": [s.name for s in samples[:100]],
                "search_item": ["林木采伐", "老年人优待证", "居民养老保险", "生育登记"],
            }
            queries = [q for kind in by_kind.values() for q in kind[:40]]
            results: dict[str, Any] = {
                "queue": timed(lambda n: client.get("/window"), SAMPLES),
                "queue_deep": timed(lambda n: client.get(f"/window?page_no={1 + n % 40}"), SAMPLES),
                "search": timed(
                    lambda n: client.get("/window", params={"q": queries[n % len(queries)]}),
                    SAMPLES,
                ),
            }
            for kind, texts in by_kind.items():
                results[kind] = timed(_search(client, texts), SAMPLES // 3)
        with httpx.Client(base_url=base, timeout=30) as resident:
            # A kiosk page hands out the CSRF cookie its API calls send back in a header.
            resident.get("/kiosk/track")
            resident.headers["x-csrftoken"] = resident.cookies.get("tongban_csrf") or ""
            results["lookup"] = timed(
                lambda n: resident.post(
                    "/api/v1/kiosk/track",
                    json={
                        "receipt_no": samples[n % len(samples)].receipt_no,
                        "query_code": samples[n % len(samples)].query_code,
                    },
                ),
                SAMPLES,
            )
        rss, peak = rss_kib(process.pid)
        results["rss_start_mib"] = started_rss / 1024
        results["rss_mib"] = rss / 1024
        results["rss_peak_mib"] = peak / 1024
        return results
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(count: int = CASES) -> list[str]:
    """Build the node, serve it, measure; the lines of the bench/results.md section."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="tongban-node-bench-") as folder:
        started = time.perf_counter()
        settings, samples = asyncio.run(build_node(Path(folder), count, now))
        build_seconds = time.perf_counter() - started
        size_mib = settings.database_path.stat().st_size / 2**20
        results = serve_and_measure(settings, samples)

    def ms_row(label: str, key: str, target: float) -> str:
        values = results[key]
        ok = p95(values) < target
        met = "yes" if ok else "**no**"
        return (
            f"| {label} | ms | {statistics.median(values):.1f} | {p95(values):.1f} |"
            f" {max(values):.1f} | p95 < {target:g} ms | {met} |"
        )

    rss_ok = results["rss_peak_mib"] < 150
    return [
        "",
        f"## Node with {count:,} cases (issue #4)",
        "",
        f"A township node holds {count:,} cases of the demo catalog's township items (about 45%"
        " open with green, yellow and red lights, 40% decided, 10% delivered, 5% waiting for a"
        " correction), each one signed envelope of the node's chain with its CRDT state and"
        f" projected row, built in bulk in {build_seconds:.0f} s ({size_mib:,.0f} MiB of SQLite)."
        " `tongban node serve` (one uvicorn worker, 127.0.0.1) is measured over HTTP with"
        f" keep-alive, {SAMPLES} requests per row after {WARMUP} warm-up requests: the clerk's"
        " queue (`/window`, first page and pages 1–40), its search (by receipt number, by name,"
        " by item name), and the resident's lookup by receipt number and query code"
        " (`POST /api/v1/kiosk/track`). Memory is the served process's resident set size after"
        " the measurements (peak: VmHWM).",
        "",
        "| what | unit | median | p95 | max | target | met |",
        "|---|---|---:|---:|---:|---|---|",
        ms_row("clerk's queue page, first page", "queue", 50),
        ms_row("clerk's queue page, pages 1–40", "queue_deep", 50),
        ms_row("queue search, mixed (receipt number, name, item)", "search", 50),
        ms_row("… by receipt number", "search_receipt", 50),
        ms_row("… by applicant's name", "search_name", 50),
        ms_row("… by item name (thousands of matches)", "search_item", 50),
        ms_row("resident lookup by receipt number and query code", "lookup", 20),
        f"| resident memory of the served node (RSS at start / after / peak) | MiB |"
        f" {results['rss_start_mib']:.0f} | {results['rss_mib']:.0f} |"
        f" {results['rss_peak_mib']:.0f} | peak < 150 MiB | {'yes' if rss_ok else '**no**'} |",
        "",
    ]


def replace_section(results: Path, section: list[str]) -> None:
    """Put this benchmark's section into ``results`` in place of an older one (or at the end)."""
    heading = next(line for line in section if line.startswith("## "))
    lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
    start = next((i for i, line in enumerate(lines) if line.startswith("## Node with")), None)
    if start is not None:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        while start > 0 and not lines[start - 1].strip():
            start -= 1
        lines[start:end] = []
    body = section[section.index(heading) :]
    results.write_text("\n".join([*lines, "", *body]).rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument(
        "--write", action="store_true", help="also put the section into bench/results.md"
    )
    args = parser.parse_args()
    section = run(args.cases)
    print("\n".join(section))
    if args.write:
        replace_section(Path("bench/results.md"), section)


if __name__ == "__main__":
    main()

"""Replication benchmark (issue #3): county ingest, full sync beside PouchDB, catch-up, bytes.

``make bench`` runs it after the domain benchmarks (:func:`run` returns the section of
``bench/results.md``); ``python -m tests.bench.sync_bench`` runs it alone, and with
``--profile DIR`` also writes cProfile files of the county server and of the node's sync.

A township node with 10,000 finished cases is built once, before any clock starts; each run then
gets a fresh county (its own uvicorn worker on SQLite, and on PostgreSQL when
``TONGBAN_TEST_POSTGRES_URL`` is set) and a fresh copy of that node. Every server binds
127.0.0.1 only and is ended by ``timeout`` even if this process dies.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.commands import county_key_path, import_catalog, init_central, issue_token
from central.settings import CentralSettings
from node.commands import init_node
from node.identity import read_identity
from node.services.catalog import NodeCatalogService
from node.services.replication import NodeReplication
from node.settings import NodeSettings
from node.storage.catalog_store import NodeCatalogStore
from node.storage.database import NodeDatabase
from node.storage.sync_store import NodeSyncStore
from shared.calendar import CHINA_TZ
from shared.delegation import Tier
from shared.events import (
    Accepted,
    Applicant,
    CaseEvent,
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    CorrectionReceived,
    CorrectionRequested,
    Decided,
    Delivered,
    DeliveryMethod,
    IdType,
    MissingMaterial,
    Outcome,
    Rated,
    RatingChannel,
    ReceiptChannel,
    Received,
    Satisfaction,
    encode_event,
)
from shared.hlc import Hlc
from shared.receipts import format_certificate_no, format_receipt_no
from shared.signing import SigningKey
from shared.terms import ProcedureKind
from sync.auth import HEADER, sign_request
from sync.client import DEFAULT_BATCH
from sync.envelope import Envelope
from sync.keys import load_private_key, write_private_key
from sync.messages import MEDIA_TYPE, PROTOCOL_VERSION, SyncRequest, decode_response, encode
from sync.reasons import Outcome as Verdict

CASES = 10_000
CATCHUP_CASES = 500
RUNS = 5
NODE_ID, NODE_CODE = "zhen-shifan", "SFZ"
SERVER_LIFETIME_S = 900
"""Every server is killed after this long (``timeout``), whatever happens to this process."""
POUCH_DIR = Path("bench/sync")
POUCH_BATCH = 1_000
"""PouchDB's batch_size, in documents (here cases, with all their revisions): 1,000 cases a
round, about 5,000 of our envelopes; ours is ``DEFAULT_BATCH`` envelopes. Its default of 100 is
slower."""
CATALOG = Path(str(files("tongban") / "demo_catalog.json"))
POSTGRES_URL = os.environ.get("TONGBAN_TEST_POSTGRES_URL", "")


def _now() -> datetime:
    return datetime.now(UTC)


# -- the cases: 10 events in 5 transactions, all of them actions the township may take -----

Tick = Callable[[], Hlc]
Draft = Callable[[Tick], CaseEvent]
Build = Callable[[Tick], list[CaseEvent]]
APPLICANT = Applicant(
    name="王秀英", id_type=IdType.RESIDENT_ID, id_number="110101194501011234", phone="13800000000"
)
PHOTO = MissingMaterial(code="M02", name="近期一寸免冠照片", requirement="原件")


def lifecycle(case_id: str, serial: int, catalog_version: int) -> list[Build]:
    """One finished 老年人优待证 (X19) case: correction, acceptance, a check, decision, rating."""
    day = datetime.now(CHINA_TZ).date()

    def event(kind: Any, **fields: Any) -> Draft:
        def draft(tick: Tick) -> CaseEvent:
            common = {"case_id": case_id, "node_id": NODE_ID, "actor": "clerk-07"}
            made: CaseEvent = kind(id=str(uuid.uuid4()), hlc=tick(), **common, **fields)
            return made

        return draft

    def transaction(*drafts: Draft) -> Build:
        return lambda tick: [draft(tick) for draft in drafts]

    certificate_no = format_certificate_no(NODE_CODE, day.year, serial)
    return [
        transaction(
            event(Received, item_code="X19", catalog_version=catalog_version, applicant=APPLICANT,
                  materials=("M01",), channel=ReceiptChannel.WINDOW),
            event(CorrectionRequested, missing=(PHOTO,)),
        ),
        transaction(
            event(CorrectionReceived, materials=("M02",)),
            event(Accepted, receipt_no=format_receipt_no(NODE_CODE, day, serial)),
        ),
        transaction(
            event(ClockPaused, pause_id="p1", procedure=ProcedureKind.INSPECTION, reason="核实"),
            event(ClockResumed, pause_id="p1", result="核实无误"),
        ),
        transaction(
            event(Decided, outcome=Outcome.APPROVE, reason=""),
            event(CertificateIssued, certificate_no=certificate_no, title="老年人优待证"),
            event(Delivered, method=DeliveryMethod.WINDOW),
        ),
        transaction(
            event(Rated, level=Satisfaction.VERY_SATISFIED, channel=RatingChannel.HALL_TABLET),
        ),
    ]  # fmt: skip


TRANSACTIONS_PER_CASE = len(lifecycle("x", 1, 1))


def sample_transactions() -> list[list[Any]]:
    """One case's event JSON per transaction, for PouchDB's comparable documents."""
    counter = iter(range(1, 1_000))
    wall = int(_now().timestamp() * 1000)
    return [
        [json.loads(encode_event(e)) for e in build(lambda: Hlc(wall, next(counter)))]
        for build in lifecycle(str(uuid.uuid4()), 1, 1)
    ]


# -- county processes and databases ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def county_server(data: Path, database_url: str | None, profile_to: Path | None) -> Iterator[str]:
    """``tongban central serve`` (one uvicorn worker) on a free loopback port; yields its URL."""
    port = free_port()
    python = [sys.executable, *(["-m", "cProfile", "-o", str(profile_to)] if profile_to else [])]
    command = ["timeout", "-k", "10", str(SERVER_LIFETIME_S), *python, "-m", "tongban", "central"]
    command += ["serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "CENTRAL_DATABASE_URL"}
    env.update({"CENTRAL_DATABASE_URL": database_url} if database_url else {})
    log = data / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"county server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # timeout passes it on; uvicorn stops cleanly
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[str | None]:
    """None for SQLite; else a fresh PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    import asyncpg

    name = f"tongban_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def new_county(data: Path, database_url: str | None, county_key: Path) -> str:
    """A county with the demo catalog and the township entered; returns its enrollment token."""
    settings = CentralSettings(data_dir=data, database_url=database_url)
    _place_key(county_key, county_key_path(settings))
    await init_central(settings)
    await import_catalog(settings, CATALOG, by="bench")
    issued = await issue_token(
        settings,
        node_id=NODE_ID,
        name="示范镇便民服务中心",
        tier=Tier.TOWNSHIP,
        parent="county",
        short_code=NODE_CODE,
        hours=2,
        by="bench",
    )
    return issued.token


async def enroll(url: str, token: str, folder: Path, node_key: Path | None) -> None:
    """``tongban node init`` in ``folder``, with the given node key when there is one."""
    settings = NodeSettings(data_dir=folder)
    if node_key is not None:
        _place_key(node_key, settings.key_path)
    await init_node(settings, parent_url=url, token=token)


def _place_key(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_private_key(target, load_private_key(source))


BACKLOG = (
    "SELECT (SELECT coalesce(max(pos), 0) FROM sync_log)"
    " - coalesce((SELECT watermark FROM projection_watermark WHERE id = 1), 0)"
)
"""Log entries the county has stored but not projected yet."""
DELIVERED = "SELECT count(*) FROM case_row WHERE status = 'delivered'"

Probe = Callable[[str], Awaitable[int]]


@asynccontextmanager
async def county_probe(data: Path, database_url: str | None) -> AsyncIterator[Probe]:
    """Runs one counting query on the county's database while it serves (read only)."""
    if database_url is None:
        connection = sqlite3.connect(data / "central.sqlite", isolation_level=None)

        async def count(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0])

        try:
            yield count
        finally:
            connection.close()
        return
    import asyncpg

    pg = await asyncpg.connect(database_url)

    async def count_pg(sql: str) -> int:
        return int(await pg.fetchval(sql))

    try:
        yield count_pg
    finally:
        await pg.close()


# -- the node ----------------------------------------------------------------------------


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts request and response bodies as they cross the socket (compressed, as sent)."""

    def __init__(self) -> None:
        self.sent = self.received = 0
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._inner = self._inner or httpx.AsyncHTTPTransport()
        self.sent += len(request.content)
        response = await self._inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        self.received += len(raw)
        return httpx.Response(response.status_code, headers=response.headers, content=raw)

    async def aclose(self) -> None:
        # The sync client closes its transport after each sync; the next sync opens a new one.
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None


@dataclass
class Node:
    replication: NodeReplication
    releases: NodeCatalogService
    transport: CountingTransport


@asynccontextmanager
async def open_node(folder: Path, parent_url: str) -> AsyncIterator[Node]:
    """The node's replication as ``node.commands.opened`` builds it, pointed at ``parent_url``."""
    settings = NodeSettings(data_dir=folder)
    identity = msgspec.structs.replace(read_identity(settings.config_path), parent_url=parent_url)
    db = NodeDatabase(settings.database_path)
    transport = CountingTransport()
    try:
        releases = NodeCatalogService(NodeCatalogStore(db), identity, _now)
        key = load_private_key(settings.key_path)
        replication = NodeReplication(
            NodeSyncStore(db), identity, key, releases, _now, client_transport=transport
        )
        yield Node(replication, releases, transport)
    finally:
        db.close()


async def write_cases(node: Node, count: int, first_serial: int) -> float:
    """Record ``count`` cases locally; returns transactions per second."""
    version = node.releases.version()
    assert version is not None
    start = time.perf_counter()
    for serial in range(first_serial, first_serial + count):
        case_id = str(uuid.uuid4())
        for build in lifecycle(case_id, serial, version):
            await node.replication.replica.record(case_id, build)
    return count * TRANSACTIONS_PER_CASE / (time.perf_counter() - start)


async def timed_sync(
    node: Node, name: str, probe: Probe, profile_to: Path | None
) -> dict[str, float]:
    """One ``sync_once`` to the county, timed until it returns and until the county projected
    everything (it may project a large backlog after answering); and the body bytes."""
    transport = node.transport
    transport.sent = transport.received = 0
    profiler = cProfile.Profile() if profile_to else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    report = await node.replication.client.sync_once()
    acknowledged = time.perf_counter() - start
    if profiler and profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    while await probe(BACKLOG) > 0:
        if time.perf_counter() - start > SERVER_LIFETIME_S / 2:
            raise RuntimeError("the county did not finish projecting")
        await asyncio.sleep(0.01)
    projected = time.perf_counter() - start
    if report.rejected or report.held or report.accepted != report.pushed:
        raise RuntimeError(f"sync did not accept everything: {report}")
    return {
        f"{name}_s": projected,
        f"{name}_ack_s": acknowledged,
        f"{name}_bytes": transport.sent + transport.received,
    }


# -- the measurements --------------------------------------------------------------------


@dataclass
class Template:
    """What every run starts from: the keys and a node with CASES cases it never synced."""

    root: Path
    county_key: Path
    node: Path
    node_key: SigningKey
    envelopes: list[Envelope]
    release_version: int | None
    write_rate: float

    @property
    def node_key_path(self) -> Path:
        return NodeSettings(data_dir=self.node).key_path


async def build_template(root: Path) -> Template:
    county_key = root / "county.key"
    write_private_key(county_key, SigningKey.generate())
    county, node_dir = root / "template-county", root / "template-node"
    token = await new_county(county, None, county_key)
    with county_server(county, None, None) as url:
        await enroll(url, token, node_dir, None)
    shutil.rmtree(county)
    async with open_node(node_dir, "http://127.0.0.1:9") as node:
        rate = await write_cases(node, CASES, 1)
        entries, _ = await node.replication.replica.outgoing(0, CASES * TRANSACTIONS_PER_CASE)
        version = node.releases.version()
    key = load_private_key(NodeSettings(data_dir=node_dir).key_path)
    return Template(root, county_key, node_dir, key, [e.envelope for e in entries], version, rate)


async def ingest(url: str, template: Template) -> float:
    """POST the node's envelopes in batches, not final (no projection); envelopes per second."""
    envelopes, step, now_ms = template.envelopes, DEFAULT_BATCH, int(_now().timestamp() * 1000)
    requests = []
    for i in range(0, len(envelopes), step):
        body = encode(
            SyncRequest(
                protocol=PROTOCOL_VERSION,
                node_id=NODE_ID,
                envelopes=tuple(envelopes[i : i + step]),
                pull_limit=step,
                release_version=template.release_version,
                final=False,
            )
        )
        signed = sign_request(template.node_key, NODE_ID, body, now_ms)
        requests.append((body, {"Content-Type": MEDIA_TYPE, "Accept": MEDIA_TYPE, HEADER: signed}))
    async with httpx.AsyncClient(base_url=url, timeout=120.0) as http:
        await http.get("/healthz")
        start = time.perf_counter()
        answers = [await http.post("/api/v1/sync", content=b, headers=h) for b, h in requests]
        elapsed = time.perf_counter() - start
    accepted = 0
    for answer in answers:
        answer.raise_for_status()
        results = decode_response(answer.content).results
        accepted += sum(r.outcome is Verdict.ACCEPTED for r in results)
    if accepted != len(envelopes):
        raise RuntimeError(f"county accepted {accepted} of {len(envelopes)} envelopes")
    return len(envelopes) / elapsed


async def one_run(
    template: Template, backend: str, run: int, profile: Path | None
) -> dict[str, float]:
    """(a) on one fresh county; (b), (c) and (d) on another."""
    work = template.root / f"{backend}-{run}"

    def profile_file(name: str) -> Path | None:
        return profile / f"{backend}-{name}.prof" if profile and run == 0 else None

    out: dict[str, float] = {}
    async with database(backend) as database_url:
        county = work / "county-ingest"
        token = await new_county(county, database_url, template.county_key)
        with county_server(county, database_url, profile_file("county-ingest")) as url:
            await enroll(url, token, work / "enroll-ingest", template.node_key_path)
            out["ingest"] = await ingest(url, template)
    async with database(backend) as database_url:
        county = work / "county-sync"
        token = await new_county(county, database_url, template.county_key)
        with county_server(county, database_url, profile_file("county-sync")) as url:
            await enroll(url, token, work / "enroll-sync", template.node_key_path)
            shutil.copytree(template.node, work / "node")
            probing = county_probe(county, database_url)
            async with open_node(work / "node", url) as node, probing as probe:
                out.update(await timed_sync(node, "full", probe, profile_file("node-sync")))
                if (held := await probe(DELIVERED)) != CASES:
                    raise RuntimeError(f"county projected {held} of {CASES} cases")
                await write_cases(node, CATCHUP_CASES, CASES + 1)
                out.update(await timed_sync(node, "catchup", probe, None))
                if (held := await probe(DELIVERED)) != CASES + CATCHUP_CASES:
                    raise RuntimeError(f"county holds {held} cases after the catch-up")
    shutil.rmtree(work)
    return out


def verify_rates() -> list[float]:
    """Raw single-core Ed25519 verify (cryptography), 200-byte message, five rounds."""
    key = Ed25519PrivateKey.generate()
    message = os.urandom(200)
    signature, public = key.sign(message), key.public_key()
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(3_000):
            public.verify(signature, message)
        rates.append(3_000 / (time.perf_counter() - start))
    return rates


def run_pouch(root: Path) -> dict[str, Any] | None:
    """One run of the PouchDB reference in its own process; None when Node.js or its packages
    are missing."""
    if shutil.which("node") is None or not (POUCH_DIR / "node_modules").is_dir():
        return None
    config = {"cases": CASES, "catchup": CATCHUP_CASES, "runs": 1, "batch_sizes": [POUCH_BATCH]}
    config.update({"deadline_s": SERVER_LIFETIME_S, "transactions": sample_transactions()})
    path = root / "pouch.json"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    command = ["timeout", "-k", "10", str(SERVER_LIFETIME_S + 20), "node", "pouch_bench.mjs"]
    done = subprocess.run(
        [*command, str(path)], cwd=POUCH_DIR, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pouch_bench.mjs failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the report --------------------------------------------------------------------------

Row = tuple[str, str, Sequence[float], str, str, str]
"""what, unit, values, number format, target, met."""


def table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| what | unit | median | min | max | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for what, unit, values, fmt, target, met in rows:
        med, lo, hi = (f"{v:{fmt}}" for v in (statistics.median(values), min(values), max(values)))
        lines.append(f"| {what} | {unit} | {med} | {lo} | {hi} | {target} | {met} |")
    return lines


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def backend_rows(
    backend: str, runs: list[dict[str, float]], verify: float, pouch: float | None
) -> list[Row]:
    """One database's rows; targets are judged on the medians."""

    def col(key: str, per: int = 1) -> list[float]:
        return [r[key] / per for r in runs]

    def median(key: str) -> float:
        return statistics.median(col(key))

    half = verify / 2
    beat = f"≤ PouchDB, {pouch:.2f} s" if pouch else "PouchDB not run"
    return [
        (f"(a) county ingest over HTTP, one worker, {backend}", "envelopes/s", col("ingest"),
         ",.0f", f"≥ ½ verify, {half:,.0f}", _met(median("ingest") >= half)),
        (f"(b) full sync of {CASES:,} cases, node → county, {backend}", "s", col("full_s"), ".2f",
         beat, _met(median("full_s") <= pouch) if pouch else ""),
        ("… of which the node's `sync_once` (all stored and acknowledged)", "s", col("full_ack_s"),
         ".2f", "", ""),
        (f"(c) catch-up of {CATCHUP_CASES} new cases, {backend}", "s", col("catchup_s"), ".3f",
         "< 1 s", _met(median("catchup_s") < 1.0)),
        ("… of which the node's `sync_once` (all stored and acknowledged)", "s",
         col("catchup_ack_s"), ".3f", "", ""),
        (f"(d) body bytes per case on the wire, full sync, {backend}", "bytes",
         col("full_bytes", CASES), ",.0f", "", ""),
        (f"(d) body bytes per case on the wire, catch-up, {backend}", "bytes",
         col("catchup_bytes", CATCHUP_CASES), ",.0f", "", ""),
    ]  # fmt: skip


def report(
    verify: list[float],
    runs: dict[str, list[dict[str, float]]],
    pouch: dict[str, Any] | None,
    write_rate: float,
) -> list[str]:
    """The ``bench/results.md`` section."""
    rows: list[Row] = [
        ("Ed25519 verify, 200-byte message, one core", "ops/s", verify, ",.0f", "", "")
    ]
    pouch_runs = pouch["runs"] if pouch else []
    pouch_full = statistics.median([r["full_s"] for r in pouch_runs]) if pouch_runs else None
    for backend, results in runs.items():
        rows += backend_rows(backend, results, statistics.median(verify), pouch_full)
    text = "PouchDB was not run: Node.js or `bench/sync/node_modules` is missing."
    if pouch:
        rows += [
            (
                f"PouchDB `replicate.to`, {CASES:,} documents, batch_size {POUCH_BATCH:,}",
                "s",
                [r["full_s"] for r in pouch_runs],
                ".2f",
                "",
                "",
            ),
            (
                f"PouchDB catch-up, {CATCHUP_CASES} new documents",
                "s",
                [r["catchup_s"] for r in pouch_runs],
                ".3f",
                "",
                "",
            ),
            (
                "PouchDB bytes per document on the wire, full (with HTTP headers)",
                "bytes",
                [r["full_bytes"] / CASES for r in pouch_runs],
                ",.0f",
                "",
                "",
            ),
        ]
        versions = ", ".join(f"{k} {v}" for k, v in pouch["versions"].items())
        text = (
            f"PouchDB: {versions} on Node.js {pouch['node']}, in-memory adapter at both ends, "
            "express-pouchdb in `minimumForPouchDB` mode; each document carries the event JSON of "
            "one of our cases and gets one revision per transaction "
            f"({pouch_runs[0]['doc_json_bytes']:,} bytes of JSON in the end); its bytes are all "
            "bytes on the server's sockets."
        )
    rows.append(
        (
            "node: local transactions (`Replica.record`), building the cases",
            "tx/s",
            [write_rate],
            ",.0f",
            "",
            "",
        )
    )
    return [
        "## Replication (issue #3)",
        "",
        f"A township node holds {CASES:,} finished cases of 10 events, each written in "
        f"{TRANSACTIONS_PER_CASE} transactions ({CASES * TRANSACTIONS_PER_CASE:,} signed "
        "envelopes), built before any clock starts. The county is `tongban central serve`, one "
        "uvicorn worker on 127.0.0.1, with its default projection helpers (one per core beyond "
        "the first). (b) and (c) run until the county has projected every case (it may project "
        "a large backlog after answering). Each run uses a fresh county and a fresh copy of the "
        f"node; {RUNS} rounds, each one run per backend and then one PouchDB run; "
        "median of the rounds (min–max), targets judged on the medians. Our bytes are request "
        "and response bodies as sent (gzip), without HTTP headers. " + text,
        "",
        *table(rows),
        "",
    ]  # fmt: skip


def run(profile: Path | None = None) -> list[str]:
    """Run every measurement and return the results section (markdown lines)."""
    backends = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tongban-sync-bench-") as tmp:
        print(f"sync bench: writing {CASES:,} cases at a township node …", flush=True)
        template = asyncio.run(build_template(Path(tmp)))
        verify = verify_rates()
        runs: dict[str, list[dict[str, float]]] = {}
        pouch: dict[str, Any] | None = None
        # Rounds alternate the contenders, so that a machine whose speed drifts during the
        # run (a shared virtual machine's does) favours none of them.
        for number in range(RUNS):
            for backend in backends:
                result = asyncio.run(one_run(template, backend, number, profile))
                shown = ", ".join(f"{k} {v:,.3f}" for k, v in result.items())
                print(f"sync bench: {backend} run {number + 1}: {shown}", flush=True)
                runs.setdefault(backend, []).append(result)
            reference = run_pouch(Path(tmp))
            if reference is not None:
                print(f"sync bench: PouchDB run {number + 1}: {reference['runs']}", flush=True)
                pouch = (
                    reference
                    if pouch is None
                    else pouch | {"runs": [*pouch["runs"], *reference["runs"]]}
                )
    return report(verify, runs, pouch, template.write_rate)


def main() -> None:
    profile = None
    if len(sys.argv) == 3 and sys.argv[1] == "--profile":
        profile = Path(sys.argv[2]).resolve()
    print("\n".join(run(profile)))


if __name__ == "__main__":
    main()

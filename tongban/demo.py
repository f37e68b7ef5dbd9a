"""``make demo``: a county centre, a township node and a community node on this machine.

Each tier runs as its own process on embedded SQLite, exactly as it would on its own
machine, and each node also runs its worker (``tongban node worker``: the minute sync and the
deadline reminders); only the data folders sit side by side. Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import httpx

STARTUP_TIMEOUT_SECONDS = 30.0


DEMO_USER = "clerk"
DEMO_PASSWORD = "tongban-demo"  # noqa: S105 - a demo account, printed at start
"""Demo only: printed on start. Real installations create accounts with `tongban node add-user`."""

DEMO_COUNTY_USERS: tuple[tuple[str, str, str, str, str | None], ...] = (
    # username, name, roles, home node, department
    ("admin", "县中心系统管理员", "admin", "county", None),
    ("catalog", "目录审核员", "catalog_reviewer", "county", None),
    ("supervisor", "县电子监察员", "supervisor", "county", None),
    ("shifan-jiancha", "示范镇电子监察员", "supervisor", "zhen-shifan", None),
    ("clerk", "县中心窗口", "clerk,reviewer,approver", "county", None),
    ("dept-zrzy", "自然资源局审查员", "department", "county", "zrzy"),
    ("dept-nync", "农业农村局审查员", "department", "county", "nync"),
)
"""Demo only, with the demo password: one county account per kind of work."""

DEMO_SYNC_INTERVAL = "5"
"""Seconds between syncs in the demo, so changes show up quickly (production default: 60)."""


@dataclass(frozen=True)
class DemoNode:
    """One demo node and how it is registered."""

    folder: str
    node_id: str
    name: str
    tier: str
    parent_id: str
    code: str
    port_offset: int
    parent_offset: int


TOWNSHIP = DemoNode(
    "township", "zhen-shifan", "示范镇便民服务中心", "township", "county", "SFZ", 10, 0
)
COMMUNITY = DemoNode(
    "community", "she-dongcun", "东村社区便民服务站", "community", "zhen-shifan", "DCS", 20, 10
)


def run_demo(data: Path, port: int) -> int:
    """Set up (first run only) and start the three tiers; block until Ctrl-C."""
    data = data.resolve()
    busy = [
        p for p in (port, port + TOWNSHIP.port_offset, port + COMMUNITY.port_offset) if _taken(p)
    ]
    if busy:
        ports = "、".join(str(p) for p in busy)
        print(
            f"端口 {ports} 已被占用（是否已有演示在运行？）。请先停止它，或用 --port 换一个端口。",
            file=sys.stderr,
        )
        return 1
    # A plain `kill` must stop the children too, so SIGTERM takes the same exit path as Ctrl-C.
    signal.signal(signal.SIGTERM, _stop)
    catalog_file = Path(str(files("tongban") / "demo_catalog.json"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        central_dir = data / "central"
        if not (central_dir / "central.sqlite").exists():
            _tongban("central", "init", "--data", str(central_dir))
        _tongban(
            "central",
            "import-catalog",
            str(catalog_file),
            "--by",
            "demo",
            "--data",
            str(central_dir),
        )
        processes.append(_serve("central", central_dir, port))
        _wait_healthy(port, "县中心")
        for node in (TOWNSHIP, COMMUNITY):
            folder = data / node.folder
            if not (folder / "node.json").exists():
                token = _tongban_output(
                    "central",
                    "enroll-token",
                    "--data",
                    str(central_dir),
                    "--node-id",
                    node.node_id,
                    "--name",
                    node.name,
                    "--tier",
                    node.tier,
                    "--parent",
                    node.parent_id,
                    "--code",
                    node.code,
                    "--by",
                    "demo",
                )
                parent = f"http://127.0.0.1:{port + node.parent_offset}"
                _tongban(
                    "node", "init", "--data", str(folder), "--parent", parent, "--token", token
                )
                _add_demo_user(folder, node)
            # Residents verify a document's QR at the county portal, which checks any tier.
            public = {"NODE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
            processes.append(_serve("node", folder, port + node.port_offset, public))
            _wait_healthy(port + node.port_offset, node.name)
            # The worker asks the web process to sync and keeps the deadline reminders.
            processes.append(_worker(folder))
        _add_county_users(central_dir)
        _announce(data, port)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("有一个服务已退出，正在停止其余服务。", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n正在停止……")
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _tongban(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "tongban", *args], check=True)


def _add_demo_user(folder: Path, node: DemoNode) -> None:
    # One account with every role, so a visitor can try each step at the window.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tongban",
            "node",
            "add-user",
            "--data",
            str(folder),
            "--username",
            DEMO_USER,
            "--name",
            f"{node.name}窗口",
            "--role",
            "clerk",
            "--role",
            "reviewer",
            "--role",
            "approver",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=DEMO_PASSWORD + "\n",
        text=True,
        check=True,
    )


def _add_county_users(central_dir: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "tongban", "central", "users", "--data", str(central_dir)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    existing = {line.split("\t", 1)[0] for line in listed.splitlines()}
    for username, name, roles, home_node, department in DEMO_COUNTY_USERS:
        if username in existing:
            continue
        extra = ["--department", department] if department else []
        subprocess.run(
            [
                *(sys.executable, "-m", "tongban", "central", "add-user", username),
                *("--data", str(central_dir), "--name", name, "--roles", roles),
                *("--node", home_node, *extra, "--password-stdin"),
            ],
            input=DEMO_PASSWORD + "\n",
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _tongban_output(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "tongban", *args], check=True, stdout=subprocess.PIPE, text=True
    )
    return completed.stdout.strip().splitlines()[0]


def _serve(
    kind: str, folder: Path, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    # A session of their own keeps the terminal's Ctrl-C from reaching the children, so that
    # the demo stops them itself, in order.
    command = [sys.executable, "-m", "tongban", kind, "serve", "--data", str(folder)]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        start_new_session=True,
        env={**os.environ, "NODE_SYNC_INTERVAL": DEMO_SYNC_INTERVAL, **(extra_env or {})},
    )


def _worker(folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tongban", "node", "worker", "--data", str(folder)],
        start_new_session=True,
        env={**os.environ, "NODE_SYNC_INTERVAL": DEMO_SYNC_INTERVAL},
    )


def _wait_healthy(port: int, label: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    url = f"http://127.0.0.1:{port}/healthz"
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(
        f"{label} 未能在 {STARTUP_TIMEOUT_SECONDS:.0f} 秒内启动（端口 {port} 是否被占用？）"
    )


def _announce(data: Path, port: int) -> None:
    print()
    print("通办演示已启动（按 Ctrl-C 全部停止）：")
    print(f"  县政务服务中心      http://127.0.0.1:{port}/")
    print(f"  示范镇便民服务中心  http://127.0.0.1:{port + TOWNSHIP.port_offset}/")
    print(f"  东村社区便民服务站  http://127.0.0.1:{port + COMMUNITY.port_offset}/")
    print(f"  工作台（登录）      http://127.0.0.1:{port + TOWNSHIP.port_offset}/desk")
    print(f"  接口文档            http://127.0.0.1:{port}/schema")
    print(f"  数据目录            {data}")
    print(f"  乡镇、社区工作台    {DEMO_USER} / {DEMO_PASSWORD}（窗口、审核、决定、管理员）")
    print(f"  县中心工作台        http://127.0.0.1:{port}/desk（密码均为 {DEMO_PASSWORD}）")
    for username, name, roles, home_node, department in DEMO_COUNTY_USERS:
        scope = "全县" if home_node == "county" else f"{home_node} 及下级"
        dept = f"，{department}" if department else ""
        print(f"    {username:<16}{name}（{roles}{dept}；{scope}）")
    print()

"""``tongban``: one command for every tier's operators.

tongban calendar due|between|show   deadline arithmetic on the official calendar
tongban central init|import-catalog|serve
tongban node init|pull-catalog|serve
tongban demo                        a county, a township and a community on this machine
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.delegation import Tier
from shared.errors import PlatformError
from shared.version import VERSION
from tongban import calendar_cli


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (``tongban --help`` lists every command)."""
    parser = argparse.ArgumentParser(
        prog="tongban",
        description="通办：县—乡镇—村（社区）三级政务服务网络。",
    )
    parser.add_argument("--version", action="version", version=f"tongban {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    calendar_cli.add_parser(commands)
    _add_central(commands)
    _add_node(commands)

    demo = commands.add_parser(
        "demo", help="在本机启动县中心、一个乡镇节点和一个社区节点（演示数据）"
    )
    demo.add_argument("--data", type=Path, default=Path(".demo"), help="演示数据目录")
    demo.add_argument("--port", type=int, default=8700, help="县中心端口；乡镇 +10，社区 +20")
    demo.set_defaults(handler=_demo)
    return parser


def _add_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = commands.add_parser("central", help="县政务服务中心")
    sub = central.add_subparsers(dest="central_command", required=True, metavar="COMMAND")

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--data", type=Path, help="数据目录（默认 $CENTRAL_DATA_DIR 或 data/central）"
        )
        return p

    init = with_data(sub.add_parser("init", help="创建数据目录、数据库表和县级签名密钥（0600）"))
    init.set_defaults(handler=_central_init)

    imp = with_data(sub.add_parser("import-catalog", help="校验并发布事项目录文件（JSON）为新版本"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--by", default="admin", help="发布人（记入发布记录）")
    imp.set_defaults(handler=_central_import)

    serve = with_data(sub.add_parser("serve", help="运行县中心网站与接口"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_central_serve)


def _add_node(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = commands.add_parser("node", help="乡镇（街道）或村（社区）节点")
    sub = node.add_subparsers(dest="node_command", required=True, metavar="COMMAND")

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data", type=Path, help="数据目录（默认 $NODE_DATA_DIR 或 data/node）")
        return p

    init = with_data(
        sub.add_parser("init", help="初始化节点：身份文件、数据库、节点密钥，并从上级获取目录")
    )
    init.add_argument("--tier", required=True, choices=[Tier.TOWNSHIP.value, Tier.COMMUNITY.value])
    init.add_argument("--name", required=True, help="服务点名称，如 示范镇便民服务中心")
    init.add_argument("--parent", required=True, help="上级地址，如 http://county.example:8700")
    init.add_argument("--node-id", required=True, help="节点标识，小写字母、数字、连字符")
    init.add_argument("--code", required=True, help="节点简码，2–8 位大写字母或数字，用于受理编号")
    init.set_defaults(handler=_node_init)

    pull = with_data(sub.add_parser("pull-catalog", help="从上级获取最新事项目录"))
    pull.set_defaults(handler=_node_pull)

    serve = with_data(sub.add_parser("serve", help="运行节点网站与接口"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_node_serve)


def _central_settings(args: argparse.Namespace) -> object:
    from central.settings import CentralSettings

    return CentralSettings.from_env(
        data_dir=args.data, host=getattr(args, "host", None), port=getattr(args, "port", None)
    )


def _central_init(args: argparse.Namespace) -> int:
    from central.commands import county_key_path, init_central
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data)
    key = asyncio.run(init_central(settings))
    print(f"县中心数据目录：{settings.data_dir}")
    print(f"县级签名密钥：{county_key_path(settings)}（指纹 {key.public_key.fingerprint()}）")
    return 0


def _central_import(args: argparse.Namespace) -> int:
    from central.commands import import_catalog
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data)
    current = asyncio.run(import_catalog(settings, args.file, by=args.by))
    print(
        f"目录版本 {current.version}：{len(current.catalog.items)} 个事项，"
        f"摘要 {current.content_hash[:16]}…"
    )
    return 0


def _central_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from central.app import create_app
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data, host=args.host, port=args.port)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _node_init(args: argparse.Namespace) -> int:
    from node.commands import init_node, pull_catalog
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data)
    identity = init_node(
        settings,
        node_id=args.node_id,
        name=args.name,
        tier=Tier(args.tier),
        short_code=args.code,
        parent_url=args.parent,
    )
    label = f"{identity.name}（{identity.node_id}，{identity.tier.label}）"
    print(f"节点 {label} 已初始化：{settings.data_dir}")
    try:
        held = asyncio.run(pull_catalog(settings))
    except PlatformError as exc:
        print(f"暂未获取事项目录：{exc.message}。上级可达后运行 tongban node pull-catalog。")
        return 0
    _report_catalog(held)
    return 0


def _node_pull(args: argparse.Namespace) -> int:
    from node.commands import pull_catalog
    from node.settings import NodeSettings

    _report_catalog(asyncio.run(pull_catalog(NodeSettings.from_env(data_dir=args.data))))
    return 0


def _report_catalog(held: object) -> None:
    if held is None:
        print("上级尚未发布事项目录。")
    else:
        print(f"事项目录版本 {getattr(held, 'version', '?')} 已就绪。")


def _node_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from node.app import create_app
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data, host=args.host, port=args.port)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tongban.demo import run_demo

    return run_demo(args.data, args.port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; domain errors become a Chinese message and exit status 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PlatformError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        problems = getattr(exc, "problems", None)
        if problems and len(problems) > 1:
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

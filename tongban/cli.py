"""``tongban``: one command for every tier's operators.

tongban calendar due|between|show   deadline arithmetic on the official calendar
tongban central init|migrate|import-catalog|serve|worker|add-user|users
tongban node init|sync|rebuild|serve|worker|add-user|set-password
tongban demo                        a county, a township and a community on this machine
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from shared.delegation import Tier
from shared.errors import ConflictError, NotFoundError, PlatformError
from shared.version import VERSION
from tongban import calendar_cli

if TYPE_CHECKING:
    from node.services.accounts import AccountService
    from node.settings import NodeSettings


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

    migrate = with_data(
        sub.add_parser(
            "migrate", help="升级县中心数据库：按顺序应用尚未应用的迁移（serve 启动时也会执行）"
        )
    )
    migrate.set_defaults(handler=_central_migrate)

    imp = with_data(sub.add_parser("import-catalog", help="校验并发布事项目录文件（JSON）为新版本"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--by", default="admin", help="发布人（记入发布记录）")
    imp.set_defaults(handler=_central_import)

    token = with_data(sub.add_parser("enroll-token", help="登记新节点并签发一次性注册令牌"))
    token.add_argument("--node-id", required=True, help="节点标识，小写字母、数字、连字符")
    token.add_argument("--name", required=True, help="服务点名称，如 示范镇便民服务中心")
    token.add_argument("--tier", required=True, choices=[Tier.TOWNSHIP.value, Tier.COMMUNITY.value])
    token.add_argument("--parent", required=True, help="上级节点标识（乡镇的上级为 county）")
    token.add_argument("--code", required=True, help="节点简码，2–8 位大写字母或数字，用于受理编号")
    token.add_argument("--hours", type=int, default=72, help="令牌有效小时数（默认 72）")
    token.add_argument("--by", default="admin")
    token.set_defaults(handler=_central_token)

    for verb, label in (("revoke", "吊销"), ("quarantine", "隔离"), ("reinstate", "恢复")):
        status = with_data(sub.add_parser(verb, help=f"{label}节点（随新发布下达各级）"))
        status.add_argument("node_id")
        status.add_argument("--reason", required=True)
        status.add_argument("--by", default="admin")
        status.set_defaults(handler=_central_status, verb=verb)

    rebuild = with_data(sub.add_parser("rebuild", help="由信封日志重建办件物化表"))
    rebuild.set_defaults(handler=_central_rebuild)

    serve = with_data(sub.add_parser("serve", help="运行县中心网站与接口"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_central_serve)

    worker = with_data(
        sub.add_parser("worker", help="运行县中心后台任务（每分钟补投影未入表的记录；Ctrl-C 退出）")
    )
    worker.set_defaults(handler=_central_worker)

    add_user = with_data(sub.add_parser("add-user", help="新增县中心工作人员账号"))
    add_user.add_argument("username", help="登录用户名：2–32 位小写字母、数字、点、下划线或连字符")
    add_user.add_argument("--name", required=True, help="姓名，如 张三")
    add_user.add_argument(
        "--roles",
        required=True,
        help="角色，逗号分隔：admin（系统管理员）、catalog_reviewer（目录审核）、"
        "supervisor（电子监察）、clerk（窗口人员）、reviewer（审核）、approver（决定）、"
        "department（部门审查）",
    )
    add_user.add_argument(
        "--node", default="county", help="所属节点：county 可查看全县；乡镇节点只能查看本乡镇及下级"
    )
    add_user.add_argument("--department", help="部门名称（部门审查角色必填）")
    add_user.add_argument(
        "--password-stdin", action="store_true", help="从标准输入读取一行作为密码（用于脚本）"
    )
    add_user.set_defaults(handler=_central_add_user)

    users = with_data(sub.add_parser("users", help="列出县中心工作人员账号"))
    users.set_defaults(handler=_central_users)


def _add_node(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = commands.add_parser("node", help="乡镇（街道）或村（社区）节点")
    sub = node.add_subparsers(dest="node_command", required=True, metavar="COMMAND")

    def with_data(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data", type=Path, help="数据目录（默认 $NODE_DATA_DIR 或 data/node）")
        return p

    init = with_data(
        sub.add_parser("init", help="初始化节点：生成本机密钥，凭县中心令牌注册，取得发布")
    )
    init.add_argument("--parent", required=True, help="上级地址，如 http://county.example:8700")
    init.add_argument("--token", required=True, help="县中心签发的一次性注册令牌")
    init.set_defaults(handler=_node_init)

    sync = with_data(sub.add_parser("sync", help="立即与上级同步一次"))
    sync.set_defaults(handler=_node_sync)

    rebuild = with_data(sub.add_parser("rebuild", help="由信封日志重建办件物化表"))
    rebuild.set_defaults(handler=_node_rebuild)

    serve = with_data(sub.add_parser("serve", help="运行节点网站与接口"))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_node_serve)

    worker = with_data(
        sub.add_parser(
            "worker", help="运行节点后台任务（每分钟与上级同步、每五分钟核对到期提醒；Ctrl-C 退出）"
        )
    )
    worker.set_defaults(handler=_node_worker)

    stdin_help = "从标准输入读取一行作为密码（不交互提示，用于脚本）"
    add_user = with_data(sub.add_parser("add-user", help="新增本节点工作人员账号"))
    add_user.add_argument(
        "--username", required=True, help="登录用户名：2–32 位小写字母、数字、点、下划线或连字符"
    )
    add_user.add_argument("--name", required=True, help="姓名，如 张三")
    add_user.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        metavar="ROLE",
        help="角色，可重复：clerk（窗口人员）、reviewer（审核）、approver（决定）、admin（节点管理员）",
    )
    add_user.add_argument("--password-stdin", action="store_true", help=stdin_help)
    add_user.set_defaults(handler=_node_add_user)

    set_password = with_data(
        sub.add_parser("set-password", help="重设工作人员密码（该账号已有的登录随即失效）")
    )
    set_password.add_argument("--username", required=True)
    set_password.add_argument("--password-stdin", action="store_true", help=stdin_help)
    set_password.set_defaults(handler=_node_set_password)


def _central_init(args: argparse.Namespace) -> int:
    from central.commands import county_key_path, init_central
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data)
    key = asyncio.run(init_central(settings))
    print(f"县中心数据目录：{settings.data_dir}")
    print(f"县级签名密钥：{county_key_path(settings)}（指纹 {key.public_key.fingerprint()}）")
    return 0


def _central_migrate(args: argparse.Namespace) -> int:
    from central.commands import migrate_database
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data)
    where = "PostgreSQL（CENTRAL_DATABASE_URL）" if settings.database_url else settings.sqlite_path
    report = asyncio.run(migrate_database(settings))
    print(f"县中心数据库：{where}")
    if not report.applied:
        print(f"数据库已是最新：本版本的 {report.known} 个迁移均已应用，未做任何改动。")
        return 0
    if report.adopted:
        print("数据库建于迁移机制之前：基线迁移已接管现有表，原有数据全部保留。")
    for migration in report.applied:
        print(f"已应用迁移 {migration.name}：{migration.summary}")
    return 0


def _central_import(args: argparse.Namespace) -> int:
    from central.commands import import_catalog
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data)
    current = asyncio.run(import_catalog(settings, args.file, by=args.by))
    print(
        f"发布版本 {current.version}：{len(current.catalog.items)} 个事项，"
        f"摘要 {current.content_hash[:16]}…"
    )
    return 0


def _central_token(args: argparse.Namespace) -> int:
    from central.commands import issue_token
    from central.settings import CentralSettings

    issued = asyncio.run(
        issue_token(
            CentralSettings.from_env(data_dir=args.data),
            node_id=args.node_id,
            name=args.name,
            tier=Tier(args.tier),
            parent=args.parent,
            short_code=args.code,
            hours=args.hours,
            by=args.by,
        )
    )
    print(issued.token)
    until = f"{issued.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"节点 {issued.node_id} 的注册令牌，{until} 前有效，仅可使用一次。", file=sys.stderr)
    return 0


def _central_status(args: argparse.Namespace) -> int:
    from central.commands import set_node_status
    from central.settings import CentralSettings
    from shared.registry import NodeStatus

    status = {
        "revoke": NodeStatus.REVOKED,
        "quarantine": NodeStatus.QUARANTINED,
        "reinstate": NodeStatus.ACTIVE,
    }[args.verb]
    release = asyncio.run(
        set_node_status(
            CentralSettings.from_env(data_dir=args.data),
            args.node_id,
            status,
            reason=args.reason,
            by=args.by,
        )
    )
    print(f"节点 {args.node_id} 状态已改为“{status.label}”，已发布版本 {release.version}。")
    return 0


def _central_rebuild(args: argparse.Namespace) -> int:
    from central.commands import rebuild
    from central.settings import CentralSettings

    report = asyncio.run(rebuild(CentralSettings.from_env(data_dir=args.data)))
    print(f"已由 {report.entries} 条记录重建 {report.cases} 个办件。")
    return 0


def _central_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from central.app import create_app
    from central.settings import CentralSettings

    settings = CentralSettings.from_env(data_dir=args.data, host=args.host, port=args.port)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _central_worker(args: argparse.Namespace) -> int:
    from central.settings import CentralSettings
    from central.worker import run_worker

    settings = CentralSettings.from_env(data_dir=args.data)
    queue = "Redis" if settings.redis_url else str(settings.data_dir / "huey.sqlite")
    print(f"县中心后台任务已启动（队列：{queue}），按 Ctrl-C 停止。", file=sys.stderr)
    run_worker(settings)
    return 0


def _central_add_user(args: argparse.Namespace) -> int:
    from central.commands import add_county_user
    from central.services.accounts import parse_county_roles
    from central.settings import CentralSettings

    roles = parse_county_roles([args.roles])  # a typo is reported before the password is asked
    user = asyncio.run(
        add_county_user(
            CentralSettings.from_env(data_dir=args.data),
            username=args.username,
            name=args.name,
            roles=[role.value for role in roles],
            home_node=args.node,
            department=args.department,
            password=_read_new_password(args.password_stdin),
        )
    )
    scope = "全县" if user.visible is None else f"{user.home_node} 及其下级"
    print(f"已创建县中心账号 {user.username}（{user.name}）。")
    print(f"角色：{user.role_labels}；可查看范围：{scope}。")
    return 0


def _central_users(args: argparse.Namespace) -> int:
    from central.commands import county_users
    from central.settings import CentralSettings

    for user in asyncio.run(county_users(CentralSettings.from_env(data_dir=args.data))):
        state = "" if user.active else "（已停用）"
        department = f" [{user.department}]" if user.department else ""
        print(
            f"{user.username}\t{user.name}{department}\t{user.role_labels}\t{user.home_node}{state}"
        )
    return 0


def _node_init(args: argparse.Namespace) -> int:
    from node.commands import init_node
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data)
    identity = asyncio.run(init_node(settings, parent_url=args.parent, token=args.token))
    label = f"{identity.name}（{identity.node_id}，{identity.tier.label}）"
    print(f"节点 {label} 已注册并初始化：{settings.data_dir}")
    return 0


@contextmanager
def _node_writer(settings: NodeSettings) -> Iterator[None]:
    """Hold the folder's writer lock for a command that writes through the replica."""
    from node.services.replication import WRITER_LOCK
    from node.storage.sync_store import WriterLock

    lock = WriterLock(settings.data_dir / WRITER_LOCK)
    if not lock.try_acquire():
        raise ConflictError(
            "本节点网站（或后台任务的同步）正在运行，它会写入同一个数据库。同步请在工作台点"
            "“立即同步”；重建请先停止节点网站和后台任务。",
            code="node_busy",
        )
    try:
        yield
    finally:
        lock.release()


def _node_sync(args: argparse.Namespace) -> int:
    from node.commands import sync_once
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data)
    with _node_writer(settings):
        report = asyncio.run(sync_once(settings))
    print(
        f"同步完成：上报 {report.pushed} 条（接收 {report.accepted}，重复 {report.duplicates}，"
        f"暂存 {report.held}，拒收 {len(report.rejected)}），下载 {report.pulled} 条。"
    )
    for result in report.rejected:
        print(f"  拒收 {result.origin}#{result.seq}：{result.detail}", file=sys.stderr)
    return 0


def _node_rebuild(args: argparse.Namespace) -> int:
    from node.commands import rebuild
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data)
    with _node_writer(settings):
        report = asyncio.run(rebuild(settings))
    print(f"已由 {report.entries} 条记录重建 {report.cases} 个办件。")
    return 0


def _node_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from node.app import create_app
    from node.settings import NodeSettings

    settings = NodeSettings.from_env(data_dir=args.data, host=args.host, port=args.port)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _node_worker(args: argparse.Namespace) -> int:
    from node.identity import read_identity
    from node.settings import NodeSettings
    from node.worker import run_worker

    settings = NodeSettings.from_env(data_dir=args.data)
    read_identity(settings.config_path)  # refuses a folder that is not an initialised node
    print(f"节点后台任务已启动（数据目录：{settings.data_dir}），按 Ctrl-C 停止。", file=sys.stderr)
    run_worker(settings)
    return 0


@contextmanager
def _node_accounts(data: Path | None) -> Iterator[AccountService]:
    from datetime import UTC, datetime

    from node.identity import read_identity
    from node.services.accounts import AccountService
    from node.settings import NodeSettings
    from node.storage.accounts import AccountStore
    from node.storage.database import NodeDatabase

    settings = NodeSettings.from_env(data_dir=data)
    read_identity(settings.config_path)  # refuses a folder that is not an initialised node
    database = NodeDatabase(settings.database_path)
    try:
        yield AccountService(AccountStore(database), lambda: datetime.now(UTC))
    finally:
        database.close()


def _read_new_password(from_stdin: bool) -> str:
    """One line from stdin, or typed twice without echo; never printed or logged."""
    from shared.credentials import check_password_rules
    from shared.errors import InvalidError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("新密码：")
    check_password_rules(password)
    if getpass.getpass("再次输入新密码：") != password:
        raise InvalidError("两次输入的密码不一致，未作任何修改。", code="password_mismatch")
    return password


def _node_add_user(args: argparse.Namespace) -> int:
    from node.services.accounts import parse_roles

    parse_roles(args.roles)  # a typo in a role is reported before the password is asked
    with _node_accounts(args.data) as accounts:
        if accounts.user(args.username) is not None:
            raise ConflictError(f"用户名“{args.username}”已存在。", code="username_taken")
        password = _read_new_password(args.password_stdin)
        user = accounts.add_user(
            username=args.username, name=args.name, roles=args.roles, password=password
        )
    roles = "、".join(role.label for role in user.ordered_roles)
    print(f"已创建账号 {user.username}（{user.name}），角色：{roles}。")
    return 0


def _node_set_password(args: argparse.Namespace) -> int:
    with _node_accounts(args.data) as accounts:
        if accounts.user(args.username) is None:
            raise NotFoundError(f"没有用户名为“{args.username}”的账号。", code="user_not_found")
        closed = accounts.set_password(args.username, _read_new_password(args.password_stdin))
    print(f"已重设 {args.username} 的密码，结束了 {closed} 个登录会话。")
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

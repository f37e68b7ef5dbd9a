"""The ``tongban`` command line: calendar questions and operator commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest

from shared.calendar import CalendarYear, HolidayRange
from tongban.cli import build_parser, main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("calendar", "central", "node", "demo"):
        assert command in out
    subcommands = {
        "calendar": ["due", "between", "show"],
        "central": [
            "init",
            "import-catalog",
            "enroll-token",
            "revoke",
            "quarantine",
            "reinstate",
            "rebuild",
            "migrate",
            "serve",
            "worker",
        ],
        "node": ["init", "sync", "rebuild", "serve", "worker"],
    }
    for command, names in subcommands.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert all(name in text for name in names), command


def test_calendar_due_matches_the_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "calendar", "due", "2026-02-06", "20") == (0, "2026-03-12\n", "")


def test_calendar_due_flags_a_provisional_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calendar", "due", "2026-12-10", "20")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "2027-01-08"
    assert "暂定" in lines[1]


def test_calendar_due_with_a_pause(capsys: pytest.CaptureFixture[str]) -> None:
    # The pause covers Tue 2026-03-03 .. Mon 2026-03-09: five working days not counted.
    code, out, _ = run(
        capsys, "calendar", "due", "2026-03-02", "5", "--pause", "2026-03-03", "2026-03-09"
    )
    assert (code, out) == (0, "2026-03-16\n")


def test_calendar_between_counts_working_days(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "calendar", "between", "2026-02-06", "2026-03-12")[1] == "20\n"
    assert run(capsys, "calendar", "between", "2026-03-12", "2026-02-06")[1] == "-20\n"


def test_calendar_show_lists_the_notice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calendar", "show", "2026")
    assert code == 0
    assert "春节：2026-02-15 至 2026-02-23，共 9 天" in out
    assert "2026-02-14" in out and "全年工作日：248 天" in out


def test_admin_checks_a_newly_entered_year(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fixed = (
        HolidayRange(name="元旦", first=date(2027, 1, 1), last=date(2027, 1, 3)),
        HolidayRange(name="劳动节", first=date(2027, 5, 1), last=date(2027, 5, 5)),
        HolidayRange(name="国庆节", first=date(2027, 10, 1), last=date(2027, 10, 7)),
    )
    year = CalendarYear(year=2027, holidays=fixed, makeup_workdays=(), source="测试用安排")
    path = tmp_path / "2027.json"
    path.write_bytes(msgspec.json.encode(year))
    code, out, _ = run(capsys, "calendar", "due", "2026-12-31", "1", "--add-year", str(path))
    assert (code, out) == (0, "2027-01-04\n")
    incomplete = msgspec.structs.replace(year, holidays=fixed[:1])
    path.write_bytes(msgspec.json.encode(incomplete))
    code, _, err = run(capsys, "calendar", "show", "2027", "--add-year", str(path))
    assert code == 1 and "2027-05-01 不在任何放假区间内" in err


def test_bad_calendar_input_is_refused_in_chinese(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["calendar", "due", "2026-02-30", "5"])
    assert exit_info.value.code == 2
    assert "日期格式应为" in capsys.readouterr().err
    code, _, err = run(capsys, "calendar", "show", "2031")
    assert code == 1 and "尚未录入 2031 年放假安排" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = run(
        capsys, "calendar", "between", "2026-01-01", "2026-01-02", "--add-year", str(bad)
    )
    assert code == 1 and "格式错误" in err


def test_central_import_lists_every_problem_of_a_bad_catalog(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_catalog_bytes: bytes
) -> None:
    data = tmp_path / "central"
    assert run(capsys, "central", "init", "--data", str(data))[0] == 0
    catalog = msgspec.json.decode(demo_catalog_bytes)
    catalog["items"][0]["name"] = ""
    catalog["items"][1]["promised"] = {"days": 999}
    bad = tmp_path / "bad.json"
    bad.write_bytes(msgspec.json.encode(catalog))
    code, _, err = run(capsys, "central", "import-catalog", str(bad), "--data", str(data))
    assert code == 1
    assert err.count("\n  - ") >= 2
    good = tmp_path / "good.json"
    good.write_bytes(demo_catalog_bytes)
    code, out, _ = run(capsys, "central", "import-catalog", str(good), "--data", str(data))
    assert code == 0 and out.startswith("发布版本 1：")


def test_parser_builds_without_importing_the_services() -> None:
    import sys

    for name in [m for m in sys.modules if m.startswith(("central.app", "node.app"))]:
        del sys.modules[name]
    build_parser()
    assert "central.app" not in sys.modules and "node.app" not in sys.modules

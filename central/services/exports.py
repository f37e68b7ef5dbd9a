"""Tables as CSV and XLSX downloads: every table a supervision page shows can be exported.

CSV carries a UTF-8 byte-order mark so spreadsheet programs in Chinese offices open it with the
right encoding. Cells a spreadsheet would run as a formula are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

Cell = str | int | float | date | datetime | None

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportTable:
    """A titled table: header row and data rows."""

    name: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def _safe_text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _cell(value: Cell) -> str | int | float | date | datetime:
    if value is None:
        return ""
    if isinstance(value, str):
        return _safe_text(value)
    return value


def to_csv(table: ExportTable) -> bytes:
    """The table as UTF-8 CSV with a byte-order mark."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_safe_text(c) for c in table.columns])
    for row in table.rows:
        writer.writerow(
            [v.isoformat() if isinstance(v, date | datetime) else _cell(v) for v in row]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: ExportTable) -> bytes:
    """The table as an XLSX workbook with one sheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = table.title[:31] or "Sheet1"
    sheet.append([_safe_text(c) for c in table.columns])
    for row in table.rows:
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else _cell(v) for v in row])
    for index, column in enumerate(table.columns, 1):
        width = max([len(str(column)), *(len(str(r[index - 1] or "")) for r in table.rows)])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, 4 + width * 2)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(table: ExportTable, fmt: str) -> bytes:
    """The table in ``fmt`` (``csv`` or ``xlsx``)."""
    return to_xlsx(table) if fmt == "xlsx" else to_csv(table)

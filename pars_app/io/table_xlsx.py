"""A plain table (header row + rows) written as .xlsx: the accreditor overview and audit log
exports. openpyxl in write-only mode, so memory stays flat however many rows stream in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets when
# the file is opened or re-saved as CSV ("CSV injection"); tab and CR start hidden ones.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CENTRAL = ZoneInfo("America/Chicago")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def safe_text(value: str) -> str:
    """Text that a spreadsheet shows as typed and never evaluates (OWASP: prefix a quote)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(ws, value: Any):
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, datetime):
        # Excel has no time zones: write the Central wall time, which the header names.
        local = value.astimezone(CENTRAL).replace(tzinfo=None) if value.tzinfo else value
        cell = WriteOnlyCell(ws, value=local)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def write_table(sheet_title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The rows as a one-sheet workbook, header in bold and frozen."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in headers:
        cell = WriteOnlyCell(ws, value=safe_text(title))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in rows:
        ws.append([_cell(ws, v) for v in row])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()

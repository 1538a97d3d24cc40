"""The rows of an import that failed, back as a workbook the user can fix and upload again.

Same layout as the template (so the dropdowns still help), with two columns at the end — the
row number in the file they sent and what is wrong — which the readers ignore on re-upload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openpyxl import Workbook

from .fields import COUNT_COLUMNS, MAX_MOC_GROUPS, MAX_SUPPORTER_GROUPS, Column, activity_columns
from .xlsx import ACTIVITY_SHEET, COUNTS_SHEET, _cell, _data_sheet, _save

_ROW = Column("row_in_file", "Row in your file", "", "count", width=12)
_ERRORS = Column("errors", "Errors", "", "text", width=60)


@dataclass(frozen=True)
class ErrorRow:
    """One rejected row: where it was, why, and the values it had (`RawRow.values`)."""

    number: int
    errors: str
    values: Mapping[str, object]


def _by_number(items: object) -> dict[int, Mapping[str, object]]:
    if not isinstance(items, list):
        return {}
    return {int(i.get("number", n + 1)): i for n, i in enumerate(items) if isinstance(i, dict)}


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"\d{1,9}(\.\d{1,6})?")


def _typed(col: Column, value: object) -> object:
    """A value as the plan stored it (JSON: a date or a decimal the reader understood became
    text) back in its cell type, so the file shows dates and numbers as the template does,
    not as text Excel flags. What the user typed and the reader refused stays as typed."""
    if not isinstance(value, str):
        return value
    if col.kind == "date" and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if col.kind == "credits" and _DECIMAL.fullmatch(value):
        return Decimal(value)
    return value


def _value(values: Mapping[str, object], col: Column) -> object:
    if not col.group:
        return _typed(col, values.get(col.key))
    group, number, field = col.key.split(".")
    return _typed(col, _by_number(values.get(group)).get(int(number), {}).get(field))


def _widest(rows: list[ErrorRow], group: str, floor: int, cap: int) -> int:
    numbers = [n for r in rows for n in _by_number(r.values.get(group))]
    return min(max([floor, *numbers]), cap)


def write_error_rows(rows: Iterable[ErrorRow], counts: bool = False) -> bytes:
    """A workbook of just these rows, in the template's layout plus the two error columns."""
    found = list(rows)
    if counts:
        columns, title = list(COUNT_COLUMNS), COUNTS_SHEET
    else:
        supporters = _widest(found, "supporters", 5, MAX_SUPPORTER_GROUPS)
        columns = activity_columns(supporters, _widest(found, "moc", 3, MAX_MOC_GROUPS))
        title = ACTIVITY_SHEET
    wb = Workbook(write_only=True)
    ws = _data_sheet(wb, title, [*columns, _ROW, _ERRORS])
    for r in found:
        cells = [_cell(ws, col, _value(r.values, col)) for col in columns]
        ws.append([*cells, r.number, _cell(ws, _ERRORS, r.errors)])
    return _save(wb)

"""Excel: read uploads with python-calamine; write the template and exports with openpyxl.

The template and the export share one layout (`fields.activity_columns`), so an exported
file edited in Excel imports back unchanged. Writing uses openpyxl's write-only mode so a
50,000-row export streams instead of building every cell object in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from . import legacy
from .fields import (
    ACTIVITY_HEADERS,
    CHOICES,
    CLOSE_COLUMN,
    COUNT_COLUMNS,
    COUNT_HEADERS,
    LIST_SEPARATOR,
    MAX_MOC_GROUPS,
    MAX_SUPPORTER_GROUPS,
    TEMPLATE_MOC,
    TEMPLATE_SUPPORTERS,
    YES_NO_VALUES,
    Column,
    activity_columns,
    fold,
    looks_like_counts,
)
from .instructions import activity_instructions, count_instructions
from .rows import DEFAULT_LIMITS, Limits, ReadResult, UnreadableFile, clean_cell
from .safety import check_xlsx, column_letters
from .tabular import activity_header_map, header_rows, map_headers

ACTIVITY_SHEET = "Activities"
COUNTS_SHEET = "Learner Counts"
INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
LAST_ROW = 1_048_576  # Excel's last row: validations cover every row a user may fill

# --- Reading --------------------------------------------------------------------------------

Numbered = tuple[int, list[object]]


def _pick_sheet(book: CalamineWorkbook) -> CalamineSheet:
    names = book.sheet_names
    for wanted in (ACTIVITY_SHEET, COUNTS_SHEET):
        for name in names:
            if fold(name) == fold(wanted):
                return book.get_sheet_by_name(name)
    for meta in book.sheets_metadata:
        if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible:
            return book.get_sheet_by_name(meta.name)
    raise UnreadableFile("The workbook has no worksheet to read.")


def _sheet_rows(sheet: CalamineSheet) -> Iterator[Numbered]:
    """(Excel row number, cells) of the non-blank rows, cells raw from calamine."""
    # calamine starts iter_rows at the sheet's first row but at its first *used* column; pad
    # so that cell i is column i + 1, which legacy files (columns by position) rely on.
    pad = [""] * (sheet.start[1] if sheet.start else 0)
    for index, row in enumerate(sheet.iter_rows()):
        if row.count("") != len(row):
            yield index + 1, pad + row if pad else row


def _cleaned(rows: Iterator[Numbered]) -> Iterator[Numbered]:
    for number, cells in rows:
        yield number, [clean_cell(c) for c in cells]


def read_xlsx(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    """Check and open an .xlsx, then tell its layout (template, counts, legacy) from its rows."""
    check_xlsx(data, limits)
    try:
        with CalamineWorkbook.from_filelike(BytesIO(data)) as book:
            sheet = _pick_sheet(book)
    except CalamineError as err:
        raise UnreadableFile(f"The workbook cannot be read ({err}).") from None
    rows = _sheet_rows(sheet)
    first = next(rows, None)
    if first is None:
        raise UnreadableFile("The sheet is empty: there is no header row and no activity.")
    last = sheet.end[0] + 1 if sheet.end else first[0]
    return _dispatch(first, rows, last - first[0])


def _dispatch(first: Numbered, rows: Iterator[Numbered], total: int) -> ReadResult:
    number, raw_cells = first
    cells = [clean_cell(c) for c in raw_cells]
    if legacy.template_literal(cells[0] if cells else None) or legacy.is_header(cells):
        return _legacy(_chain(number, cells, _cleaned(rows)), total + 1)
    folded = {fold(str(c)) for c in cells if c is not None}
    if not folded & ACTIVITY_HEADERS.keys() and legacy.layout_of(cells):
        # Legacy columns pasted without "Template C/D" or a header: known by their count.
        return _legacy(_chain(number, cells, _cleaned(rows)), total + 1)
    if looks_like_counts(folded):
        headers = map_headers(number, cells, COUNT_HEADERS)
        return ReadResult("counts", header_rows(rows, headers), total, label_of=headers.label)
    headers = activity_header_map(number, cells)
    return ReadResult("xlsx", header_rows(rows, headers), total, label_of=headers.label)


def _legacy(rows: Iterator[Numbered], total: int | None) -> ReadResult:
    return ReadResult(
        "legacy",
        legacy.legacy_rows(rows),
        total,
        notes=("Read as ACCME's legacy layout (Template C or D).",),
        label_of=legacy.label,
    )


def _chain(number: int, cells: list[object], rest: Iterator[Numbered]) -> Iterator[Numbered]:
    yield number, cells
    yield from rest


# --- Writing --------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_REQUIRED_FILL = PatternFill("solid", fgColor="7B2C2C")
_WRAP = Alignment(wrap_text=True, vertical="top")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_FORMATS = {
    "date": "mm/dd/yyyy",
    "credits": "0.00",
    "money": "#,##0.00",
    "count": "#,##0",
    "year": "0",
}


def _text_cell(ws, text: str) -> object:
    """A text cell that can never become a formula, whatever it starts with."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if not text.startswith(_FORMULA_START):
        return text
    # An explicit string cell is never evaluated, and the quote prefix keeps Excel from
    # turning it into a formula when someone edits the cell later.
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _choice_label(col: Column, value: object) -> object:
    if col.choice and isinstance(value, str):
        return CHOICES[col.choice].get(value, value)
    return value


def _cell(ws, col: Column, value: object) -> object:
    """One value as the cell the template expects for this column."""
    if value is None or value == [] or value == "":
        return None
    if col.kind == "yes_no" and isinstance(value, bool):
        value = YES_NO_VALUES[0] if value else YES_NO_VALUES[1]
    elif col.kind == "names" and not isinstance(value, str):
        value = f"{LIST_SEPARATOR} ".join(str(v) for v in value)  # type: ignore[union-attr]
    elif col.kind in ("id", "text") and not isinstance(value, str):
        value = str(value)  # ACCME IDs can pass Excel's 15 significant digits
    value = _choice_label(col, value)
    if isinstance(value, str):
        return _text_cell(ws, value)
    if isinstance(value, datetime):
        value = value.date()
    fmt = _NUMBER_FORMATS.get(col.kind)
    if fmt and isinstance(value, date | int | float | Decimal):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = fmt
        return cell
    return value


def _group_value(record: Mapping[str, object], key: str) -> object:
    group, number, field = key.split(".")
    items = record.get(group) or []
    index = int(number) - 1
    if index >= len(items):  # type: ignore[arg-type]
        return None
    item = items[index]  # type: ignore[index]
    if field == "amount" and item.get("amount") is None and item.get("amount_cents") is not None:
        return Decimal(item["amount_cents"]) / 100
    return item.get(field)


def _row(ws, columns: Sequence[Column], record: Mapping[str, object]) -> list[object]:
    return [
        _cell(ws, col, _group_value(record, col.key) if col.group else record.get(col.key))
        for col in columns
    ]


def _header(ws, columns: Sequence[Column]) -> None:
    cells = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=col.header)
        cell.font = _HEADER_FONT
        cell.fill = _REQUIRED_FILL if col.required == "Always" else _HEADER_FILL
        cell.alignment = _WRAP
        cells.append(cell)
    ws.append(cells)


def _list_values() -> dict[str, Sequence[str]]:
    lists: dict[str, Sequence[str]] = {"yes_no": YES_NO_VALUES}
    lists.update({name: tuple(choices.values()) for name, choices in CHOICES.items()})
    return lists


def _list_ranges() -> dict[str, str]:
    """Where each dropdown's values sit on the hidden Lists sheet, by list name."""
    ranges = {}
    for index, (name, values) in enumerate(_list_values().items(), start=1):
        letter = column_letters(index)
        ranges[name] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
    return ranges


def _lists_sheet(wb: Workbook) -> None:
    # Dropdowns refer to ranges here: inline lists are capped at 255 characters and break on
    # commas in labels. Hidden, not "very hidden", so a curious user can still look.
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    lists = _list_values()
    names = list(lists)
    ws.append([name.replace("_", " ").title() for name in names])
    for i in range(max(len(v) for v in lists.values())):
        ws.append([lists[n][i] if i < len(lists[n]) else None for n in names])


def _validation(col: Column, ranges: Mapping[str, str]) -> DataValidation:
    if col.kind == "yes_no" or col.choice:
        dv = DataValidation(type="list", formula1=ranges[col.choice or "yes_no"])
        dv.error = "Choose a value from the list."
    elif col.kind == "date":
        dv = DataValidation(
            type="date", operator="between", formula1="DATE(1950,1,1)", formula2="DATE(2100,12,31)"
        )
        dv.error = "Enter a date such as 03/31/2025."
    elif col.kind in ("count", "year"):
        dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
        dv.error = "Enter a whole number, 0 or more."
    elif col.kind in ("credits", "money"):
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0")
        dv.error = "Enter a number, 0 or more."
    else:
        dv = DataValidation()  # no rule: just the help shown when the cell is selected
    # A warning, not a stop: codes ("C"), "Y" and pasted values must stay possible.
    dv.errorStyle = "warning"
    dv.showErrorMessage = dv.type is not None
    dv.allow_blank = True
    dv.promptTitle = col.header[:32]
    dv.prompt = col.help[:255]
    dv.showInputMessage = True
    return dv


def _data_sheet(wb: Workbook, title: str, columns: Sequence[Column]) -> object:
    ranges = _list_ranges()
    ws = wb.create_sheet(title)
    ws.freeze_panes = "B2"
    for index, col in enumerate(columns, start=1):
        letter = column_letters(index)
        ws.column_dimensions[letter].width = col.width
        dv = _validation(col, ranges)
        dv.add(f"{letter}2:{letter}{LAST_ROW}")
        ws.data_validations.append(dv)
    ws.auto_filter.ref = f"A1:{column_letters(len(columns))}1"
    _header(ws, columns)
    return ws


def _instructions_sheet(wb: Workbook, rows: Iterable[Sequence[str]]) -> None:
    ws = wb.create_sheet(INSTRUCTIONS_SHEET)
    for letter, width in zip("ABCD", (30, 60, 34, 50), strict=True):
        ws.column_dimensions[letter].width = width
    for row in rows:
        cells = []
        for text in row:
            cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", text))
            cell.alignment = _WRAP
            cells.append(cell)
        ws.append(cells)


def _save(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _group_counts(records: Sequence[Mapping[str, object]]) -> tuple[int, int]:
    def most(group: str, floor: int, cap: int) -> int:
        longest = max((len(r.get(group) or ()) for r in records), default=0)  # type: ignore[arg-type]
        return min(max(floor, longest), cap)

    return (
        most("supporters", TEMPLATE_SUPPORTERS, MAX_SUPPORTER_GROUPS),
        most("moc", TEMPLATE_MOC, MAX_MOC_GROUPS),
    )


def write_activities(rows: Iterable[Mapping[str, object]]) -> bytes:
    """The template filled with activities (see the package docstring for a record's shape)."""
    records = list(rows)
    supporters, moc = _group_counts(records)
    columns = activity_columns(supporters, moc)
    wb = Workbook(write_only=True)
    ws = _data_sheet(wb, ACTIVITY_SHEET, columns)
    for record in records:
        ws.append(_row(ws, columns, record))
    _instructions_sheet(wb, activity_instructions(columns))
    _lists_sheet(wb)
    return _save(wb)


def build_template() -> bytes:
    """The empty activity template: header row, dropdowns, Instructions and Lists sheets."""
    return write_activities(())


def build_counts_template(rows: Iterable[Mapping[str, object]] = ()) -> bytes:
    """The learner-count template, optionally pre-filled (ID, title, counts, year)."""
    wb = Workbook(write_only=True)
    ws = _data_sheet(wb, COUNTS_SHEET, COUNT_COLUMNS)
    for record in rows:
        ws.append(_row(ws, COUNT_COLUMNS, record))
    _instructions_sheet(wb, count_instructions())
    _lists_sheet(wb)
    return _save(wb)


__all__ = [
    "ACTIVITY_SHEET",
    "CLOSE_COLUMN",
    "COUNTS_SHEET",
    "build_counts_template",
    "build_template",
    "read_xlsx",
    "write_activities",
]

"""Excel: read uploads with python-calamine; write the template and exports with openpyxl.

The template and the export share one layout (`fields.activity_columns`), so an exported
file edited in Excel imports back unchanged. Writing uses openpyxl's write-only mode so a
50,000-row export streams instead of building every cell object in memory.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from lxml import etree
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
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
from .xml_io import safe_parser

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
    rows = iter(sheet.iter_rows())
    index = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except BaseException as err:
            # Turning some cells into Python values fails: calamine panics (a pyo3
            # PanicException, a BaseException) on a date-formatted number far out of range, and
            # a duration too long for timedelta overflows. Refuse the file, naming the row.
            if type(err).__name__ != "PanicException" and not isinstance(
                err, OverflowError | ValueError
            ):
                raise
            raise UnreadableFile(
                f"Row {index + 1} has a value that cannot be read as a date or a number "
                "(it is far out of range). Correct that row and upload again."
            ) from None
        index += 1
        if row.count("") != len(row):
            yield index, pad + row if pad else row


def _cleaned(rows: Iterator[Numbered]) -> Iterator[Numbered]:
    for number, cells in rows:
        yield number, [clean_cell(c) for c in cells]


def read_xlsx(data: bytes, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    """Check and open an .xlsx, then tell its layout (template, counts, legacy) from its rows."""
    scan = check_xlsx(data, limits)
    try:
        with CalamineWorkbook.from_filelike(BytesIO(data)) as book:
            sheet = _pick_sheet(book)
    except CalamineError as err:
        raise UnreadableFile(f"The workbook cannot be read ({err}).") from None
    if scan.unsaved_formulas:
        _refuse_unsaved_formulas(data, sheet.name, scan.unsaved_formulas)
    rows = _sheet_rows(sheet)
    first = next(rows, None)
    if first is None:
        raise UnreadableFile("The sheet is empty: there is no header row and no activity.")
    last = sheet.end[0] + 1 if sheet.end else first[0]
    return _dispatch(first, rows, last - first[0])


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def sheet_part(data: bytes, name: str) -> str | None:
    """The zip member holding the worksheet called `name` ("xl/worksheets/sheet1.xml"), as
    the workbook and its relationships say; None when they do not say it plainly."""
    parser = safe_parser()
    try:
        with zipfile.ZipFile(BytesIO(data)) as book:
            workbook = etree.fromstring(book.read("xl/workbook.xml"), parser)
            rels = etree.fromstring(book.read("xl/_rels/workbook.xml.rels"), parser)
    except (KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None
    rel_id = next(
        (s.get(_REL_ID) for s in workbook.iter(f"{_MAIN_NS}sheet") if s.get("name") == name),
        None,
    )
    target = next(
        (r.get("Target") for r in rels.iter(f"{_RELS_NS}Relationship") if r.get("Id") == rel_id),
        None,
    )
    if not target:
        return None
    # A target is relative to xl/ ("worksheets/sheet1.xml") or absolute ("/xl/...").
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")


def _refuse_unsaved_formulas(data: bytes, sheet: str, found: Mapping[str, tuple[str, int]]) -> None:
    """Refuse the file when the sheet we read has formulas whose result was never saved.

    calamine reads such a cell as blank, and a blank is a value an import writes (a learner
    count emptied, a title missing). Formulas on other sheets do not matter; a workbook whose
    sheets cannot be told apart is refused if any sheet has them.
    """
    part = sheet_part(data, sheet)
    if part is not None and part not in found:
        return
    if part is not None:
        (cell, count), where = found[part], f"the sheet “{sheet}”"
    else:  # not knowing which part is the sheet read, name the first found, not that sheet
        (cell, count), where = next(iter(found.values())), "a sheet of the workbook"
    more = f" (and {count - 1:,} more cell(s) like it)" if count > 1 else ""
    raise UnreadableFile(
        f"Cell {cell} of {where}{more} holds a formula whose result was never "
        "saved, so its value cannot be read: the file was written by a program that does "
        "not calculate formulas. Open the file in Excel (or LibreOffice) and save it, or "
        "replace the formulas with their values, and upload it again."
    )


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
# Only where the default would mislead: dates (else a serial number or ISO with a time) and
# dollars. Counts and credits read fine as General, and a styled cell costs openpyxl about
# twice a plain one: styling them made a 10,000-row export 8% slower (docs/decisions.md).
_NUMBER_FORMATS = {
    "date": "mm/dd/yyyy",
    "money": "#,##0.00",
    "year": "0",
}


def _text_cell(ws, text: str) -> object:
    """A text cell that can never become a formula, whatever it starts with."""
    # openpyxl's list misses the two non-characters XML 1.0 also forbids (U+FFFE, U+FFFF):
    # a rejected row's raw text comes back in the error file and must not stop the writer.
    text = ILLEGAL_CHARACTERS_RE.sub("", text).replace("\ufffe", "").replace("\uffff", "")
    if not text.startswith(_FORMULA_START):
        return text
    # An explicit string cell is never evaluated, and the quote prefix keeps Excel from
    # turning it into a formula when someone edits the cell later.
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _plain(col: Column, labels: Mapping[str, str] | None, value: object) -> object:
    """A stored value as the template shows it (label, Yes/No, joined names, text ID, date);
    None for a blank."""
    if value is None or value == [] or value == "":
        return None
    kind = col.kind
    if kind == "yes_no" and isinstance(value, bool):
        return YES_NO_VALUES[0] if value else YES_NO_VALUES[1]
    if kind == "names" and not isinstance(value, str):
        return f"{LIST_SEPARATOR} ".join(str(v) for v in value)  # type: ignore[union-attr]
    if kind in ("id", "text") and not isinstance(value, str):
        return str(value)  # ACCME IDs can pass Excel's 15 significant digits
    if labels is not None and isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, datetime):
        return value.date()
    return value


def _labels(col: Column) -> Mapping[str, str] | None:
    return CHOICES[col.choice] if col.choice else None


def _cell(ws, col: Column, value: object) -> object:
    """One value as the cell the template expects for this column."""
    value = _plain(col, _labels(col), value)
    if isinstance(value, str):
        return _text_cell(ws, value)
    fmt = _NUMBER_FORMATS.get(col.kind)
    if fmt and isinstance(value, date | int | float | Decimal):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = fmt
        return cell
    return value


class TooManyGroups(ValueError):
    """A record has more supporters or MOC registrations than `write_activities` was told."""


Convert = Callable[[object], object]
_NUMERIC = frozenset((date, int, float, Decimal))  # exact classes: bool and datetime differ
_NUMBER_KINDS = frozenset(("date", "credits", "count", "money", "year"))


def _converter(ws, col: Column, style: object) -> Convert:
    """`_cell` for one column (value not None), with its common values on a fast path: an
    export has hundreds of thousands of cells, most of them Yes/No, labels, text and dates."""
    labels = _labels(col)

    def generic(value: object) -> object:
        value = _plain(col, labels, value)
        if isinstance(value, str):
            return _text_cell(ws, value)
        if style is not None and isinstance(value, date | int | float | Decimal):
            return Cell(ws, row=1, column=1, value=value, style_array=style)
        return value

    if col.kind == "yes_no":
        yes, no = YES_NO_VALUES
        return lambda v: (yes if v else no) if v.__class__ is bool else generic(v)
    if labels is not None:
        # Labels are ours and safe; one that needed a quote-prefixed cell would stay generic.
        known = {k: label for k, label in labels.items() if _text_cell(ws, label) == label}

        def choice(v: object) -> object:
            hit = known.get(v) if v.__class__ is str else None  # type: ignore[call-overload]
            return generic(v) if hit is None else hit

        return choice
    if col.kind in ("id", "text"):
        return lambda v: _text_cell(ws, v) if v.__class__ is str and v else generic(v)  # type: ignore[arg-type]
    if col.kind in _NUMBER_KINDS:
        if style is None:
            return lambda v: v if v.__class__ in _NUMERIC else generic(v)
        return lambda v: (
            Cell(ws, row=1, column=1, value=v, style_array=style)
            if v.__class__ in _NUMERIC
            else generic(v)
        )
    return generic


def _plans(ws, columns: Sequence[Column]) -> list[tuple[str, tuple]]:
    """The columns as segments: ("keys", ((key, convert), ...)) for a run of plain columns,
    and ("group", (group, numbers, blanks)) for a run of repeating-group columns, `numbers`
    holding each group's (field, convert) pairs and `blanks[i]` the empty cells from group
    i + 1 on. Labels and number styles are looked up here, once per sheet."""
    styles: dict[str, object] = {}
    segments: list[tuple[str, list]] = []
    for col in columns:
        fmt = _NUMBER_FORMATS.get(col.kind)
        if fmt and fmt not in styles:
            model = WriteOnlyCell(ws)
            model.number_format = fmt
            styles[fmt] = model._style  # copied into each cell: no style lookups per cell
        convert = _converter(ws, col, styles.get(fmt) if fmt else None)
        kind = "group" if col.group else "keys"
        group, number, field = col.key.split(".") if col.group else (None, "0", col.key)
        if not segments or segments[-1][0] != kind or (group and segments[-1][1][0] != group):
            segments.append((kind, [group, []] if group else []))
        if not group:
            segments[-1][1].append((col.key, convert))
            continue
        numbers = segments[-1][1][1]
        if len(numbers) < int(number):
            numbers.append([])
        numbers[-1].append((field, convert))
    return [
        (kind, tuple(seg) if kind == "keys" else (seg[0], seg[1], _blanks(seg[1])))
        for kind, seg in segments
    ]


def _blanks(numbers: list[list[tuple[str, Convert]]]) -> list[list[None]]:
    return [[None] * sum(map(len, numbers[i:])) for i in range(len(numbers))]


def _row_writer(ws, columns: Sequence[Column]) -> Callable[[Mapping[str, object]], list[object]]:
    """`_cell` for every column of a record, with the per-column work done once per sheet: a
    10,000-row export has 640,000 cells, most of them blank supporter and MOC groups."""
    segments = _plans(ws, columns)

    def row(record: Mapping[str, object]) -> list[object]:
        get = record.get
        cells: list[object] = []
        for kind, segment in segments:
            if kind == "keys":
                cells += [None if (v := get(k)) is None else convert(v) for k, convert in segment]
                continue
            group, numbers, blanks = segment
            items = get(group) or ()
            if len(items) > len(numbers):  # type: ignore[arg-type]
                raise TooManyGroups(f"a record has more {group} than the sheet has columns for")
            for index, fields in enumerate(numbers):
                if index >= len(items):  # type: ignore[arg-type]
                    cells += blanks[index]  # this group and every later one are empty
                    break
                item = items[index]  # type: ignore[index]
                for field, convert in fields:
                    value = item.get(field)
                    if field == "amount" and value is None:
                        cents = item.get("amount_cents")
                        value = None if cents is None else Decimal(cents) / 100
                    cells.append(None if value is None else convert(value))
        return cells

    return row


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


def _widths(supporters: int, moc: int) -> tuple[int, int]:
    """Groups to give the sheet: at least the template's, at most what a file may carry."""
    return (
        min(max(TEMPLATE_SUPPORTERS, supporters), MAX_SUPPORTER_GROUPS),
        min(max(TEMPLATE_MOC, moc), MAX_MOC_GROUPS),
    )


def _group_counts(records: Sequence[Mapping[str, object]]) -> tuple[int, int]:
    def longest(group: str) -> int:
        return max((len(r.get(group) or ()) for r in records), default=0)  # type: ignore[arg-type]

    return _widths(longest("supporters"), longest("moc"))


def write_activities(
    rows: Iterable[Mapping[str, object]], groups: tuple[int, int] | None = None
) -> bytes:
    """The template filled with activities (see the package docstring for a record's shape).

    `groups`, the most supporters and MOC registrations any record has, lets the rows stream
    (the header is written first); without it every record is read before writing. A record
    with more than `groups` says raises TooManyGroups rather than being written without some.
    """
    if groups is None:
        records: Iterable[Mapping[str, object]] = list(rows)
        supporters, moc = _group_counts(records)  # type: ignore[arg-type]
    else:
        records = rows
        supporters, moc = _widths(*groups)
    columns = activity_columns(supporters, moc)
    wb = Workbook(write_only=True)
    ws = _data_sheet(wb, ACTIVITY_SHEET, columns)
    row = _row_writer(ws, columns)
    try:
        for record in records:
            ws.append(row(record))
    except TooManyGroups:
        _save(wb)  # finish and drop the half-written sheet: no stream or temp file left open
        raise
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
    row = _row_writer(ws, COUNT_COLUMNS)
    for record in rows:
        ws.append(row(record))
    _instructions_sheet(wb, count_instructions())
    _lists_sheet(wb)
    return _save(wb)


__all__ = [
    "ACTIVITY_SHEET",
    "CLOSE_COLUMN",
    "COUNTS_SHEET",
    "TooManyGroups",
    "build_counts_template",
    "build_template",
    "read_xlsx",
    "write_activities",
]

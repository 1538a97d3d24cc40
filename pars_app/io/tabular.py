"""Rows of cells under a header row (the app's template, the learner-count sheet) to RawRows.

Shared by the .xlsx reader and the tab-delimited text reader, so a header means the same
thing in both. Headers match `Column.header` ignoring case, spaces and punctuation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from operator import itemgetter

from .fields import (
    ACTIVITY_HEADERS,
    IDENTITY_KEYS,
    REQUIRED_KEYS,
    Column,
    column,
    fold,
    imply_delivery,
    split_names,
)
from .rows import LineError, RawRow, UnreadableFile, clean_cell
from .safety import column_letters

Cells = list[object]
NumberedCells = tuple[int, Cells]

_TEXT_KINDS = ("text", "id")


def as_text(value: object) -> object:
    """A text cell's value as text even when the spreadsheet typed it (12345, a date)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Slot:
    index: int
    column: Column
    header: str  # as the file writes it
    group: str | None
    number: int
    field: str


@dataclass(frozen=True)
class HeaderMap:
    """Which cell of a row feeds which column, found from the header row."""

    row: int
    slots: tuple[_Slot, ...]

    def keys(self) -> set[str]:
        return {s.column.key for s in self.slots}

    def label(self, path: str) -> str:
        """The file's own header for a value path, else the template's."""
        for slot in self.slots:
            if slot.column.key == path:
                return slot.header
        try:
            return column(path).header
        except KeyError:
            return path


# Columns the import's error file adds in front of a row ("Row in your file", "Errors").
IGNORED_HEADERS = frozenset({"row in your file", "errors"})


def _slot(index: int, col: Column, header: str) -> _Slot:
    if col.group:
        group, number, field = col.key.split(".")
        return _Slot(index, col, header, group, int(number), field)
    return _Slot(index, col, header, None, 0, col.key)


def map_headers(number: int, cells: Cells, headers: Mapping[str, Column]) -> HeaderMap:
    """Match a header row against known headers; unknown or repeated headers refuse the file."""
    slots: list[_Slot] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        text = str(as_text(cell) or "").strip()
        if not text:
            continue  # an unnamed column is a user's scratch space, not data we know
        letter = column_letters(index + 1)
        if fold(text) in IGNORED_HEADERS:
            continue  # our own error file's extra columns: it is meant to be fixed and re-sent
        col = headers.get(fold(text))
        if col is None:
            errors.append(LineError(number, f'"{text}" (column {letter}) is not a column we know.'))
        elif col.key in seen:
            first = column_letters(seen[col.key] + 1)
            errors.append(
                LineError(number, f'"{text}" appears twice (columns {first} and {letter}).')
            )
        else:
            seen[col.key] = index
            slots.append(_slot(index, col, text))
    if errors:
        raise UnreadableFile(
            f"Row {number} has column headings we do not recognise or that repeat: "
            + "; ".join(e.message for e in errors)
            + " Use the headings of the template (download it again), or delete those columns.",
            tuple(errors),
        )
    return HeaderMap(number, tuple(slots))


def require_activity_headers(headers: HeaderMap) -> None:
    """Refuse an activity sheet without its key (or a title) and the Draft fields."""
    keys = headers.keys()
    missing = [column(k).header for k in REQUIRED_KEYS if k not in keys]
    if not keys & set(IDENTITY_KEYS):
        missing.insert(0, "Provider Activity ID (or Activity Title)")
    if missing:
        raise UnreadableFile(
            "The file is missing these columns: " + ", ".join(f'"{m}"' for m in missing) + ". "
            'Every file needs "Provider Activity ID" or "Activity Title", "Format", '
            '"Start Date" and "End Date".'
        )


def _text_value(value: object) -> object:
    return as_text(clean_cell(value))


def _names_value(value: object) -> list[str]:
    return split_names(as_text(clean_cell(value)))


def _converter(kind: str) -> Callable[[object], object]:
    if kind in _TEXT_KINDS:
        return _text_value
    return _names_value if kind == "names" else clean_cell


# --- Column by column -------------------------------------------------------------------------
#
# A 10,000-row template has some 70 columns: converting cell by cell cost several times the
# python-calamine read itself. The rows are taken a block at a time and each column of the
# block is converted at once, its converter chosen once from the header: a column holding only
# text (what calamine gives for most cells) is stripped by `str.strip` mapped in C, an empty
# one (most supporter and MOC groups) costs one count, and only the other cells (numbers,
# dates, booleans) go through `clean_cell`. The result is the same as converting each cell.

_BLOCK = 256  # rows converted together: memory stays flat however long the file


def _blank_column(cells: Sequence[object]) -> bool:
    return cells.count("") + cells.count(None) == len(cells)  # type: ignore[attr-defined]


def _stripped(cells: Sequence[object]) -> list[object] | None:
    """Each cell stripped (blank: None) when every cell is text, else None."""
    if set(map(type, cells)) != {str}:
        return None
    return [text or None for text in map(str.strip, cells)]  # type: ignore[arg-type]


# Cells `clean_cell` leaves as they are, besides text (stripped) and floats (whole ones: int).
_KEPT_AS_IS = frozenset({int, bool, date, type(None)})
_SIMPLE = _KEPT_AS_IS | {str, float}


def _text_column(cells: Sequence[object]) -> list[object]:
    if (found := _stripped(cells)) is not None:
        return found
    if set(map(type, cells)) <= {str, int, type(None)}:  # an ID column Excel made numeric
        return [
            (c.strip() or None) if c.__class__ is str else None if c is None else str(c)  # type: ignore[union-attr]
            for c in cells
        ]
    return [_text_value(c) for c in cells]


def _names_column(cells: Sequence[object]) -> list[object]:
    if _blank_column(cells):
        return [[] for _ in cells]
    return [split_names(text) for text in _text_column(cells)]


def _plain_column(cells: Sequence[object]) -> list[object]:
    if (found := _stripped(cells)) is not None:
        return found
    if set(map(type, cells)) <= _SIMPLE:
        return [
            (c.strip() or None)  # type: ignore[union-attr]
            if c.__class__ is str
            else (int(c) if c.is_integer() else c)  # type: ignore[union-attr]
            if c.__class__ is float
            else c
            for c in cells
        ]
    return [clean_cell(c) for c in cells]


def _column_converter(kind: str) -> Callable[[Sequence[object]], list[object]]:
    if kind in _TEXT_KINDS:
        return _text_column
    return _names_column if kind == "names" else _plain_column


ColumnField = tuple[int, str, Callable[[Sequence[object]], list[object]]]


@dataclass(frozen=True)
class _Plan:
    """A HeaderMap turned into what each block of rows needs, worked out once per file."""

    scalars: tuple[ColumnField, ...]
    groups: tuple[tuple[str, int, tuple[ColumnField, ...]], ...]  # (group, number, its fields)
    group_names: tuple[str, ...]
    width: int  # cells a row needs (shorter text lines are padded with blanks)
    pick: Callable[[Sequence[object]], tuple[object, ...]]  # a row's known cells, in order


def _plan(slots: tuple[_Slot, ...]) -> _Plan:
    scalars = tuple(
        (s.index, s.field, _column_converter(s.column.kind)) for s in slots if not s.group
    )
    grouped: dict[tuple[str, int], list[ColumnField]] = {}
    for s in slots:
        if s.group:
            grouped.setdefault((s.group, s.number), []).append(
                (s.index, s.field, _column_converter(s.column.kind))
            )
    groups = tuple((g, n, tuple(fields)) for (g, n), fields in sorted(grouped.items()))
    indexes = [i for i, _, _ in scalars] + [i for _, _, fs in groups for i, _, _ in fs]
    pick = itemgetter(*indexes) if len(indexes) > 1 else lambda cells: (cells[indexes[0]],)
    width = max(indexes, default=-1) + 1
    return _Plan(scalars, groups, tuple(dict.fromkeys(g for g, _, _ in groups)), width, pick)


def _block_values(block: list[Cells], plan: _Plan) -> list[dict[str, object]]:
    """The values of a block of rows, converted a column at a time."""
    width = plan.width
    rows = [
        cells if len(cells) >= width else cells + [None] * (width - len(cells)) for cells in block
    ]
    # One tuple per known column, in the plan's order: scalars, then each group's fields.
    columns = list(zip(*map(plan.pick, rows), strict=True)) if rows else []
    n_scalars = len(plan.scalars)
    converted = [convert(col) for (_, _, convert), col in zip(plan.scalars, columns, strict=False)]
    keys = [key for _, key, _ in plan.scalars]
    found = [dict(zip(keys, row, strict=True)) for row in zip(*converted, strict=True)]
    if not converted:
        found = [{} for _ in rows]
    for values in found:
        for name in plan.group_names:
            values[name] = []
    at = n_scalars
    for group, number, fields in plan.groups:
        raw = columns[at : at + len(fields)]
        at += len(fields)
        _add_group(found, group, number, fields, raw)
    for values in found:
        imply_delivery(values)
    return found


def _add_group(
    found: list[dict[str, object]],
    group: str,
    number: int,
    fields: tuple[ColumnField, ...],
    raw: list[tuple[object, ...]],
) -> None:
    """Append group `number` to the rows of the block that fill it in (most leave it empty)."""
    if all(_blank_column(col) for col in raw):
        return  # the common case: nobody in this block filled in this group
    converted = [convert(col) for (_, _, convert), col in zip(fields, raw, strict=True)]
    keys = ("number", *(key for _, key, _ in fields))
    blank = len(fields)
    for values, item in zip(found, zip(*converted, strict=True), strict=True):
        # A group counts when one of its cells holds something once cleaned (not just spaces).
        if item.count(None) + item.count([]) != blank:
            values[group].append(dict(zip(keys, (number, *item), strict=True)))  # type: ignore[union-attr]


def header_rows(rows: Iterable[NumberedCells], headers: HeaderMap) -> Iterator[RawRow]:
    """RawRows for the rows after the header row (blank rows already left out)."""
    plan = _plan(headers.slots)
    rows = iter(rows)
    while block := list(islice(rows, _BLOCK)):
        values = _block_values([cells for _, cells in block], plan)
        for (number, _), row_values in zip(block, values, strict=True):
            yield RawRow(number, row_values)


def activity_header_map(number: int, cells: Cells) -> HeaderMap:
    """The header row of the app's activity template, checked."""
    headers = map_headers(number, cells, ACTIVITY_HEADERS)
    require_activity_headers(headers)
    return headers


__all__ = [
    "HeaderMap",
    "activity_header_map",
    "as_text",
    "header_rows",
    "map_headers",
    "require_activity_headers",
]

"""Rows of cells under a header row (the app's template, the learner-count sheet) to RawRows.

Shared by the .xlsx reader and the tab-delimited text reader, so a header means the same
thing in both. Headers match `Column.header` ignoring case, spaces and punctuation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

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


Field = tuple[int, str, Callable[[object], object]]  # cell index, value key, converter


@dataclass(frozen=True)
class _Plan:
    """A HeaderMap turned into what each row needs, worked out once per file."""

    scalars: tuple[Field, ...]
    groups: tuple[tuple[str, int, tuple[Field, ...]], ...]  # (group, number, its fields)
    group_names: tuple[str, ...]


def _plan(slots: tuple[_Slot, ...]) -> _Plan:
    scalars = tuple((s.index, s.field, _converter(s.column.kind)) for s in slots if not s.group)
    grouped: dict[tuple[str, int], list[Field]] = {}
    for s in slots:
        if s.group:
            grouped.setdefault((s.group, s.number), []).append(
                (s.index, s.field, _converter(s.column.kind))
            )
    groups = tuple((g, n, tuple(fields)) for (g, n), fields in sorted(grouped.items()))
    return _Plan(scalars, groups, tuple(dict.fromkeys(g for g, _, _ in groups)))


def _row_values(cells: Cells, plan: _Plan) -> dict[str, object]:
    width = len(cells)
    values: dict[str, object] = {
        key: convert(cells[i] if i < width else None) for i, key, convert in plan.scalars
    }
    for name in plan.group_names:
        values[name] = []
    for group, number, fields in plan.groups:
        if all(i >= width or cells[i] in ("", None) for i, _, _ in fields):
            continue  # the common case: a supporter or MOC group left empty
        item = {key: convert(cells[i] if i < width else None) for i, key, convert in fields}
        if any(v is not None and v != [] for v in item.values()):
            values[group].append({"number": number, **item})  # type: ignore[union-attr]
    imply_delivery(values)
    return values


def header_rows(rows: Iterable[NumberedCells], headers: HeaderMap) -> Iterator[RawRow]:
    """RawRows for the rows after the header row (blank rows already left out)."""
    plan = _plan(headers.slots)
    for number, cells in rows:
        yield RawRow(number, _row_values(cells, plan))


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

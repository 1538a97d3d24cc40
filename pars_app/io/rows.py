"""The row contract every reader returns, the two ways a whole file is refused, and limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Literal, Protocol

FileKind = Literal["xlsx", "legacy", "xml", "counts"]

MB = 1024 * 1024


class Upload(Protocol):
    """A file to read: bytes in memory (`io.BytesIO`) or a stored upload read where it lies
    (`sqlite3.Blob`), so the XML reader can parse it without a copy of the file in memory."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, origin: int = 0, /) -> object: ...

    def tell(self) -> int: ...


def as_upload(data: bytes | Upload) -> Upload:
    """Bytes as an Upload (a BytesIO shares them: no copy); an Upload as it is."""
    return BytesIO(data) if isinstance(data, bytes) else data


@dataclass(frozen=True)
class RowProblem:
    """Something wrong with the shape of one row, found while reading it."""

    column_header: str
    message: str


@dataclass(frozen=True)
class RawRow:
    """One activity (or learner-count) row as the file gives it.

    `number` is the row number the file itself shows (Excel's row, a text file's line, an XML
    element's line). `values` holds only the columns the file has, keyed by `Column.key`.
    """

    number: int
    values: dict[str, object]
    problems: tuple[RowProblem, ...] = ()

    @property
    def provider_activity_id(self) -> str:
        """The Provider Activity ID as the row gives it, stripped ("" when none): the key a
        row is matched to a stored activity by."""
        return str(self.values.get("provider_activity_id") or "").strip()


@dataclass(frozen=True)
class LineError:
    """One file-level error with the line (or row) it was found on, when known."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


class FileRefused(Exception):
    """The whole file cannot be imported; `message` says why in a coordinator's words."""

    def __init__(self, message: str, errors: tuple[LineError, ...] = ()):
        super().__init__(message)
        self.message = message
        self.errors = errors


class UnsafeFile(FileRefused):
    """The file looks hostile or too big to open safely (bombs, macros, DOCTYPEs, sizes)."""


class UnreadableFile(FileRefused):
    """The file is not one we can read: damaged, wrong format, wrong headers, invalid XML."""


def _plain_label(path: str) -> str:
    return path


@dataclass
class ReadResult:
    """What `read_file` found: the layout, the rows (a lazy iterator) and notes for the user.

    Iterating `rows` may still raise UnreadableFile for damage found late (a text file's broken
    quoting), so callers treat the iteration as part of reading the file.
    """

    kind: FileKind
    rows: Iterator[RawRow]
    total_hint: int | None = None
    encoding: str | None = None
    notes: tuple[str, ...] = ()
    # Where a value came from, in the file's own words, for messages: "start_date" ->
    # "Start Date", "supporters.2.amount" -> "Supporter 2 Amount".
    label_of: Callable[[str], str] = field(default=_plain_label)

    def column_label(self, path: str) -> str:
        """The column (or element) a value path came from, as the file names it."""
        return self.label_of(path)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or absurd file from exhausting the server."""

    max_bytes: int = 25 * MB
    max_uncompressed: int = 250 * MB  # sum of an xlsx's members, once inflated
    max_ratio: int = 100  # inflated / compressed, per member larger than ratio_floor
    ratio_floor: int = 1 * MB
    max_members: int = 2_000
    max_columns: int = 500
    max_rows: int = 100_000
    # calamine allocates the whole used rectangle of a sheet, however sparse.
    max_cells: int = 10_000_000
    max_xml_errors: int = 20


DEFAULT_LIMITS = Limits()


def clean_cell(value: object) -> object:
    """A spreadsheet cell as a plain value: text stripped, blanks None, whole floats int."""
    if value.__class__ is str:  # most cells: checked first, cheaply
        return value.strip() or None  # type: ignore[union-attr]
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        # Excel stores every number as a double; 12.0 is the 12 the user typed.
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return value.date() if value.time() == time() else value
    if isinstance(value, date | int):
        return value
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value).strip() or None

"""`read_file`: tell what an uploaded file is, check it is safe, and hand back its rows."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import PurePath

from . import legacy
from .fields import ACTIVITY_HEADERS, COUNT_HEADERS, fold, looks_like_counts
from .rows import (
    DEFAULT_LIMITS,
    Limits,
    ReadResult,
    UnreadableFile,
    UnsafeFile,
    Upload,
    as_upload,
)
from .safety import ZIP_MAGIC, check_size, check_text_width, decode_text, refuse_ole
from .tabular import activity_header_map, header_rows, map_headers
from .xlsx import read_xlsx
from .xml_io import read_xml

XLSX_EXTENSIONS = (".xlsx",)
MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlam", ".xlsb")
TEXT_EXTENSIONS = (".txt", ".tsv", ".tab", ".text")
CSV_EXTENSIONS = (".csv",)
XML_EXTENSIONS = (".xml",)
Cells = list[object]
Numbered = tuple[int, Cells]
ACCEPTED = (
    "We read Excel workbooks (.xlsx), tab-delimited or comma-separated text (.txt, .csv) and "
    "XML (.xml)."
)


def _extension(name: str) -> str:
    return PurePath(name or "").suffix.casefold()


_HEAD = 512  # bytes read to tell a file's kind


def _looks_like_xml(head: bytes) -> bool:
    start = head[:_HEAD].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"<") or head.startswith((b"\xff\xfe<", b"\xfe\xff\x00<"))


def _whole(upload: Upload) -> bytes:
    if isinstance(upload, BytesIO):
        return upload.getvalue()  # the bytes it was made from, not a copy
    upload.seek(0)
    return upload.read()


def read_file(name: str, data: bytes | Upload, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    """Detect the file's kind (extension and content), check its safety and start reading.

    `data` is the file's bytes, or a stored upload to read in place: XML is parsed straight
    from it (the file is never in memory whole beside its tree); the other kinds read it whole.
    Raises UnsafeFile or UnreadableFile (both FileRefused) with a message for the user.
    """
    upload = as_upload(data)
    check_size(upload, limits)
    ext = _extension(name)
    if ext in MACRO_EXTENSIONS:
        raise UnsafeFile(
            f"{ext} workbooks can carry macros and are not accepted. Save the workbook as "
            '"Excel Workbook (.xlsx)" and upload that.'
        )
    upload.seek(0)
    head = upload.read(_HEAD)
    refuse_ole(head)
    if head.startswith(ZIP_MAGIC) or ext in XLSX_EXTENSIONS:
        return read_xlsx(_whole(upload), limits)
    if ext in XML_EXTENSIONS or (
        ext not in TEXT_EXTENSIONS + CSV_EXTENSIONS and _looks_like_xml(head)
    ):
        return read_xml(upload, limits)
    if ext in CSV_EXTENSIONS:
        return read_text(_whole(upload), limits, ",")
    if ext in TEXT_EXTENSIONS or not ext:
        return read_text(_whole(upload), limits)
    if ext == ".xls":
        raise UnreadableFile("This .xls file is not a workbook we can read. Save it as .xlsx.")
    raise UnreadableFile(f"{ext} files cannot be imported. {ACCEPTED}")


def _delimiter(text: str) -> str:
    """Commas when the first line with anything on it has commas and no tab: a CSV saved with
    a .txt name, which read as tab-delimited would be one value a line. Tabs otherwise (ACCME's
    layouts and Excel's "Text (Tab delimited)" always put tabs on every line)."""
    start = 0
    for _ in range(20):  # blank lines above the first row are few; the text may be 25 MB
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            return "," if "\t" not in line and "," in line else "\t"
        if end < 0:
            break
        start = end + 1
    return "\t"


def read_text(
    data: bytes, limits: Limits = DEFAULT_LIMITS, delimiter: str | None = None
) -> ReadResult:
    """Delimited text (tabs, or commas for a CSV): a learner-count sheet or the template (by
    header), else ACCME's legacy layout. Without `delimiter` the first line tells."""
    text, encoding = decode_text(data)
    delimiter = delimiter or _delimiter(text)
    lines = check_text_width(text, limits, delimiter)
    rows = legacy.text_rows(text, delimiter)
    first = next(rows, None)
    if first is None:
        raise UnreadableFile("The file has no rows.")
    note = f"Read as {'comma-separated ' if delimiter == ',' else ''}{encoding} text."
    number, cells = first
    folded = {fold(c) for c in cells if isinstance(c, str)}
    if looks_like_counts(folded):
        headers = map_headers(number, cells, COUNT_HEADERS)
        found = header_rows(rows, headers)
        return ReadResult("counts", found, lines - number, encoding, (note,), headers.label)
    if legacy.template_literal(cells[0]) or legacy.is_header(cells):
        return _legacy_text(number, cells, rows, lines, encoding, note)
    if len(folded & ACTIVITY_HEADERS.keys()) >= 3:
        # The app's own template saved as "Text (Tab delimited)" or "CSV".
        headers = activity_header_map(number, cells)
        found = header_rows(rows, headers)
        return ReadResult("xlsx", found, lines - number, encoding, (note,), headers.label)
    return _legacy_text(number, cells, rows, lines, encoding, note)


def _legacy_text(
    number: int, cells: Cells, rows: Iterator[Numbered], lines: int, encoding: str, note: str
) -> ReadResult:
    return ReadResult(
        "legacy",
        legacy.legacy_rows(_chain(number, cells, rows)),
        lines - number + 1,
        encoding,
        (note, "Read as ACCME's legacy tab-delimited layout (Template C or D)."),
        legacy.label,
    )


def _chain(number: int, cells: Cells, rest: Iterator[Numbered]) -> Iterator[Numbered]:
    yield number, cells
    yield from rest

"""Checks made before any parser sees a file: size, type, zip bombs, macros, absurd sheets.

An .xlsx is a zip of XML parts. Before calamine opens one we read the zip's central directory
(declared sizes and ratios), then inflate every member ourselves with the output capped at its
declared size — so a member that lies about its size is caught, not expanded — and scan each
worksheet's cell references: calamine allocates the whole used rectangle of a sheet, so one
cell at row 100,000 and column 500 would cost gigabytes however empty the rest is.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

from .rows import DEFAULT_LIMITS, MB, Limits, UnreadableFile, UnsafeFile, Upload

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"

_SAVE_AS = 'Open it in Excel and use File > Save As > "Excel Workbook (.xlsx)".'
_MACRO_TYPES = (b"macroEnabled", b"vbaProject", b"ms-excel.macrosheet", b"ms-excel.intlmacrosheet")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_IN_CHUNK = 64 * 1024
_OUT_CHUNK = 1 * MB


def check_size(upload: Upload, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse an empty file (blanks only) or one over the size limit."""
    upload.seek(0, os.SEEK_END)
    size = upload.tell()
    if size > limits.max_bytes:
        raise UnsafeFile(
            f"The file is {size / MB:.1f} MB; the largest file accepted is "
            f"{limits.max_bytes / MB:.0f} MB. Split it into smaller files."
        )
    upload.seek(0)
    # A megabyte at a time, stopping at the first byte that is not blank (the first, for
    # almost every file): no copy of a 25 MB file, as strip() made.
    while chunk := upload.read(MB):
        if not chunk.isspace():
            return
    raise UnreadableFile("The file is empty.")


def refuse_ole(data: bytes) -> None:
    """Old .xls workbooks and password-protected ones are OLE containers: refuse both."""
    if data.startswith(OLE_MAGIC):
        raise UnreadableFile(
            "This is an old-format Excel file (.xls) or a password-protected workbook. "
            "Remove any password and save it as .xlsx. " + _SAVE_AS
        )


# --- xlsx: the zip container ---------------------------------------------------------------


def _members(data: bytes, limits: Limits) -> list[zipfile.ZipInfo]:
    if not zipfile.is_zipfile(BytesIO(data)):
        raise UnreadableFile(
            "This file is not a real Excel workbook (an .xlsx is a zip archive and this is "
            "not one). " + _SAVE_AS
        )
    try:
        infos = zipfile.ZipFile(BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise UnreadableFile(f"The workbook is damaged and cannot be opened ({err}).") from None
    if len(infos) > limits.max_members:
        raise UnsafeFile(f"The workbook has {len(infos):,} parts; that is not a normal .xlsx.")
    return infos


def _refuse_macros_and_encryption(infos: list[zipfile.ZipInfo]) -> None:
    for info in infos:
        name = info.filename.casefold()
        if info.flag_bits & 0x1:
            raise UnsafeFile("The workbook is encrypted. Remove the password and save it again.")
        if name.endswith("vbaproject.bin") or "/macrosheets/" in name:
            raise UnsafeFile(
                "This workbook contains macros, which we do not accept. Save it as "
                '"Excel Workbook (.xlsx)" (not macro-enabled) and upload that.'
            )


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed:
        raise UnsafeFile(
            f"The workbook would expand to {total / MB:,.0f} MB when opened; the limit is "
            f"{limits.max_uncompressed / MB:,.0f} MB. This looks like a zip bomb, or a far "
            "larger sheet than a batch file needs."
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
            raise UnsafeFile(
                f"A part of the workbook ({info.filename}) expands {ratio:,.0f} times when "
                "opened. This looks like a zip bomb; the file was not opened."
            )


def _inflate(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, never more than it declares; refuses damaged or lying members."""
    try:
        header = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    except struct.error:
        header = (b"",)
    if header[0] != ZIP_MAGIC:
        raise UnreadableFile("The workbook is damaged and cannot be opened.")
    start = info.header_offset + _LOCAL_HEADER.size + header[9] + header[10]
    raw = memoryview(data)[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        chunks: Iterator[bytes] = (
            bytes(raw[i : i + _OUT_CHUNK]) for i in range(0, len(raw), _OUT_CHUNK)
        )
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        chunks = _deflate_chunks(raw)
    else:
        raise UnreadableFile("The workbook uses a compression Excel does not use. " + _SAVE_AS)
    produced, crc = 0, 0
    for chunk in chunks:
        produced += len(chunk)
        if produced > info.file_size:
            raise UnsafeFile(
                f"A part of the workbook ({info.filename}) expands beyond the size it declares. "
                "This looks like a zip bomb; the file was not opened."
            )
        crc = zlib.crc32(chunk, crc)
        yield chunk
    if produced != info.file_size or crc != info.CRC:
        raise UnreadableFile("The workbook is damaged (a part is incomplete). " + _SAVE_AS)


def _deflate_chunks(raw: memoryview) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for i in range(0, len(raw), _IN_CHUNK):
            pending: bytes = bytes(raw[i : i + _IN_CHUNK])
            while pending and not inflater.eof:
                out = inflater.decompress(pending, _OUT_CHUNK)
                pending = inflater.unconsumed_tail
                if out:
                    yield out
            if inflater.eof:
                return
    except zlib.error:
        raise UnreadableFile("The workbook is damaged and cannot be opened.") from None


# --- xlsx: worksheet extent ----------------------------------------------------------------

# Excel, LibreOffice, openpyxl and XlsxWriter all write `<c r="B7" ...>` with r first.
# Any number of letters, in either case, and of digits: calamine reads "b7" as B7, "AAAA1" as
# column 18,279 and a nine-digit row as it stands, and allocates accordingly.
_CELL_COLUMNS = re.compile(rb'<c r="([A-Za-z]+)\d')
_CELL_ROWS = re.compile(rb'<c r="[A-Za-z]+(\d+)"')
# Any other cell start tag (no r, r not first, a namespace prefix) is refused: we could not
# bound the sheet cheaply, and no mainstream spreadsheet program writes one. A single tab or
# newline before r counts too: calamine reads `<c\tr="AAA2000">` as a cell at AAA2000.
_ODD_CELL = re.compile(rb'<c(?:>|/>|[\t\n\r\f\v]| (?!r="))')
_PREFIXED_CELL = re.compile(rb"<[\w.\-]{1,30}:c[\s>/]")
# A second r attribute is taken by calamine instead of the first: `<c r="A3" r="AAA2000">` is
# a cell at AAA2000. The quick pass lets a cell by only with the other attributes spreadsheet
# programs write, each as they write it (` s="1"`); a window with any other cell is read
# attribute by attribute, and a second r (prefixed or not) refuses the sheet.
_USUAL_ATTRIBUTES = rb'(?: [a-qs-z]{1,2}="[^"<]*")*+/?>'
_OTHER_ATTRIBUTES = (
    rb"""(?:\s+(?!(?:[\w:.\-]*:)?r\s*=)[\w:.\-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*+\s*/?>"""
)
_SECOND_R = re.compile(rb'<c r="[^"<]*"(?!' + _OTHER_ATTRIBUTES + rb")")
# Every prefixed cell contains this; ':' is rare in a sheet, so it is a quick first look.
_PREFIXED_HINT = re.compile(rb":c[\s>/]")
# The root element's name, after an optional BOM, XML declaration and comments.
_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:(?:<\?.*?\?>|<!--.*?-->)\s*)*<(?:[\w.\-]{1,30}:)?([\w.\-]{1,60})",
    re.S,
)
_SHEET_ROOTS = (b"worksheet", b"dialogsheet", b"macrosheet")
# Bytes measured from a cell the quick pass could not skip (see _Extent.feed).
_WINDOW = 64 * 1024


def column_number(letters: str) -> int:
    """'A' -> 1, 'Z' -> 26, 'AA' -> 27."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(n: int) -> str:
    """1 -> 'A', 27 -> 'AA'."""
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _letters_from_a(last: str) -> str:
    """'A' to `last`, in either case, as a regex class."""
    return f"[A-{last}a-{last.lower()}]"


def _columns_up_to(widest: str) -> str:
    """A regex for the column letters, in either case, of any column up to `widest`."""
    size = len(widest)
    options = [f"[A-Za-z]{{1,{size - 1}}}+"] if size > 1 else []  # fewer letters
    # As many letters: the same as `widest` up to one that is lower (or, last, not higher).
    for i, letter in enumerate(widest):
        last = i == size - 1
        top = letter if last else chr(ord(letter) - 1)
        if top >= "A":
            same = "".join(f"[{c}{c.lower()}]" for c in widest[:i])
            rest = "" if last else "[A-Za-z]" * (size - 1 - i)
            options.append(same + _letters_from_a(top) + rest)
    return "|".join(options)


@functools.lru_cache(maxsize=64)
def _unusual_cell(widest: int, digits: int) -> re.Pattern[bytes]:
    """Any `<c` but a cell written `<c r="..."` within `widest` columns and `digits` digits.

    Collecting every cell's column and row (hundreds of thousands in a 10,000-row template)
    cost several times the inflating; this pass stops at each `<c` only to see that it
    changes nothing, and finds the few cells that do.
    """
    if not widest or not digits:
        return re.compile(rb"<c")
    columns = _columns_up_to(column_letters(widest)).encode()
    # Possessive digits: never giving any back saves a tenth of the pass and changes nothing,
    # as a shorter run of digits is followed by a digit, not the closing quote.
    return re.compile(rb'<c(?! r="(?:%s)\d{1,%d}+"%s)' % (columns, digits, _USUAL_ATTRIBUTES))


def _is_sheet(first: bytes) -> bool:
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first[:64]:
        raise UnreadableFile("The workbook has a part in an unusual text encoding. " + _SAVE_AS)
    found = _ROOT.match(first)
    if found:
        return found.group(1) in _SHEET_ROOTS
    # Not XML at all (an image), or a prolog longer than a chunk: scan the latter anyway.
    return first.lstrip().startswith(b"<")


@dataclass
class _Extent:
    """What a worksheet's cell references say about the rectangle calamine will allocate."""

    widest: int = 0  # the widest column of any cell, exactly
    digits: int = 0  # the most digits in the row number of any cell
    odd_cells: bool = False
    is_sheet: bool | None = None
    window: int = _WINDOW

    def feed(self, chunk: bytes) -> None:
        if self.is_sheet is None:
            self.is_sheet = _is_sheet(chunk)
        if not self.is_sheet or self.odd_cells:
            return  # an odd cell is refused whatever else the sheet holds
        if _PREFIXED_HINT.search(chunk) and _PREFIXED_CELL.search(chunk):
            self.odd_cells = True
            return
        # A cell changes the extent only when it is odd, wider than the widest so far or has
        # more digits than any so far: one quick pass finds such cells, and only a window
        # around each is measured. A window ends just before a '<', and no pattern matches
        # across a '<' except at its start, so it measures its cells as the whole chunk would.
        pos = 0
        while found := _unusual_cell(self.widest, self.digits).search(chunk, pos):
            end = chunk.find(b"<", found.start() + self.window)
            pos = len(chunk) if end == -1 else end
            self._measure(chunk, found.start(), pos)
            if self.odd_cells:
                return

    def _measure(self, chunk: bytes, start: int, end: int) -> None:
        self.odd_cells = bool(
            _ODD_CELL.search(chunk, start, end) or _SECOND_R.search(chunk, start, end)
        )
        if columns := set(_CELL_COLUMNS.findall(chunk, start, end)):
            self.widest = max(self.widest, *(column_number(c.decode().upper()) for c in columns))
        if rows := _CELL_ROWS.findall(chunk, start, end):
            self.digits = max(self.digits, *map(len, rows))

    def last_row_bound(self) -> int:
        """No cell lies below this row: the largest number with as many digits as any cell's."""
        return 10**self.digits - 1


# --- xlsx: formulas without a saved result ---------------------------------------------------
#
# A cell holds a formula's last result beside the formula (`<f>…</f><v>…</v>`), and calamine
# reads that result. Excel and LibreOffice always save it; a program that writes formulas
# without calculating them (openpyxl, many export scripts) leaves `<v>` out or empty, and
# calamine then reads a blank: a learner count or a title would be imported as nothing.

# One pass over a sheet without formulas (most): `<f` also starts <formula1> of a dropdown.
_FORMULA_HINT = re.compile(rb"<f[\s>/]")
# A formula cell up to its result, if any: `<f>` is a cell's first child and `<v>` the next
# (CT_Cell: f, v, is). No part can run past a '<' or '>' it should stop at, so a match costs
# what it reads, however the sheet is broken.
_FORMULA_CELL = re.compile(
    rb'<c r="([A-Za-z]+\d+)"([^>]*)>\s*<f(?:[^>]*/>|[^>]*>[^<]*</f>)\s*(<v\s*/>|<v>[^<]*</v>)?'
)
_SAVED_RESULT = re.compile(rb"<v>\s*[^<\s]")  # any result but a blank one
_TEXT_RESULT = re.compile(rb'\st="str"')
_LONGEST_CELL = 256 * 1024


@dataclass
class _Formulas:
    """The formula cells of one worksheet whose result was never saved."""

    first: str | None = None  # the first such cell, as the sheet names it ("C4")
    count: int = 0
    carry: bytes = b""  # a cell cut by the end of the last chunk

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        self.carry = b""
        # A cell still open at the chunk's end (its result may be in the next chunk) is
        # judged with the next chunk; but not one longer than any formula cell can be
        # (formulas up to 8,192 characters, results up to 32,767): a sheet of one endless
        # cell must not be copied again with every chunk.
        end = len(data)  # what is judged now: all but a carried cell (bounds, not a copy)
        tail = data.rfind(b"<c ")
        if tail >= 0 and end - tail <= _LONGEST_CELL and data.find(b"</c>", tail) == -1:
            end, self.carry = tail, data[tail:]
        if not _FORMULA_HINT.search(data, 0, end):
            return
        for cell in _FORMULA_CELL.finditer(data, 0, end):
            result = cell[3]
            if result and _SAVED_RESULT.match(result):
                continue
            # An empty result is saved for a formula whose text result is "" (t="str").
            if result and _TEXT_RESULT.search(cell[2]):
                continue
            self.count += 1
            if self.first is None:
                self.first = cell[1].decode().upper()


@dataclass
class XlsxScan:
    """What the checks found that only matters for the sheet that is read."""

    # Worksheet part ("xl/worksheets/sheet1.xml") -> (its first formula cell without a saved
    # result, how many it has).
    unsaved_formulas: dict[str, tuple[str, int]]


def _tag_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-cut a byte stream after a '>' so no tag is split between two chunks."""
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b">") + 1
        if cut:
            yield data[:cut]
            carry = data[cut:]
        else:
            carry = data
    if carry:
        yield carry


_BEYOND_ANY_SHEET = 10**18


def _row_number(digits: bytes) -> int:
    """A cell's row number; one of more than 18 digits (int() refuses 4,300) counts as
    10**18, past every limit."""
    significant = digits.lstrip(b"0")
    return int(significant or b"0") if len(significant) <= 18 else _BEYOND_ANY_SHEET


def _row_of_column(data: bytes, info: zipfile.ZipInfo, letters: str) -> int | None:
    cell = re.compile(rb'<c r="' + letters.encode() + rb'(\d+)"', re.IGNORECASE)
    for chunk in _tag_chunks(_inflate(data, info)):
        if found := cell.search(chunk):
            return _row_number(found.group(1))
    return None


def _last_row(data: bytes, info: zipfile.ZipInfo) -> int:
    """The largest row number of any cell of a worksheet, exactly (it is inflated again)."""
    last = 0
    for chunk in _tag_chunks(_inflate(data, info)):
        if found := _CELL_ROWS.findall(chunk):
            last = max(last, *map(_row_number, found))
    return last


def _check_extent(extent: _Extent, limits: Limits, data: bytes, info: zipfile.ZipInfo) -> None:
    if extent.odd_cells:
        raise UnreadableFile(
            "The workbook was saved by a program that leaves out cell positions, which we "
            "cannot check safely. " + _SAVE_AS
        )
    if not extent.widest:
        return
    widest = extent.widest
    bound = extent.last_row_bound()
    within = widest <= limits.max_columns and bound <= limits.max_rows
    if within and widest * bound <= limits.max_cells:
        return  # within every limit even at the bound: no need for the exact last row
    last_row = _last_row(data, info)
    if widest > limits.max_columns:
        # Only a refused sheet is inflated again, to name the offending row.
        row = _row_of_column(data, info, column_letters(widest))
        where = f"Row {row} has" if row else "A row has"
        raise UnsafeFile(
            f"{where} a value in column {column_letters(widest)} (column {widest:,}); a batch "
            f"file has at most {limits.max_columns} columns. Delete the stray cells and save "
            "again."
        )
    if last_row > limits.max_rows:
        raise UnsafeFile(
            f"The sheet goes down to row {last_row:,}; a batch file has at most "
            f"{limits.max_rows:,} rows. Split it into smaller files."
        )
    if widest * last_row > limits.max_cells:
        raise UnsafeFile(
            f"The sheet spans {last_row:,} rows by {widest:,} columns, too large to open. "
            "Delete stray cells far below or right of your data and save again."
        )


def _scan_member(
    data: bytes, info: zipfile.ZipInfo, limits: Limits
) -> tuple[bytes | None, _Formulas]:
    """Inflate one member (bounded); check a worksheet's extent and find its formulas without
    a saved result; return [Content_Types] (None for any other member) and those formulas."""
    extent = _Extent()
    formulas = _Formulas()
    keep = info.filename == "[Content_Types].xml"
    kept: list[bytes] = []
    for chunk in _tag_chunks(_inflate(data, info)):
        extent.feed(chunk)
        if extent.is_sheet:
            formulas.feed(chunk)
        if keep:
            kept.append(chunk)
    if extent.is_sheet:
        _check_extent(extent, limits, data, info)
    return (b"".join(kept) if keep else None), formulas


def check_xlsx(data: bytes, limits: Limits = DEFAULT_LIMITS) -> XlsxScan:
    """Refuse an .xlsx that is not a zip, is a bomb, carries macros or has an absurd sheet;
    return what matters only for the sheet that will be read."""
    scan = XlsxScan({})
    infos = _members(data, limits)
    _refuse_macros_and_encryption(infos)
    _check_declared_sizes(infos, limits)
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
        raise UnreadableFile("This zip file is not an Excel workbook. " + _SAVE_AS)
    for info in infos:
        if info.is_dir():
            continue
        content_types, formulas = _scan_member(data, info, limits)
        if content_types is not None and any(t in content_types for t in _MACRO_TYPES):
            raise UnsafeFile(
                "This workbook is macro-enabled, which we do not accept. Save it as "
                '"Excel Workbook (.xlsx)" and upload that.'
            )
        if formulas.first is not None:
            scan.unsaved_formulas[info.filename] = (formulas.first, formulas.count)
    return scan


# --- Text files ----------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-8 (BOM or not), UTF-16 with BOM, cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text (*.txt)" is UTF-16 with a byte-order mark.
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise UnreadableFile("The file says it is UTF-16 text but is not.") from None
    if b"\x00" in data:
        raise UnreadableFile("This is not a text file. Save it as tab-delimited text or .xlsx.")
    try:
        text = data.decode("utf-8-sig")
        return text, "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        # Excel's "Text (Tab delimited)" writes the Windows code page.
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise UnreadableFile(
            "The text is neither UTF-8 nor Windows-1252 (what Excel's \"Text (Tab "
            'delimited)" writes). Save it again from Excel as tab-delimited text.'
        ) from None


def check_text_width(text: str, limits: Limits = DEFAULT_LIMITS, delimiter: str = "\t") -> int:
    """Refuse absurdly wide or long delimited text; return its number of lines."""
    lines = text.count("\n") + 1
    if lines > limits.max_rows + 1:
        raise UnsafeFile(
            f"The file has {lines:,} lines; a batch file has at most {limits.max_rows:,} rows. "
            "Split it into smaller files."
        )
    if text.count(delimiter) < limits.max_columns:
        return lines  # no line can be too wide: the common case costs one count
    for number, line in enumerate(text.split("\n"), start=1):
        if line.count(delimiter) < limits.max_columns:
            continue
        # Counted exactly only now: a comma inside a quoted text is no column.
        width = len(next(csv.reader([line], delimiter=delimiter), []))
        if width > limits.max_columns:
            raise UnsafeFile(
                f"Line {number} has {width:,} values; a batch file has at most "
                f"{limits.max_columns} columns."
            )
    return lines

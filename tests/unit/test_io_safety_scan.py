"""The worksheet scan in io.safety, held to a plain reading of the whole sheet.

The scan passes over usual cells in one quick regex pass and measures only a window from each
cell that could change the extent (see `_Extent.feed`). Here it must agree with a reference
that reads every `<c` of the whole sheet in a plain loop: generated sheets with columns of one
to four letters in either case, row numbers of any length (leading zeros too), odd and broken
tags, cut into chunks anywhere, measured through windows of any size.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pars_app.io import Limits, UnreadableFile, UnsafeFile
from pars_app.io.safety import (
    _columns_up_to,
    _Extent,
    _Formulas,
    _tag_chunks,
    check_xlsx,
    column_letters,
    column_number,
)

from .test_io_fixtures import rezip, xlsx_bytes

HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="A1:B2"/><cols><col min="1" max="2" width="9"/></cols><sheetData>'
)
TAIL = (
    '</sheetData><conditionalFormatting sqref="A1"><cfRule type="expression" priority="1"/>'
    "</conditionalFormatting></worksheet>"
)
WHITESPACE = (b" ", b"\t", b"\n", b"\r", b"\f", b"\v")


@dataclass
class Reading:
    odd: bool = False  # a cell start tag without r first, or with a namespace prefix
    widest: int = 0  # the widest column of `<c r="LETTERS DIGITS`
    digits: int = 0  # the longest row number of `<c r="LETTERS DIGITS"`
    last_row: int = 0  # the largest of those row numbers


def _attributes_are_plain(tag: bytes) -> bool:
    """After a cell's `r="..."`: attributes other than r (prefixed or not), values without
    `<`, up to `>` or `/>`. Anything else would let calamine read another position."""
    at = 0
    while True:
        at += len(tag[at:]) - len(tag[at:].lstrip(b" \t\n\r\f\v"))
        if tag.startswith((b">", b"/>"), at):
            return True
        if at == 0:
            return False  # no whitespace before the next attribute
        name = re.match(rb"[\w:.\-]+", tag[at:])
        if name is None or name.group() == b"r" or name.group().endswith(b":r"):
            return False
        at += name.end()
        at += len(tag[at:]) - len(tag[at:].lstrip(b" \t\n\r\f\v"))
        if tag[at : at + 1] != b"=":
            return False
        at += 1
        at += len(tag[at:]) - len(tag[at:].lstrip(b" \t\n\r\f\v"))
        quote = tag[at : at + 1]
        if quote not in (b'"', b"'"):
            return False
        close = tag.find(quote, at + 1)
        if close == -1 or b"<" in tag[at + 1 : close]:
            return False
        at = close + 1
        tag = tag[at:]
        at = 0
        if not tag.startswith((b">", b"/>")) and tag[:1] not in WHITESPACE:
            return False


def _second_position(rest: bytes) -> bool:
    """`rest` follows `<c r="`: is the position followed by anything but plain attributes?"""
    value_end = re.match(rb'[^"<]*"', rest)
    if value_end is None:
        return False  # not a complete position: nothing calamine could read
    return not _attributes_are_plain(rest[value_end.end() :])


def read_plainly(sheet: bytes) -> Reading:
    """Every `<c` of the whole sheet, one at a time."""
    reading = Reading(odd=re.search(rb"<[\w.\-]{1,30}:c[\s>/]", sheet) is not None)
    at = sheet.find(b"<c")
    while at != -1:
        rest = sheet[at + 2 :]
        if rest.startswith(b' r="'):
            reading.odd = reading.odd or _second_position(rest[4:])
            ref = re.match(rb"([A-Za-z]*)([0-9]*)", rest[4:])
            assert ref is not None
            letters, number = ref.groups()
            if letters and number:
                column = column_number(letters.decode().upper())
                reading.widest = max(reading.widest, column)
                if rest[4 + ref.end() : 5 + ref.end()] == b'"':
                    reading.digits = max(reading.digits, len(number))
                    reading.last_row = max(reading.last_row, int(number))
        elif rest[:1] in WHITESPACE or rest[:1] == b">" or rest.startswith(b"/>"):
            reading.odd = True
        at = sheet.find(b"<c", at + 1)
    return reading


def expected_verdict(sheet: bytes, limits: Limits) -> str:
    """What check_xlsx must say, from the plain reading (the messages of io.safety)."""
    reading = read_plainly(sheet)
    if reading.odd:
        return "leaves out cell positions"
    if reading.widest > limits.max_columns:
        letters = column_letters(reading.widest)
        found = re.search(rb'<c r="' + letters.encode() + rb'(\d+)"', sheet, re.IGNORECASE)
        row = int(found.group(1)) if found else 0
        where = f"Row {row} has" if row else "A row has"
        return f"{where} a value in column {letters} (column {reading.widest:,})"
    if reading.last_row > limits.max_rows:
        return f"The sheet goes down to row {reading.last_row:,}"
    if reading.widest * reading.last_row > limits.max_cells:
        return f"The sheet spans {reading.last_row:,} rows by {reading.widest:,} columns"
    return "accepted"


def verdict(data: bytes, limits: Limits) -> str:
    try:
        check_xlsx(data, limits)
    except (UnsafeFile, UnreadableFile) as err:
        return str(err)
    return "accepted"


# --- Generated sheets ---------------------------------------------------------------------------


def _cased(letters: str, lower: list[bool]) -> str:
    return "".join(c.lower() if low else c for c, low in zip(letters, lower, strict=False))


REFS = st.builds(
    lambda column, lower, number: _cased(column_letters(column), lower) + number,
    st.one_of(st.integers(1, 40), st.integers(1, 800), st.integers(1, 20_000)),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.one_of(
        st.integers(1, 150).map(str),
        st.integers(1, 10**13).map(str),
        st.from_regex(r"0{1,3}[0-9]{1,8}", fullmatch=True),
    ),
)
USUAL_CELLS = st.builds(
    lambda ref, attrs, closed: f'<c r="{ref}"{attrs}' + ("/>" if closed else "><v>1</v></c>"),
    REFS,
    st.sampled_from(["", ' t="n"', ' s="3" t="inlineStr"']),
    st.booleans(),
)
# Tags and text that are not cells (or not cells the scan can count), and broken fragments.
OTHER_TAGS = st.sampled_from(
    [
        '<col min="1" max="3"/>',
        '<cfRule type="x"/>',
        '<c r="A1x"/>',
        '<c r="1A"/>',
        '<c r="A"/>',
        '<c r=""/>',
        '<c r="$A$1"/>',
        '<cell r="B2"/>',
        '<c r="B2" rr="1" ref="x"/>',
        '<c r="B2"  t="n"\ts = "1" />',
        "<c r=\"B2\" t='n'><v>1</v></c>",
        "<is><t>a:b c:d x:c y:c:</t></is>",
        "<c",
        "c>",
        '<c r="ZZ',
        '99"/>',
        "<",
    ]
)
ODD_TAGS = st.sampled_from(
    [
        "<c>1</c>",
        "<c/>",
        '<c t="n"><v>1</v></c>',
        '<c s="0" r="A2"><v>1</v></c>',
        '<c\tr="AAA2000"/>',
        '<c\nr="B3"/>',
        '<c\r\nr="B3"/>',
        '<c  r="A1"/>',
        "<c r='A1'/>",
        '<x:c r="A1"/>',
        "<ns.a-b:c>1</ns.a-b:c>",
        "<x:c/>",
        # A second position, which calamine would take instead of the first.
        '<c r="A3" r="AAA2000"/>',
        '<c r="A3" s="1" x:r="B9"><v>1</v></c>',
        "<c r=\"A3\" t='n' r='ZZ9'/>",
        '<c r="A3" x=">" r="Z9"/>',
        '<c r="A3"\tr ="Z9"/>',
        '<c r="A3" t="<"/>',
    ]
)


@st.composite
def sheets(draw: st.DrawFn) -> bytes:
    cells = st.one_of(USUAL_CELLS, USUAL_CELLS, USUAL_CELLS, OTHER_TAGS)
    rows = draw(st.lists(st.lists(cells, max_size=6), min_size=1, max_size=12))
    if draw(st.integers(0, 3)) == 0:  # a quarter of the sheets hold one odd cell somewhere
        row = rows[draw(st.integers(0, len(rows) - 1))]
        row.insert(draw(st.integers(0, len(row))), draw(ODD_TAGS))
    numbers = draw(st.lists(st.integers(1, 10**7), min_size=len(rows), max_size=len(rows)))
    body = "".join(
        f'<row r="{n}">' + "".join(row) + "</row>" for n, row in zip(numbers, rows, strict=True)
    )
    return (HEAD + body + TAIL).encode()


@st.composite
def chunked_sheets(draw: st.DrawFn) -> tuple[bytes, list[bytes], int]:
    """A sheet, the same bytes cut anywhere, and a window size."""
    sheet = draw(sheets())
    cuts = sorted(draw(st.lists(st.integers(0, len(sheet)), max_size=10)))
    pieces = [sheet[a:b] for a, b in zip([0, *cuts], [*cuts, len(sheet)], strict=True)]
    return sheet, pieces, draw(st.integers(1, 400))


def workbook(sheet: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


# --- The scan agrees with the plain reading -----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(case=chunked_sheets())
def test_the_scan_measures_what_a_plain_reading_does(case):
    sheet, pieces, window = case
    extent = _Extent(window=window)
    for chunk in _tag_chunks(iter(pieces)):
        extent.feed(chunk)
    reading = read_plainly(sheet)
    assert extent.odd_cells == reading.odd
    if not reading.odd:  # an odd cell ends the scan: the sheet is refused whatever it holds
        assert extent.widest == reading.widest
        assert extent.digits == reading.digits
        assert reading.last_row <= extent.last_row_bound() == 10**reading.digits - 1


@settings(max_examples=200, deadline=None)
@given(
    sheet=sheets(),
    limits=st.builds(
        Limits,
        max_columns=st.one_of(st.integers(1, 100), st.integers(1, 20_000)),
        max_rows=st.one_of(st.integers(1, 200), st.integers(1, 10**14)),
        max_cells=st.one_of(st.integers(1, 5_000), st.integers(1, 10**16)),
    ),
)
def test_a_generated_sheet_is_refused_or_accepted_as_the_plain_reading_says(sheet, limits):
    expected = expected_verdict(sheet, limits)
    got = verdict(workbook(sheet), limits)
    if expected == "accepted":
        assert got == "accepted"
    else:
        assert expected in got


@settings(max_examples=300, deadline=None)
@given(
    widest=st.one_of(st.integers(1, 800), st.integers(1, 20_000)),
    column=st.one_of(st.integers(1, 800), st.integers(1, 20_000)),
    lower=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_the_column_pattern_takes_exactly_the_columns_up_to_the_widest(widest, column, lower):
    pattern = re.compile(_columns_up_to(column_letters(widest)))
    letters = _cased(column_letters(column), lower)
    assert bool(pattern.fullmatch(letters)) == (column <= widest)


# --- Fixed cases --------------------------------------------------------------------------------


def _with_cell(cell: bytes, row: int = 3, rows: int = 5) -> bytes:
    data = xlsx_bytes([["Title", "Format", "Start", "End"]] + [["T", "C", 1, 1]] * (rows - 1))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    cut = sheet.index(b"</row>", sheet.index(b'<row r="%d"' % row))
    return rezip(data, replace={"xl/worksheets/sheet1.xml": sheet[:cut] + cell + sheet[cut:]})


@pytest.mark.parametrize("space", [b"\t", b"\n", b"\r"])
def test_a_cell_with_a_tab_or_newline_before_its_position_is_refused(space):
    """calamine reads `<c\\tr="AAA2000">` as a cell at AAA2000 and allocates 2000 x 703."""
    data = _with_cell(b"<c" + space + b'r="AAA2000"><v>1</v></c>')
    with pytest.raises(UnreadableFile, match="leaves out cell positions"):
        check_xlsx(data)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (b'<c r="zz1500"><v>1</v></c>', r"Row 1500 has a value in column ZZ \(column 702\)"),
        (b'<c r="b0000150000"><v>1</v></c>', "goes down to row 150,000"),
        (b'<x:c r="A1500"><v>1</v></x:c>', "leaves out cell positions"),
        (b'<c t="n" r="A1500"><v>1</v></c>', "leaves out cell positions"),
        (b'<c r="A1500" r="XFD1048576"><v>1</v></c>', "leaves out cell positions"),
        (
            b'<c r="B' + b"1" * 5000 + b'"><v>1</v></c>',
            "goes down to row 1,000,000,000,000,000,000",
        ),
    ],
)
def test_a_stray_cell_far_past_the_first_window_is_found(cell, message):
    """2,000 rows (some 300 KB): the cell lies well after the first window is measured."""
    with pytest.raises((UnsafeFile, UnreadableFile), match=message):
        check_xlsx(_with_cell(cell, row=1500, rows=2000))


def test_a_usual_sheet_is_measured_in_a_few_windows_only(monkeypatch):
    """Cells that change nothing are passed over: measuring them all is what made it slow."""
    windows: list[int] = []
    measure = _Extent._measure

    def spy(self: _Extent, chunk: bytes, start: int, end: int) -> None:
        windows.append(end - start)
        measure(self, chunk, start, end)

    monkeypatch.setattr(_Extent, "_measure", spy)
    cells = "".join(f'<c r="{column_letters(c)}{{n}}" t="n"><v>{c}</v></c>' for c in range(1, 31))
    rows = "".join(
        f'<row r="{n}">' + cells.replace("{n}", str(n)) + "</row>" for n in range(1, 5001)
    )
    sheet = (HEAD + rows + TAIL).encode()
    assert len(sheet) > 4 * 1024 * 1024
    extent = _Extent()
    for chunk in _tag_chunks(iter([sheet[i : i + 2**20] for i in range(0, len(sheet), 2**20)])):
        extent.feed(chunk)
    assert (extent.widest, extent.digits, extent.odd_cells) == (30, 4, False)
    # From the <cols> before the first cell, at row 1,000 (a fourth digit), at the end's <cfRule>
    assert len(windows) <= 4
    assert sum(windows) < len(sheet) / 10


# --- Formulas whose result was never saved ------------------------------------------------------

# (cell XML after `<c r="REF"`, whether its formula's result is missing)
FORMULA_CELLS = (
    (b' t="s"><v>3</v></c>', False),  # a plain text cell
    (b' s="2"/>', False),  # an empty styled cell
    (b"><f>1+1</f><v>2</v></c>", False),  # Excel: the result saved
    (b' t="str"><f>IF(A1="","",A1)</f><v></v></c>', False),  # an empty text result, saved
    (b' t="e"><f>1/0</f><v>#DIV/0!</v></c>', False),
    (b'><f t="shared" si="0"/><v>4</v></c>', False),
    (b"><f>1+1</f><v></v></c>", True),  # openpyxl: an empty number result
    (b' s="1"><f>SUM(A1:A9)</f></c>', True),  # no result at all
    (b'><f t="shared" ref="B1:B9" si="1">A1*2</f><v/></c>', True),
    (b">\n  <f>\n1+1</f>\n  <v>\n</v>\n</c>", True),
)


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(st.sampled_from(FORMULA_CELLS), min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 5_000), max_size=12),
)
def test_unsaved_formulas_are_found_wherever_the_chunks_are_cut(cells, cuts):
    body = b"".join(b'<c r="B%d"' % (i + 1) + xml for i, (xml, _) in enumerate(cells))
    sheet = HEAD.encode() + b'<row r="1">' + body + b"</row>" + TAIL.encode()
    cuts = sorted(c for c in cuts if c <= len(sheet))
    pieces = [sheet[a:b] for a, b in zip([0, *cuts], [*cuts, len(sheet)], strict=True)]
    formulas = _Formulas()
    for chunk in _tag_chunks(iter(pieces)):
        formulas.feed(chunk)
    unsaved = [f"B{i + 1}" for i, (_, missing) in enumerate(cells) if missing]
    assert formulas.count == len(unsaved)
    assert formulas.first == (unsaved[0] if unsaved else None)


def test_the_scan_names_the_sheet_part_with_unsaved_formulas():
    cell = b'<c r="C7"><f>1+1</f></c>'
    sheet = HEAD.encode() + b'<row r="7">' + cell + b"</row>" + TAIL.encode()
    scan = check_xlsx(workbook(sheet))
    assert scan.unsaved_formulas == {"xl/worksheets/sheet1.xml": ("C7", 1)}
    # Data validations and conditional formats hold <formula1>/<formula>: not cells.
    assert check_xlsx(workbook(HEAD.encode() + TAIL.encode())).unsaved_formulas == {}

"""Hostile and broken files are refused before any parser opens them, with a clear message."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from openpyxl import Workbook

from pars_app.io import Limits, UnreadableFile, UnsafeFile, build_template, read_file
from pars_app.io.safety import check_xlsx, column_letters, column_number

from .test_io_fixtures import rezip, xlsx_bytes

HEADER = ["Activity Title", "Format", "Start Date", "End Date"]
MB = 1024 * 1024


def _zeros_member(size: int) -> dict[str, bytes]:
    return {"xl/media/image1.bin": b"\0" * size}


def _patch_sizes(data: bytes, name: str, declared: int) -> bytes:
    """Make the zip lie: declare `declared` bytes uncompressed for member `name`."""
    out = bytearray(data)
    encoded = name.encode()
    central = out.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if out[central + 46 : central + 46 + name_len] == encoded:
            struct.pack_into("<L", out, central + 24, declared)
            local = struct.unpack_from("<L", out, central + 42)[0]
            struct.pack_into("<L", out, local + 22, declared)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def _set_flag(data: bytes, flag: int) -> bytes:
    out = bytearray(data)
    central = out.find(b"PK\x01\x02")
    struct.pack_into("<H", out, central + 8, flag)
    return bytes(out)


# --- Size, emptiness, type ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \r\n\t"])
@pytest.mark.parametrize("name", ["a.xlsx", "a.txt", "a.xml"])
def test_an_empty_file_is_refused(name, data):
    with pytest.raises(UnreadableFile, match="The file is empty"):
        read_file(name, data)


def test_a_file_over_the_size_limit_is_refused_before_reading():
    with pytest.raises(UnsafeFile, match="largest file accepted is 1 MB"):
        read_file("a.xlsx", b"x" * (MB + 1), Limits(max_bytes=MB))


@pytest.mark.parametrize("name", ["report.pdf", "activities.ods", "a.docx"])
def test_other_file_types_are_refused_with_what_we_accept(name):
    with pytest.raises(UnreadableFile, match=r"\.xlsx.*\.txt, \.csv.*\.xml"):
        read_file(name, b"%PDF-1.4 something")


def test_an_xlsx_that_is_not_a_zip_is_refused():
    with pytest.raises(UnreadableFile, match="not a real Excel workbook"):
        read_file("activities.xlsx", b"Provider Activity ID\tTitle\n")


def test_a_truncated_workbook_is_refused():
    data = build_template()
    with pytest.raises(UnreadableFile):
        read_file("activities.xlsx", data[: len(data) // 2])


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(UnreadableFile, match="not an Excel workbook"):
        read_file("letter.xlsx", out.getvalue())


@pytest.mark.parametrize("name", ["old.xls", "renamed.xlsx", "noext"])
def test_old_xls_and_encrypted_workbooks_are_refused_with_how_to_fix(name):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600
    with pytest.raises(UnreadableFile, match=r"password.*save it as \.xlsx"):
        read_file(name, ole)


def test_a_workbook_is_recognised_by_its_content_whatever_its_name():
    data = xlsx_bytes([HEADER, ["T", "C", 1, 1]])
    assert read_file("upload", data).kind == "xlsx"
    assert read_file("upload.txt", data).kind == "xlsx"


# --- Zip bombs ----------------------------------------------------------------------------------


def test_a_member_with_an_extreme_compression_ratio_is_refused():
    data = rezip(build_template(), add=_zeros_member(4 * MB))  # ~4 KB compressed
    with pytest.raises(UnsafeFile, match=r"expands [\d,]+ times.*zip bomb"):
        read_file("bomb.xlsx", data)


def test_the_declared_total_size_is_capped():
    data = rezip(build_template(), add=_zeros_member(2 * MB))
    with pytest.raises(UnsafeFile, match=r"would expand to 2 MB.*limit is 1 MB"):
        read_file("bomb.xlsx", data, Limits(max_uncompressed=MB, max_ratio=10**6))


def test_a_member_that_lies_about_its_size_is_caught_while_inflating():
    data = rezip(build_template(), add=_zeros_member(3 * MB))
    lying = _patch_sizes(data, "xl/media/image1.bin", 1000)
    with pytest.raises(UnsafeFile, match="expands beyond the size it declares"):
        check_xlsx(lying)


def test_a_real_200_mb_bomb_is_refused_from_the_directory_alone():
    # 200 MB of zeros deflates to ~200 KB; its central directory gives it away at once.
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("xl/worksheets/sheet1.xml", "w") as member,
    ):
        for _ in range(200):
            member.write(b"\0" * MB)
    with pytest.raises(UnsafeFile, match="zip bomb"):
        read_file("bomb.xlsx", out.getvalue())


def test_a_damaged_member_is_refused():
    data = build_template()
    out = bytearray(data)
    sheet = out.find(b"xl/worksheets/sheet1.xml") + len("xl/worksheets/sheet1.xml")
    out[sheet + 10 : sheet + 40] = b"\xff" * 30  # scribble over the compressed data
    with pytest.raises(UnreadableFile, match="damaged"):
        read_file("broken.xlsx", bytes(out))


def test_encrypted_zip_members_are_refused():
    with pytest.raises(UnsafeFile, match="encrypted"):
        read_file("secret.xlsx", _set_flag(build_template(), 0x1))


# --- Macros -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["book.xlsm", "book.XLTM", "book.xlsb"])
def test_macro_workbook_extensions_are_refused(name):
    with pytest.raises(UnsafeFile, match="macros"):
        read_file(name, build_template())


def test_a_vba_project_inside_an_xlsx_is_refused():
    data = rezip(build_template(), add={"xl/vbaProject.bin": b"\x01" * 100})
    with pytest.raises(UnsafeFile, match="contains macros"):
        read_file("innocent.xlsx", data)


def test_a_macro_enabled_content_type_is_refused():
    data = build_template()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        types = z.read("[Content_Types].xml")
    types = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    with pytest.raises(UnsafeFile, match="macro-enabled"):
        read_file("innocent.xlsx", rezip(data, replace={"[Content_Types].xml": types}))


# --- Absurd sheets ------------------------------------------------------------------------------


def test_a_ten_thousand_column_row_is_refused_with_its_row_number():
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(["x"] * 10_000)
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(UnsafeFile, match=r"Row 2 has a value in column NTP \(column 10,000\)"):
        read_file("wide.xlsx", out.getvalue())


def test_a_lone_far_away_cell_is_refused_before_calamine_allocates_the_rectangle():
    wb = Workbook()
    wb.active.append(HEADER)
    wb.active.cell(row=99_000, column=400, value=1)  # 39.6 million cells if opened
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(UnsafeFile, match="spans 99,000 rows by 400 columns"):
        read_file("sparse.xlsx", out.getvalue())


def test_too_many_rows_are_refused():
    data = xlsx_bytes([HEADER] + [["T", "C", 1, 1]] * 60)
    with pytest.raises(UnsafeFile, match=r"goes down to row 61.*at most 50 rows"):
        read_file("long.xlsx", data, Limits(max_rows=50))


@pytest.mark.parametrize(
    ("ref", "row"),
    [
        (b"B99", 99),  # as many digits as the last row element, but below it
        (b"B5000", 5_000),  # more digits than any row element
        (b"B123456789", 123_456_789),  # more than the eight digits a row number may have
    ],
)
def test_a_cell_placed_below_its_row_is_found_wherever_it_hides(ref, row):
    """A row's cells are only compared with the rows when they could lie below them: a cell
    claiming a far row inside an early row element is still found, and named exactly."""
    data = xlsx_bytes([HEADER] + [["T", "C", 1, 1]] * 59)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    row3 = sheet.index(b'<row r="3"')
    cut = sheet.index(b"</row>", row3)
    sheet = sheet[:cut] + b'<c r="' + ref + b'"><v>1</v></c>' + sheet[cut:]
    data = rezip(data, replace={"xl/worksheets/sheet1.xml": sheet})
    with pytest.raises(UnsafeFile, match=rf"goes down to row {row:,}.*at most 50 rows"):
        read_file("hidden.xlsx", data, Limits(max_rows=50))


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (b"b2000000", "goes down to row 2,000,000"),  # calamine reads lower case too
        (b"B123456789", "goes down to row 123,456,789"),  # nine digits
        (b"AAAA3", r"column AAAA \(column 18,279\)"),  # four letters
        (b"b000003000000", "goes down to row 3,000,000"),  # leading zeros
    ],
)
def test_odd_cell_positions_calamine_would_allocate_for_are_refused(ref, message):
    data = xlsx_bytes([HEADER] + [["T", "C", 1, 1]] * 5)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    cut = sheet.index(b"</row>", sheet.index(b'<row r="3"'))
    sheet = sheet[:cut] + b'<c r="' + ref + b'"><v>1</v></c>' + sheet[cut:]
    data = rezip(data, replace={"xl/worksheets/sheet1.xml": sheet})
    with pytest.raises(UnsafeFile, match=message):
        read_file("odd.xlsx", data)


def test_a_sheet_near_the_limits_is_read_when_its_exact_extent_fits():
    """Rows 1..120 by 4 columns: the quick bound (999 rows) fails max_cells of 2,000, the
    exact extent (480 cells) fits."""
    data = xlsx_bytes([HEADER] + [["T", "C", 1, 1]] * 119)
    assert len(list(read_file("near.xlsx", data, Limits(max_cells=2_000)).rows)) == 119


@pytest.mark.parametrize(
    "cell", [b'<c t="n"><v>1</v></c>', b"<c><v>1</v></c>", b'<c s="0" r="A2"><v>1</v></c>']
)
def test_cells_without_a_leading_position_are_refused(cell):
    data = xlsx_bytes([HEADER, ["T", "C", 1, 1]])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    sheet = sheet.replace(b"</sheetData>", b'<row r="3">' + cell + b"</row></sheetData>")
    data = rezip(data, replace={"xl/worksheets/sheet1.xml": sheet})
    with pytest.raises(UnreadableFile, match="leaves out cell positions"):
        read_file("odd.xlsx", data)


def test_column_letters_and_numbers_agree():
    for n in (1, 26, 27, 52, 500, 702, 703, 10_000, 16_384):
        assert column_number(column_letters(n)) == n
    assert column_letters(500) == "SF"


# --- Text ---------------------------------------------------------------------------------------


def _legacy_line(title: str) -> str:
    cells = ["Template D", "", "ID-1", "2025", title, "03/01/2025"] + [""] * 41
    return "\t".join(cells)


def test_windows_1252_text_is_read_and_said_so():
    data = (_legacy_line("Caf\u00e9 \u2019rounds\u2019") + "\r\n").encode("cp1252")
    result = read_file("legacy.txt", data)
    assert result.encoding == "Windows-1252"
    assert any("Windows-1252" in note for note in result.notes)
    (row,) = result.rows
    assert row.values["title"] == "Caf\u00e9 \u2019rounds\u2019"


@pytest.mark.parametrize(
    ("encode", "name"),
    [
        (lambda t: t.encode("utf-8"), "UTF-8"),
        (lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), "UTF-8"),
        (lambda t: t.encode("utf-16"), "UTF-16"),
    ],
)
def test_unicode_text_with_or_without_a_bom(encode, name):
    result = read_file("legacy.txt", encode(_legacy_line("Zo\u00eb \u2013 \u4e2d") + "\n"))
    assert result.encoding == name
    (row,) = result.rows
    assert row.values["title"] == "Zo\u00eb \u2013 \u4e2d"
    assert row.values["legacy_data"]["template"] == "Template D"


def test_text_in_no_known_encoding_is_refused():
    with pytest.raises(UnreadableFile, match="neither UTF-8 nor Windows-1252"):
        read_file("legacy.txt", b"Template C\t\x81\x8d\x8f\n")


def test_binary_posing_as_text_is_refused():
    with pytest.raises(UnreadableFile, match="not a text file"):
        read_file("legacy.txt", b"Template C\x00\x00\x01")


def test_a_ten_thousand_value_line_is_refused_with_its_line_number():
    data = (_legacy_line("ok") + "\n" + "\t".join(["x"] * 10_000) + "\n").encode()
    with pytest.raises(UnsafeFile, match=r"Line 2 has 10,000 values"):
        read_file("wide.txt", data)


def test_too_many_lines_are_refused():
    data = ((_legacy_line("ok") + "\n") * 30).encode()
    with pytest.raises(UnsafeFile, match="at most 20 rows"):
        read_file("long.txt", data, Limits(max_rows=20))


def test_a_csv_line_is_as_wide_as_its_values_not_its_commas():
    head = "Provider Activity ID,Activity Title,Format,Start Date,End Date\n"
    wide = head + ",".join(["x"] * 10_000) + "\n"
    with pytest.raises(UnsafeFile, match=r"Line 2 has 10,000 values"):
        read_file("wide.csv", wide.encode())
    # A description full of commas is one quoted value: read, not refused.
    commas = head + 'A-1,"' + "a, " * 1_000 + '",Course,03/01/2025,03/02/2025\n'
    result = read_file("commas.csv", commas.encode())
    (row,) = list(result.rows)
    assert row.values["title"].startswith("a, a, ")

"""The Excel template, the export, and reading them back with python-calamine."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pars_app.domain.codes import COUNTRIES, IN_KIND_NATURES, MOC_BOARDS, US_STATES
from pars_app.domain.formats import DELIVERY_LABELS, FORMATS
from pars_app.io import (
    COLUMNS,
    COUNT_COLUMNS,
    UnreadableFile,
    build_counts_template,
    build_template,
    read_file,
    write_activities,
)
from pars_app.io.fields import activity_columns

from .test_io_fixtures import full_record, rezip, stored, typed, without_numbers, xlsx_bytes

ENUMERATED = {
    "Format": [f.label for f in FORMATS.values()],
    "Delivery Method": list(DELIVERY_LABELS.values()),
    "Country": list(COUNTRIES),
    "State": list(US_STATES),
    "Providership": ["Direct", "Joint"],
    "Listed in CME Passport": ["Yes", "No"],
    "CME Passport Registration": ["Open to all", "Limited"],
    "Supporter 1 Type": ["Monetary", "In-kind"],
    "Supporter 5 In-kind Nature": list(IN_KIND_NATURES.values()),
    "Outcome: Patient Health": ["Yes", "No"],
    "MOC 3 Board": list(MOC_BOARDS),
    "Close Activity": ["Yes", "No"],
}


def _book(data: bytes):
    return load_workbook(io.BytesIO(data))


def _headers(ws) -> list[str]:
    return [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]


def _validation_for(ws, letter: str):
    wanted = f"{letter}2:{letter}1048576"
    found = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == wanted]
    assert len(found) == 1, letter
    return found[0]


def _list_values(wb, formula: str) -> list[str]:
    sheet, start, end = re.fullmatch(r"'?(\w+)'?!\$(\w+\$\d+):\$(\w+\$\d+)", formula).groups()
    ws = wb[sheet]
    return [c.value for row in ws[start.replace("$", "") : end.replace("$", "")] for c in row]


# --- The template --------------------------------------------------------------------------


def test_template_has_the_activity_sheet_first_then_instructions_and_a_hidden_lists_sheet():
    wb = _book(build_template())
    assert wb.sheetnames == ["Activities", "Instructions", "Lists"]
    assert wb["Activities"].sheet_state == "visible"
    assert wb["Lists"].sheet_state == "hidden"
    assert wb.active.title == "Activities"


def test_template_header_row_is_every_column_in_plain_words_with_frozen_panes():
    ws = _book(build_template())["Activities"]
    assert _headers(ws) == [c.header for c in COLUMNS]
    assert ws.max_row == 1
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["C"].width == COLUMNS[2].width
    assert {"Provider Activity ID", "Activity Title", "Start Date", "Close Activity"} <= set(
        _headers(ws)
    )


@pytest.mark.parametrize(("header", "values"), ENUMERATED.items())
def test_every_enumerated_column_has_a_dropdown_fed_from_the_lists_sheet(header, values):
    wb = _book(build_template())
    ws = wb["Activities"]
    letter = get_column_letter(_headers(ws).index(header) + 1)
    dv = _validation_for(ws, letter)
    assert dv.type == "list"
    assert f"{letter}2:{letter}1048576" in str(dv.sqref)
    assert dv.formula1.startswith("'Lists'!")
    assert _list_values(wb, dv.formula1) == values
    assert dv.errorStyle == "warning"  # codes such as "C" may still be typed


def test_columns_without_a_list_get_typed_validation_and_help():
    ws = _book(build_template())["Activities"]
    headers = _headers(ws)
    kinds = {h: _validation_for(ws, get_column_letter(headers.index(h) + 1)) for h in headers}
    assert kinds["Start Date"].type == "date"
    assert kinds["Physician Learners"].type == "whole"
    assert kinds["AMA PRA Category 1 Credits"].type == "decimal"
    assert kinds["Activity Title"].type is None
    assert kinds["Activity Title"].prompt == "The activity's title."


def test_instructions_explain_every_column_close_activity_and_the_groups():
    ws = _book(build_template())["Instructions"]
    cells = {str(c.value) for row in ws.iter_rows() for c in row if c.value}
    text = " ".join(cells)
    assert {c.header for c in COLUMNS} <= cells
    for words in ("Close Activity", "semicolons", "Supporter 6 Name", "MOC 4", "mm/dd/yyyy"):
        assert words in text, words
    close_row = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Close Activity")
    assert "closes the activity" in close_row[1]


def test_every_activity_input_field_has_a_column():
    from pars_app.services.activity_input import ActivityInput

    keys = {c.key.split(".")[0] for c in COLUMNS}
    assert set(ActivityInput.__dataclass_fields__) <= keys | {"moc", "supporters"}
    assert {"supporters", "moc", "close"} <= keys


def test_empty_template_reads_as_a_template_with_no_rows():
    result = read_file("activities.xlsx", build_template())
    assert result.kind == "xlsx"
    assert list(result.rows) == []


# --- Export -> import ------------------------------------------------------------------------


def test_export_round_trips_every_field_including_repeating_groups():
    records = [full_record(1), full_record(2)]
    records[1].update(commercial_support=False, supporters=[], moc=[], close=False)
    result = read_file("export.xlsx", write_activities(records))
    rows = list(result.rows)
    assert result.kind == "xlsx"
    assert [r.number for r in rows] == [2, 3]
    assert all(r.problems == () for r in rows)
    assert [typed(without_numbers(r.values)) for r in rows] == [stored(r) for r in records]


def test_export_writes_real_dates_numbers_and_labels():
    ws = _book(write_activities([full_record()]))["Activities"]
    headers = _headers(ws)
    row = {h: c for h, c in zip(headers, next(ws.iter_rows(min_row=2)), strict=True)}
    assert row["Start Date"].is_date and row["Start Date"].value.date() == date(2025, 3, 1)
    assert row["Start Date"].number_format == "mm/dd/yyyy"
    assert row["AMA PRA Category 1 Credits"].value == 12.25
    assert row["Supporter 1 Amount"].value == 12500.55
    assert row["Format"].value == "Course"
    assert row["Delivery Method"].value == "Hybrid"
    assert row["Joint Providers"].value == "Lakeside Heart Society; North Clinic"
    assert row["ACCME Activity ID"].value == "900000000000000001"  # past Excel's 15 digits
    assert row["Close Activity"].value == "Yes"


def test_export_widens_groups_when_an_activity_has_more_than_the_template_offers():
    record = full_record()
    record["supporters"] = [
        {"name": f"S{i}", "kind": "monetary", "amount_cents": 100 * i} for i in range(1, 8)
    ]
    data = write_activities([record])
    assert "Supporter 7 Name" in _headers(_book(data)["Activities"])
    (row,) = read_file("x.xlsx", data).rows
    assert [s["name"] for s in row.values["supporters"]] == [f"S{i}" for i in range(1, 8)]


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_export_never_writes_a_formula(text):
    record = full_record()
    record.update(title=text, description=text, joint_providers=[text], venue=text)
    data = write_activities([record])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
    ws = _book(data)["Activities"]
    title = ws.cell(row=2, column=_headers(ws).index("Activity Title") + 1)
    assert title.data_type == "s"
    assert title.value == text
    assert title.quotePrefix  # Excel keeps it text even when the cell is edited
    (row,) = read_file("x.xlsx", data).rows
    assert row.values["title"] == text.strip()


def test_export_drops_characters_xml_cannot_hold():
    record = full_record()
    record["title"] = "Bell\x07 and\x00 null"
    (row,) = read_file("x.xlsx", write_activities([record])).rows
    assert row.values["title"] == "Bell and null"


# --- Reading what users make -------------------------------------------------------------------


def test_headers_match_whatever_the_case_spacing_or_punctuation():
    data = xlsx_bytes(
        [
            [
                "  provider activity id",
                "ACTIVITY TITLE",
                "format",
                "Start  Date",
                "end-date",
                "AMA PRA Category 1 Credits™",
                "Supporter 2 in kind nature",
            ],
            ["A-1", "Title", "C", date(2025, 1, 1), "01/02/2025", 1.5, "Facilities/space"],
        ]
    )
    (row,) = read_file("a.xlsx", data).rows
    assert row.values == {
        "provider_activity_id": "A-1",
        "title": "Title",
        "format": "C",
        "start_date": date(2025, 1, 1),
        "end_date": "01/02/2025",
        "credits": 1.5,
        "supporters": [{"number": 2, "nature": "Facilities/space"}],
    }


def test_cells_become_plain_values_and_blank_rows_are_skipped_with_excel_row_numbers():
    data = xlsx_bytes(
        [
            [
                "Provider Activity ID",
                "Activity Title",
                "Format",
                "Start Date",
                "End Date",
                "Physician Learners",
                "Commercial Support Received",
            ],
            [12345, "  Spaced  ", "RSS", date(2025, 1, 1), date(2025, 12, 31), 12.0, True],
            [None, None, None, None, None, None, None],
            ["B", 2025, "C", 45658, 45658.0, 1.5, "yes"],
        ]
    )
    rows = list(read_file("a.xlsx", data).rows)
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values["provider_activity_id"] == "12345"  # IDs and text are always str
    assert rows[0].values["title"] == "Spaced"
    assert rows[0].values["physician_learners"] == 12  # Excel's 12.0 is the 12 typed
    assert rows[0].values["commercial_support"] is True
    assert rows[1].values["title"] == "2025"
    assert rows[1].values["start_date"] == 45658  # a serial: the import's parse_date reads it
    assert rows[1].values["physician_learners"] == 1.5


def test_rows_and_columns_keep_excels_numbers_below_blank_rows_and_right_of_blank_columns():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for col, header in enumerate(["Activity Title", "Format", "Start Date", "End Date"], start=3):
        ws.cell(row=3, column=col, value=header)
    ws.cell(row=5, column=3, value="T")
    ws.cell(row=6, column=4, value="C")
    out = io.BytesIO()
    wb.save(out)
    result = read_file("a.xlsx", out.getvalue())
    assert result.total_hint == 3
    assert [(r.number, r.values["title"], r.values["format"]) for r in result.rows] == [
        (5, "T", None),
        (6, None, "C"),
    ]


def test_a_missing_column_is_absent_and_a_blank_cell_is_none():
    data = xlsx_bytes(
        [["Activity Title", "Format", "Start Date", "End Date", "Venue"], ["T", "C", 1, 2, None]]
    )
    (row,) = read_file("a.xlsx", data).rows
    assert row.values["venue"] is None
    assert "city" not in row.values and "supporters" not in row.values


def test_legacy_format_codes_imply_their_delivery():
    data = xlsx_bytes(
        [
            ["Activity Title", "Format", "Delivery Method", "Start Date", "End Date"],
            ["Webinar", "IL", None, 1, 2],
            ["Online", "IEM", "Print or other media", 1, 2],
        ]
    )
    first, second = read_file("a.xlsx", data).rows
    assert (first.values["format"], first.values["delivery"]) == ("C", "live_stream")
    assert (second.values["format"], second.values["delivery"]) == ("EM", "Print or other media")


def test_unknown_headers_are_named_with_their_columns():
    data = xlsx_bytes([["Activity Title", "Format", "Start Date", "End Date", "Colour", "Mood"]])
    with pytest.raises(UnreadableFile) as err:
        read_file("a.xlsx", data)
    assert '"Colour" (column E)' in err.value.message
    assert '"Mood" (column F)' in err.value.message
    assert [e.line for e in err.value.errors] == [1, 1]


def test_a_repeated_header_is_refused():
    data = xlsx_bytes([["Activity Title", "Format", "Start Date", "End Date", "format"]])
    with pytest.raises(UnreadableFile, match=r"appears twice \(columns B and E\)"):
        read_file("a.xlsx", data)


@pytest.mark.parametrize(
    ("headers", "missing"),
    [
        (["Activity Title", "Start Date", "End Date"], '"Format"'),
        (["Provider Activity ID", "Format", "End Date"], '"Start Date"'),
        (["Format", "Start Date", "End Date"], "Provider Activity ID (or Activity Title)"),
    ],
)
def test_required_headers_are_checked(headers, missing):
    with pytest.raises(UnreadableFile, match=re.escape(missing)):
        read_file("a.xlsx", xlsx_bytes([headers]))


def test_an_empty_sheet_is_refused():
    with pytest.raises(UnreadableFile, match="empty"):
        read_file("a.xlsx", xlsx_bytes([]))


def test_the_activities_sheet_is_read_whatever_its_position():
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["whatever"])
    wb.create_sheet("Activities").append(["Activity Title", "Format", "Start Date", "End Date"])
    wb["Activities"].append(["T", "C", 1, 1])
    out = io.BytesIO()
    wb.save(out)
    (row,) = read_file("a.xlsx", out.getvalue()).rows
    assert row.values["title"] == "T"


# --- Formulas whose result was never saved ---------------------------------------------------

HEADER = ["Provider Activity ID", "Activity Title", "Format", "Start Date", "End Date"]
SHEET = "xl/worksheets/sheet1.xml"


PLACEHOLDER = b'<c r="B2" t="inlineStr"><is><t>placeholder</t></is></c>'


def _with_title_cell(cell: bytes) -> bytes:
    """A one-row workbook whose title cell (B2) is `cell`, as Excel or a script wrote it."""
    data = xlsx_bytes([HEADER, ["A-1", "placeholder", "C", 1, 1]])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read(SHEET)
    assert sheet.count(PLACEHOLDER) == 1, sheet
    return rezip(data, replace={SHEET: sheet.replace(PLACEHOLDER, cell)})


def test_a_formula_without_its_saved_result_is_refused_naming_the_cell():
    # openpyxl writes a text starting with "=" as a formula, and no result: calamine would
    # read a blank title and a blank learner count.
    data = xlsx_bytes([HEADER, ["A-1", '=UPPER("x")', "C", 1, 1], ["A-2", "=B2", "C", 1, 1]])
    with pytest.raises(UnreadableFile) as refused:
        read_file("a.xlsx", data)
    message = str(refused.value)
    assert "Cell B2 of the sheet “Activities” (and 1 more cell(s) like it)" in message
    assert "result was never saved" in message
    assert "Open the file in Excel" in message


@pytest.mark.parametrize(
    ("cell", "title"),
    [
        (b'<c r="B2" t="str"><f>UPPER("x")</f><v>X</v></c>', "X"),
        # Excel saves =IF(...,"",...) as an empty text result: a value, not a missing one.
        (b'<c r="B2" t="str"><f>IF(A2="","",A2)</f><v></v></c>', None),
    ],
)
def test_a_formula_with_its_saved_result_reads_the_result(cell, title):
    (row,) = read_file("a.xlsx", _with_title_cell(cell)).rows
    assert row.values["title"] == title


@pytest.mark.parametrize(
    "cell", [b'<c r="B2"><f>1+1</f></c>', b'<c r="B2" s="1"><f>1+1</f><v/></c>']
)
def test_an_empty_number_result_or_none_at_all_counts_as_never_saved(cell):
    with pytest.raises(UnreadableFile, match="Cell B2 of the sheet"):
        read_file("a.xlsx", _with_title_cell(cell))


def test_formulas_on_a_sheet_that_is_not_read_do_not_matter():
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Workings"
    wb.active.append(["=1+1", "=A1*2"])
    wb.create_sheet("Activities").append(HEADER)
    wb["Activities"].append(["A-1", "T", "C", 1, 1])
    out = io.BytesIO()
    wb.save(out)
    (row,) = read_file("a.xlsx", out.getvalue()).rows
    assert row.values["title"] == "T"
    # The same formulas on the sheet that is read are refused.
    wb["Activities"].append(["A-2", "=A1", "C", 1, 1])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(UnreadableFile, match="Cell B3 of the sheet “Activities”"):
        read_file("a.xlsx", out.getvalue())


def test_the_exports_own_text_that_looks_like_a_formula_reads_back_as_text():
    record = dict(full_record(1), title="=1+1", description="@SUM(A1)")
    (row,) = read_file("a.xlsx", write_activities([record])).rows
    assert row.values["title"] == "=1+1"
    assert row.values["description"] == "@SUM(A1)"


def test_ten_thousand_rows_stream_through():
    records = [dict(full_record(i), supporters=[], moc=[]) for i in range(10_000)]
    result = read_file("big.xlsx", write_activities(records))
    assert result.total_hint == 10_000
    count = 0
    for count, row in enumerate(result.rows, start=1):
        assert row.number == count + 1
    assert count == 10_000
    assert row.values["provider_activity_id"] == "2025-9999"


# --- Learner counts --------------------------------------------------------------------------


def test_counts_template_has_its_short_header_and_instructions():
    wb = _book(build_counts_template())
    assert wb.sheetnames == ["Learner Counts", "Instructions", "Lists"]
    assert _headers(wb["Learner Counts"]) == [c.header for c in COUNT_COLUMNS]
    assert _validation_for(wb["Learner Counts"], "E").type == "whole"
    text = " ".join(str(c.value) for row in wb["Instructions"].iter_rows() for c in row)
    assert "December 31" in text


def test_counts_template_prefilled_reads_back_as_counts():
    data = build_counts_template(
        [
            {"provider_activity_id": "EM-1", "title": "Online", "counts_year": 2025},
            {"provider_activity_id": "RSS-2", "physician_learners": 1040, "other_learners": 3},
        ]
    )
    result = read_file("counts.xlsx", data)
    assert result.kind == "counts"
    assert [r.values for r in result.rows] == [
        {
            "provider_activity_id": "EM-1",
            "title": "Online",
            "physician_learners": None,
            "other_learners": None,
            "counts_year": 2025,
        },
        {
            "provider_activity_id": "RSS-2",
            "title": None,
            "physician_learners": 1040,
            "other_learners": 3,
            "counts_year": None,
        },
    ]


def test_a_sheet_with_only_id_and_learner_columns_is_a_counts_file():
    data = xlsx_bytes([["Provider Activity ID", "Physician Learners"], ["X", 3]])
    result = read_file("c.xlsx", data)
    assert result.kind == "counts"
    assert [r.values for r in result.rows] == [
        {"provider_activity_id": "X", "physician_learners": 3}
    ]


def test_column_labels_use_the_files_own_headers():
    data = xlsx_bytes([["activity title", "FORMAT", "Start Date", "End Date"]])
    result = read_file("a.xlsx", data)
    assert result.column_label("title") == "activity title"
    assert result.column_label("format") == "FORMAT"
    assert result.column_label("venue") == "Venue"
    assert result.column_label("supporters.2.amount") == "Supporter 2 Amount"


def test_group_columns_reach_the_form_limits():
    headers = {c.header for c in activity_columns(50, 8)}
    assert {"Supporter 50 Other Nature", "MOC 8 Practice Areas"} <= headers


@pytest.mark.parametrize(
    ("value", "number_format"),
    [(-(10**15), "mm/dd/yyyy"), (10**15, "[h]:mm:ss")],
    ids=["date-far-out-of-range", "duration-too-long"],
)
def test_a_cell_calamine_cannot_convert_refuses_the_file_naming_its_row(value, number_format):
    # Found by the import fuzzing: calamine panics (a BaseException) or overflows on these.
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Activities"
    ws.append(["Provider Activity ID", "Activity Title", "Format", "Start Date", "End Date"])
    ws.append(["A-1", "Title", "JN", value, date(2025, 1, 2)])
    ws["D2"].number_format = number_format
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(UnreadableFile, match="Row 2 has a value that cannot be read"):
        list(read_file("far.xlsx", out.getvalue()).rows)


def test_the_error_file_gives_back_dates_and_decimals_the_plan_stored_as_text():
    """A rejected row's values come from the stored plan (JSON): the dates and decimals the
    reader understood are cells of their type again; refused text stays as it was typed."""
    from pars_app.io.error_file import ErrorRow, write_error_rows

    values = {
        "provider_activity_id": "E-1",
        "start_date": "2025-03-01",
        "end_date": "31/31/2025",
        "credits": "12.25",
        "moc": [{"number": 1, "board": "ABIM", "points": "10.5"}],
        "title": "2025-03-01",
    }
    data = write_error_rows([ErrorRow(7, "End Date: 31/31/2025 is not a real date.", values)])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    header, row = list(sheet.iter_rows(values_only=True))
    got = dict(zip(header, row, strict=True))
    assert got["Start Date"] == datetime(2025, 3, 1)
    assert got["End Date"] == "31/31/2025"
    assert got["AMA PRA Category 1 Credits"] == 12.25
    assert got["MOC 1 Points"] == 10.5
    assert got["Activity Title"] == "2025-03-01"  # a text column keeps its text
    assert (got["Row in your file"], got["Errors"]) == (
        7,
        "End Date: 31/31/2025 is not a real date.",
    )


def test_unsaved_formulas_in_a_workbook_whose_sheets_cannot_be_told_apart_are_refused():
    # No workbook part to say which sheet is which: whichever sheet has them, the file is
    # refused, and the message does not pin the cell on the sheet that was read.
    from pars_app.io.xlsx import _refuse_unsaved_formulas

    found = {"xl/worksheets/sheet2.xml": ("D9", 3)}
    with pytest.raises(UnreadableFile, match=r"Cell D9 of a sheet of the workbook \(and 2 more"):
        _refuse_unsaved_formulas(b"PK not a workbook", "Activities", found)

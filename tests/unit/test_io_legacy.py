"""ACCME's legacy Template C and D (spec §10), as .txt and pasted into .xlsx, by column position."""

from __future__ import annotations

import io
from datetime import date

import pytest

from pars_app.io import read_file

from .test_io_fixtures import xlsx_bytes

C_WIDTH = 58
C_ONLY = {16, 17, 18, 19, 20, 21, 22, 23, 40, 41, 42}  # spec §10: absent from Template D

# A full Template C line by spec §10 position (1-based), two commercial supporters after it.
SAMPLE_C: dict[int, str] = {
    1: "Template C",
    2: "12345",
    3: "PA-1",
    4: "2014",
    5: "Pediatric asthma update",
    6: "03/15/2014",
    7: "Chicago",
    8: "IL",
    9: "USA",
    10: "Joint",
    11: "C",
    12: "3",
    13: "25",
    14: "4",
    15: "Yes",
    16: "2",
    17: "5000",
    18: "Yes",
    19: "No",
    20: "No",
    21: "No",
    22: "No",
    23: "",
    24: "Yes",
    25: "No",
    26: "No",
    27: "No",
    28: "No",
    29: "Yes",
    30: "Yes",
    31: "Yes",
    32: "No",
    33: "No",
    34: "No",
    35: "No",
    36: "No",
    37: "Lakeside Society; North Clinic",
    38: "",
    39: "Asthma guidelines for pediatricians.",
    40: "100",
    41: "200",
    42: "300",
    43: "Yes",
    44: "Yes",
    45: "No",
    46: "No",
    47: "No",
    48: "No",
    49: "Yes",
    50: "No",
    51: "No",
    52: "No",
    53: "No",
    54: "No",
    55: "No",
    56: "No",
    57: "Yes",
    58: "Leadership",
    # supporter 1: name, amount, six in-kind flags
    59: "Acme Pharma",
    60: "5000",
    61: "No",
    62: "No",
    63: "No",
    64: "No",
    65: "No",
    66: "",
    # supporter 2: in-kind, durable equipment plus an "other" description
    67: "Scope Co",
    68: "",
    69: "Yes",
    70: "No",
    71: "No",
    72: "No",
    73: "No",
    74: "Loaned microscopes",
}

EXPECTED_VALUES = {
    "accme_activity_id": "12345",
    "provider_activity_id": "PA-1",
    "title": "Pediatric asthma update",
    "start_date": "03/15/2014",
    "end_date": date(2014, 3, 15),
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "providership": "Joint",
    "format": "C",
    "credits": "3",  # hours, since the credits column is blank
    "physician_learners": "25",
    "other_learners": "4",
    "commercial_support": "Yes",
    "outcome_competence": True,
    "outcome_performance": False,
    "outcome_patient_health": True,
    "joint_providers": ["Lakeside Society", "North Clinic"],
    "description": "Asthma guidelines for pediatricians.",
    "supporters": [
        {
            "number": 1,
            "name": "Acme Pharma",
            "kind": "monetary",
            "amount": "5000",
            "nature": None,
            "other": None,
        },
        {
            "number": 2,
            "name": "Scope Co",
            "kind": "in_kind",
            "amount": None,
            "nature": "durable_equipment",
            "other": None,
        },
        {
            "number": 2,
            "name": "Scope Co",
            "kind": "in_kind",
            "amount": None,
            "nature": "other",
            "other": "Loaned microscopes",
        },
    ],
}

EXPECTED_LEGACY_D = {
    "reporting_year": "2014",
    "hours_of_instruction": "3",
    "subcategory_case_based_discussion": "Yes",
    "subcategory_lecture": "Yes",
    "subcategory_panel": "No",
    "subcategory_simulation": "No",
    "subcategory_skill_based_training": "No",
    "subcategory_small_group_discussion": "No",
    "subcategory_other": "No",
    "abms_patient_care": "Yes",
    "abms_medical_knowledge": "Yes",
    "abms_practice_based_learning": "No",
    "abms_interpersonal_communication": "No",
    "abms_professionalism": "No",
    "abms_systems_based_practice": "No",
    "iom_patient_centered_care": "Yes",
    "iom_interdisciplinary_teams": "No",
    "iom_evidence_based_practice": "No",
    "iom_quality_improvement": "No",
    "iom_informatics": "No",
    "ipec_values_ethics": "No",
    "ipec_roles_responsibilities": "No",
    "ipec_interprofessional_communication": "No",
    "ipec_teams_teamwork": "Yes",
    "other_competencies": "Leadership",
}
EXPECTED_LEGACY_C = {
    **EXPECTED_LEGACY_D,
    "commercial_supporters": "2",
    "total_monetary_support": "5000",
    "in_kind_durable_equipment": "Yes",
    "in_kind_facilities": "No",
    "in_kind_disposable_supplies": "No",
    "in_kind_animal_parts": "No",
    "in_kind_human_parts": "No",
    "advertising_exhibit_income": "100",
    "other_income": "200",
    "expenses": "300",
}


def c_cells(changes: dict[int, str] | None = None, supporters: int = 2) -> list[str]:
    """A Template C line as a list of cells, positions per spec §10."""
    sample = {**SAMPLE_C, **(changes or {})}
    width = C_WIDTH + 8 * supporters
    return [sample.get(pos, "") for pos in range(1, width + 1)]


def d_cells(changes: dict[int, str] | None = None, supporters: int = 2) -> list[str]:
    """The same line in Template D: Template C without columns 16-23 and 40-42 (spec §10)."""
    cells = [v for pos, v in enumerate(c_cells(changes, supporters), 1) if pos not in C_ONLY]
    cells[0] = "Template D" if cells[0] == "Template C" else cells[0]
    return cells


def txt(*lines: list[str]) -> bytes:
    return ("\r\n".join("\t".join(cells) for cells in lines) + "\r\n").encode()


def _one(name: str, data: bytes):
    result = read_file(name, data)
    assert result.kind == "legacy"
    (row,) = result.rows
    return row


# --- Template C and D by position -------------------------------------------------------------


def test_template_c_line_maps_every_column():
    row = _one("c.txt", txt(c_cells()))
    assert row.number == 1
    assert row.problems == ()
    legacy = row.values.pop("legacy_data")
    assert row.values == EXPECTED_VALUES
    assert legacy == {"template": "Template C", **EXPECTED_LEGACY_C}


def test_template_d_line_maps_the_same_fields_without_the_2014_only_columns():
    row = _one("d.txt", txt(d_cells()))
    legacy = row.values.pop("legacy_data")
    assert len(d_cells(supporters=0)) == 47
    assert row.values == EXPECTED_VALUES
    assert legacy == {"template": "Template D", **EXPECTED_LEGACY_D}


@pytest.mark.parametrize(("cells", "template"), [(c_cells, "C"), (d_cells, "D")])
def test_the_template_is_told_by_the_column_count_when_column_1_is_blank(cells, template):
    line = cells({1: ""}, supporters=1)
    row = _one("x.txt", txt(line))
    assert row.values["legacy_data"]["template"] == f"Template {template}"
    assert row.values["provider_activity_id"] == "PA-1"


def test_a_line_whose_template_cannot_be_told_is_reported_not_guessed():
    result = read_file("x.txt", txt(["", "12345", "PA-1"] + ["x"] * 47))
    (row,) = result.rows
    assert row.values == {}
    (problem,) = row.problems
    assert problem.column_header == "column 1 (Template)"
    assert "50 values" in problem.message and '"Template C"' in problem.message


def test_credits_win_over_hours_when_both_are_given():
    row = _one("c.txt", txt(c_cells({38: "1.5"})))
    assert row.values["credits"] == "1.5"
    assert row.values["legacy_data"]["hours_of_instruction"] == "3"


@pytest.mark.parametrize(
    ("code", "start", "fmt", "delivery", "end"),
    [
        ("EM", "03/15/2014", "EM", None, date(2015, 3, 14)),
        ("IEM", "03/15/2014", "EM", "internet", date(2015, 3, 14)),
        ("EM", "02/29/2024", "EM", None, date(2025, 2, 27)),
        ("IL", "03/15/2014", "C", "live_stream", date(2014, 3, 15)),
        ("RSS", "2014-03-15", "RSS", None, date(2014, 3, 15)),
    ],
)
def test_end_date_and_legacy_codes(code, start, fmt, delivery, end):
    row = _one("c.txt", txt(c_cells({11: code, 6: start})))
    assert row.values["format"] == fmt
    assert row.values.get("delivery") == delivery
    assert row.values["end_date"] == end


def test_an_unreadable_start_date_leaves_the_end_date_for_the_import_to_report():
    row = _one("c.txt", txt(c_cells({6: "sometime"})))
    assert row.values["start_date"] == "sometime"
    assert row.values["end_date"] is None


@pytest.mark.parametrize(
    ("designed", "evaluated", "expected"),
    [("Yes", "No", True), ("No", "Yes", True), ("N", "no", False), ("", "", None)],
)
def test_designed_or_evaluated_flags_become_the_outcome_measure(designed, evaluated, expected):
    row = _one("c.txt", txt(c_cells({26: designed, 27: evaluated})))
    assert row.values.get("outcome_performance") == expected


def test_a_flag_that_is_not_yes_or_no_is_a_row_problem():
    row = _one("c.txt", txt(c_cells({24: "Maybe", 69: "Sort of"})))
    assert [p.column_header for p in row.problems] == [
        "column 24 (Designed to change competence?)",
        "supporter 2 (columns 67-74)",
    ]
    assert row.problems[0].message == '"Maybe" is not Yes or No.'


def test_a_supporter_with_only_a_name_is_kept_for_the_import_to_report():
    changes = {59: "Mystery Corp", 60: "", 74: ""}
    row = _one("c.txt", txt(c_cells(changes, supporters=1)))
    assert row.values["supporters"] == [
        {
            "number": 1,
            "name": "Mystery Corp",
            "amount": None,
            "nature": None,
            "other": None,
            "kind": None,
        }
    ]


def test_a_zero_amount_is_not_monetary_support():
    row = _one("c.txt", txt(c_cells({60: "0.00"}, supporters=1)))
    assert row.values["supporters"] == [
        {
            "number": 1,
            "name": "Acme Pharma",
            "amount": None,
            "nature": None,
            "other": None,
            "kind": None,
        }
    ]


def test_no_supporter_columns_means_no_supporters_key():
    row = _one("c.txt", txt(c_cells(supporters=0)))
    assert "supporters" not in row.values


# --- Text details -------------------------------------------------------------------------------


def test_line_numbers_count_blank_lines_and_quoted_line_breaks():
    first = c_cells({5: '"Two\nlines"'})
    second = c_cells({3: "PA-2"})
    data = ("\t".join(first) + "\n\n" + "\t".join(second) + "\n").encode()
    rows = list(read_file("c.txt", data).rows)
    assert [r.number for r in rows] == [1, 4]
    assert rows[0].values["title"] == "Two\nlines"
    assert rows[1].values["provider_activity_id"] == "PA-2"


def test_a_header_row_above_legacy_text_is_skipped():
    header = ["Template", "ACCME Activity ID", "Provider Activity ID"] + ["x"] * 55
    rows = list(read_file("c.txt", txt(header, c_cells(), d_cells())).rows)
    assert [r.number for r in rows] == [2, 3]
    assert [r.values["legacy_data"]["template"] for r in rows] == ["Template C", "Template D"]


def test_legacy_labels_name_accmes_columns():
    result = read_file("c.txt", txt(c_cells()))
    assert result.column_label("start_date") == "Activity Date"
    assert result.column_label("end_date") == "Activity Date"
    assert result.column_label("format") == "Activity Type"
    assert result.column_label("supporters.2.amount") == "commercial supporter 2"


# --- Pasted into Excel --------------------------------------------------------------------------


def _typed_c_row() -> list[object]:
    cells: list[object] = list(c_cells())
    cells[5] = date(2014, 3, 15)  # Excel turns the text into a real date
    cells[12] = 25  # and the counts into numbers
    cells[1] = 12345
    return [c if c != "" else None for c in cells]


@pytest.mark.parametrize("with_header", [False, True])
def test_template_c_pasted_into_xlsx(with_header):
    header = ["Template", "ACCME Activity ID", "Provider Activity ID", "Reporting Year"]
    rows = [header, _typed_c_row()] if with_header else [_typed_c_row()]
    result = read_file("legacy.xlsx", xlsx_bytes(rows, title="Sheet1"))
    assert result.kind == "legacy"
    (row,) = result.rows
    assert row.number == (2 if with_header else 1)
    assert row.values["start_date"] == date(2014, 3, 15)
    assert row.values["end_date"] == date(2014, 3, 15)
    assert row.values["physician_learners"] == 25
    assert row.values["accme_activity_id"] == "12345"
    assert row.values["outcome_patient_health"] is True
    assert len(row.values["supporters"]) == 3


def test_template_d_pasted_into_xlsx_without_the_template_column_filled():
    cells: list[object] = [c or None for c in d_cells({1: ""}, supporters=1)]
    cells[-1] = "trailing"  # keeps the used width at 47 + 8 even with column 1 blank
    result = read_file("legacy.xlsx", xlsx_bytes([cells, cells], title="Sheet1"))
    assert result.kind == "legacy"
    rows = list(result.rows)
    assert [r.values["legacy_data"]["template"] for r in rows] == ["Template D"] * 2
    assert rows[0].values["supporters"][-1]["other"] == "trailing"


def test_legacy_rows_in_xlsx_keep_excels_row_numbers_and_their_own_template():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for pos, value in enumerate(_typed_c_row(), start=1):
        ws.cell(row=2, column=pos, value=value)
    ws.cell(row=4, column=1, value="Template D")
    for pos, value in enumerate(d_cells()[1:], start=2):
        ws.cell(row=4, column=pos, value=value or None)
    out = io.BytesIO()
    wb.save(out)
    rows = list(read_file("legacy.xlsx", out.getvalue()).rows)
    assert [r.number for r in rows] == [2, 4]
    assert [r.values["provider_activity_id"] for r in rows] == ["PA-1", "PA-1"]

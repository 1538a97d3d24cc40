"""The column list, enumerated values and text files in the template and count layouts."""

from __future__ import annotations

import pytest

from pars_app.domain.codes import IN_KIND_NATURES, MOC_BOARDS
from pars_app.io import COLUMNS, COUNT_COLUMNS, UnreadableFile, choice_key, read_file
from pars_app.io.fields import fold, looks_like_counts, split_names


@pytest.mark.parametrize(
    ("name", "raw", "key"),
    [
        ("format", "Course", "C"),
        ("format", " rss ", "RSS"),
        ("format", "journal-based cme", "JN"),
        ("format", "IEM", "EM"),
        ("delivery", "Live-streamed", "live_stream"),
        ("delivery", "live_stream", "live_stream"),
        ("delivery", "print or other media", "print"),
        ("country", "usa", "USA"),
        ("country", "United States", "USA"),
        ("state", "il", "IL"),
        ("state", "Illinois", "IL"),
        ("providership", "Joint", "joint"),
        ("providership", "Jointly provided", "joint"),
        ("passport_registration", "Open to all", "open"),
        ("kind", "In-kind", "in_kind"),
        ("kind", "in kind", "in_kind"),
        ("nature", "Disposable supplies (non-biological)", "disposable_supplies"),
        ("nature", "facilities/space", "facilities"),
        ("board", "abpath", "ABPath"),
    ],
)
def test_choice_key_reads_keys_labels_and_common_spellings(name, raw, key):
    assert choice_key(name, raw) == key


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_choice_key_of_a_blank_is_none(raw):
    assert choice_key("delivery", raw) is None


def test_choice_key_refuses_what_is_not_in_the_list():
    with pytest.raises(ValueError, match='"Webcast" is not one of the choices'):
        choice_key("delivery", "Webcast")
    with pytest.raises(ValueError, match="not an activity format"):
        choice_key("format", "Lecture")


def test_every_dropdown_value_maps_back_to_a_key():
    for col in COLUMNS:
        if col.choice:
            for value in col.dropdown():
                assert choice_key(col.choice, value) is not None, (col.header, value)


def test_split_names_takes_semicolons_and_line_breaks():
    assert split_names(" A ; B;;\nC\r\n") == ["A", "B", "C"]
    assert split_names(None) == []


def test_headers_fold_to_one_form():
    assert fold("AMA PRA Category 1 Credits™") == "ama pra category 1 credits"
    assert fold(" Supporter 2 - In-kind   Nature ") == "supporter 2 in kind nature"


def test_column_keys_and_headers_are_unique():
    assert len({c.key for c in COLUMNS}) == len(COLUMNS)
    assert len({fold(c.header) for c in COLUMNS}) == len(COLUMNS)


def test_allowed_values_are_spelled_out():
    by_header = {c.header: c for c in COLUMNS}
    assert "Codes (C, RSS, EM, ...) work too" in by_header["Format"].allowed()
    assert all(b in by_header["MOC 1 Board"].allowed() for b in MOC_BOARDS)
    nature = by_header["Supporter 1 In-kind Nature"].allowed()
    assert all(label in nature for label in IN_KIND_NATURES.values())
    assert "mm/dd/yyyy" in by_header["Start Date"].allowed()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"provider activity id", "physician learners", "other learners"}, True),
        ({"provider activity id", "as of december 31"}, True),
        ({"provider activity id", "activity title", "other learners"}, True),
        ({"provider activity id", "format", "physician learners"}, False),
        ({"physician learners", "other learners"}, False),
    ],
)
def test_a_counts_header_is_told_from_an_activity_header(headers, expected):
    assert looks_like_counts(headers) is expected


# --- Text files in the header layouts ----------------------------------------------------------


def test_a_tab_delimited_learner_count_file():
    text = "Provider Activity ID\tPhysician Learners\tOther Learners\tAs of December 31\r\n"
    text += "EM-1\t1,200\t30\t2025\r\n\r\nRSS-4\t1040\t0\t\r\n"
    result = read_file("counts.txt", text.encode())
    assert result.kind == "counts"
    assert [(r.number, r.values) for r in result.rows] == [
        (
            2,
            {
                "provider_activity_id": "EM-1",
                "physician_learners": "1,200",
                "other_learners": "30",
                "counts_year": "2025",
            },
        ),
        (
            4,
            {
                "provider_activity_id": "RSS-4",
                "physician_learners": "1040",
                "other_learners": "0",
                "counts_year": None,
            },
        ),
    ]


def test_the_template_saved_as_tab_delimited_text_reads_as_the_template():
    headers = [c.header for c in COLUMNS]
    row = ["" for _ in headers]
    row[headers.index("Activity Title")] = "From text"
    row[headers.index("Joint Providers")] = "A; B"
    row[headers.index("Supporter 1 Name")] = "Acme"
    text = "\t".join(headers) + "\n" + "\t".join(row) + "\n"
    result = read_file("template.txt", text.encode())
    assert result.kind == "xlsx"
    (read,) = result.rows
    assert read.values["title"] == "From text"
    assert read.values["joint_providers"] == ["A", "B"]
    assert read.values["supporters"][0]["name"] == "Acme"
    assert read.values["moc"] == []


def test_a_text_header_with_unknown_columns_is_refused_like_a_sheet():
    text = "Activity Title\tFormat\tStart Date\tEnd Date\tColour\n"
    with pytest.raises(UnreadableFile, match='"Colour" \\(column E\\)'):
        read_file("template.txt", text.encode())


def test_count_columns_are_short_and_keyed_for_the_import():
    assert [c.key for c in COUNT_COLUMNS] == [
        "provider_activity_id",
        "title",
        "physician_learners",
        "other_learners",
        "counts_year",
    ]

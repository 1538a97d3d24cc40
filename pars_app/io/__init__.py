"""Batch file formats (spec §9-§11): bytes in, plain rows out, and back. No Flask, no database.

Reading
-------
`read_file(name, data, limits=DEFAULT_LIMITS) -> ReadResult` checks the file first (size,
empty, zip bombs, macros, encrypted or old .xls workbooks, DOCTYPEs, absurd sheets: see
`safety`), tells its kind from the extension and the content, and returns what is below.
`data` is the file's bytes, or an `Upload` (read, seek, tell: `sqlite3.Blob`, `io.BytesIO`)
to read in place; XML is parsed straight from it, the other kinds read it whole, and the file
is not read again once `read_file` has returned. It returns:

- `kind`: "xlsx" (the app's own activity template, also as tab-delimited text), "legacy"
  (ACCME Template C/D, .txt or pasted into .xlsx, with or without a header row), "xml"
  (activities per `activities.xsd`, validated before any row is given out), or "counts"
  (the learner-count template, as .xlsx, text or XML);
- `rows`: a lazy iterator of `RawRow(number, values, problems)`;
- `total_hint` (rows expected, for progress bars), `encoding` of a text file ("UTF-8",
  "UTF-16", "Windows-1252"), `notes` for the user, and `column_label(path)`, the column (or
  XML element) a value came from in the file's own words, for error messages.

A refused file raises `UnsafeFile` or `UnreadableFile` (both `FileRefused`), whose `message`
is written for a coordinator and whose `errors` list `LineError(line, message)` where the
file has several (unknown headers, XSD errors with their line numbers). Iterating `rows` may
still raise `UnreadableFile` for damage found late (a text file's broken quoting): treat the
iteration as part of reading.

The row contract
----------------
`RawRow.number` is the row number the file itself shows: Excel's row number, a text file's
line number, an XML element's line. Blank rows are left out. `RawRow.problems` holds
structural trouble with that row (a legacy line whose template cannot be told, a legacy flag
that is not Yes/No) as `RowProblem(column_header, message)`.

`RawRow.values` has a key only for what the file carries (a column present, an XML element
present), so a missing column means "leave as is"; a present but blank cell is None.
Keys are `fields.Column.key`, the ActivityInput attribute names:

    provider_activity_id, accme_activity_id, title, format, delivery, start_date, end_date,
    venue, city, state, country, credits, description, providership, passport_listed,
    passport_fee, passport_registration, passport_url, commercial_support,
    outcome_competence, outcome_performance, outcome_patient_health,
    outcome_community_health, physician_learners, other_learners
    close                   the "Close Activity" column (Yes/No)
    joint_providers         list[str] (one cell, split on ";" and line breaks)
    supporters              list[dict]: number (group, 1-based), name, kind, amount, nature,
                            other; blank groups left out
    moc                     list[dict]: number, board, credit_types: list[str], points,
                            practice_areas: list[str]
    legacy_data             dict (legacy only): reporting year, hours, sub-categories,
                            competencies, income columns, all JSON-safe, to keep read-only
    counts_year             (counts only) the "As of December 31" year; counts rows carry
                            provider_activity_id, title (reference only), physician_learners,
                            other_learners, counts_year

Values are raw: str, int, float, date/datetime, bool or None. Text and ID columns are always
str (Excel's 12345 becomes "12345"); whole-number floats become int; text is stripped.
Nothing is parsed further here — the import parses each value with `pars_app.domain.values`
(parse_yes_no, parse_date incl. Excel serials, parse_money_cents, parse_credits,
parse_count), and enumerated values (shown as labels in the template, codes in XML and
legacy files) with `fields.choice_key(name, raw)`, name being the value key or, in a group,
the field ("kind", "nature", "board"). Legacy format codes IL/IEM are already turned into
format C/EM with the implied delivery ("live_stream"/"internet") when none is given.

Writing
-------
`xlsx.build_template()`, `xlsx.build_counts_template(rows=())`, `xlsx.write_activities(rows)`
and `xml_io.write_activities_xml(rows)` take records shaped like the values above but typed
as stored: codes and keys for enumerations (format "C", delivery "in_person", providership
"direct", supporter kind "in_kind", nature "facilities"), date, Decimal credits and points,
int learners, bool flags and `close`, supporters with `amount_cents` (int) or `amount`,
lists for joint providers, credit types and practice areas. Exports write the template's
layout (more supporter/MOC groups when a record needs them), so export -> import returns the
same values; text starting with = + - @ can never become a formula.
"""

from __future__ import annotations

from .fields import COLUMNS, COUNT_COLUMNS, Column, choice_key
from .reader import read_file
from .rows import (
    DEFAULT_LIMITS,
    FileRefused,
    Limits,
    LineError,
    RawRow,
    ReadResult,
    RowProblem,
    UnreadableFile,
    UnsafeFile,
    Upload,
)
from .xlsx import build_counts_template, build_template, write_activities
from .xml_io import XSD_PATH, write_activities_xml

__all__ = [
    "COLUMNS",
    "COUNT_COLUMNS",
    "DEFAULT_LIMITS",
    "XSD_PATH",
    "Column",
    "FileRefused",
    "Limits",
    "LineError",
    "RawRow",
    "ReadResult",
    "RowProblem",
    "UnreadableFile",
    "UnsafeFile",
    "Upload",
    "build_counts_template",
    "build_template",
    "choice_key",
    "read_file",
    "write_activities",
    "write_activities_xml",
]

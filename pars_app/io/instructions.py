"""The words of the templates' Instructions sheets, built from the column list itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .fields import (
    COUNT_COLUMNS,
    MAX_MOC_GROUPS,
    MAX_SUPPORTER_GROUPS,
    TEMPLATE_MOC,
    TEMPLATE_SUPPORTERS,
    Column,
)

Row = tuple[str, ...]

_ACTIVITY_INTRO: tuple[Row, ...] = (
    ("How to fill in this file",),
    (
        "One row per activity",
        "Fill in one row per activity on the Activities sheet, under the headings. Do not "
        "rename, reorder or delete headings you use; you may delete columns you never fill.",
    ),
    (
        "Provider Activity ID",
        "The key of each row. If an activity with that ID exists it is updated, otherwise a "
        "new activity is created. Use each ID once per file.",
    ),
    (
        "Blank cells",
        'A blank cell means "not given". Nothing is saved until you have seen a preview of '
        "every change and confirmed it.",
    ),
    ("Dates", "Excel dates, or text written mm/dd/yyyy or yyyy-mm-dd."),
    ("Yes/No columns", "Yes or No; Y/N and True/False are read too."),
    (
        "Close Activity",
        "Yes closes the activity after the row is applied, if everything needed to close it is "
        'filled in (see "Required" below). Otherwise the row is reported with what is missing '
        "and the activity stays open. Leave blank or No to keep it open.",
    ),
    (
        "Joint providers",
        "All names in one cell, separated by semicolons (;) or one per line.",
    ),
    (
        "Commercial supporters",
        f"Up to {TEMPLATE_SUPPORTERS} supporters, one group of columns each (Supporter 1 Name, "
        "Type, Amount, In-kind Nature, Other Nature). Monetary support has an amount; in-kind "
        "support has a nature and never an amount. A supporter who gave both is entered twice. "
        f'Need more? Add columns named like "Supporter {TEMPLATE_SUPPORTERS + 1} Name" (up '
        f"to {MAX_SUPPORTER_GROUPS}).",
    ),
    (
        "MOC",
        f"Up to {TEMPLATE_MOC} boards, one group of columns each (MOC 1 Board, Credit Types, "
        "Points, Practice Areas). Separate several credit types or practice areas with "
        f'semicolons. Add "MOC {TEMPLATE_MOC + 1} ..." columns for more boards (up to '
        f"{MAX_MOC_GROUPS}).",
    ),
    (
        "Dropdowns",
        "Choices come from the hidden Lists sheet (unhide it to see country and state names). "
        "Typing or pasting another value is allowed after a warning: codes such as C or RSS "
        "work for Format.",
    ),
    (),
)

_TABLE_HEADER: Row = ("Column", "What it is", "Required", "Allowed values / format")


def column_rows(columns: Sequence[Column]) -> Iterator[Row]:
    """One instructions row per column: header, meaning, required-when, allowed values."""
    yield _TABLE_HEADER
    for col in columns:
        yield (col.header, col.help, col.required or "Optional", col.allowed())


def activity_instructions(columns: Sequence[Column]) -> Iterator[Row]:
    """Every row of the activity template's Instructions sheet."""
    yield from _ACTIVITY_INTRO
    yield from column_rows(columns)


def count_instructions() -> Iterator[Row]:
    """Every row of the learner-count template's Instructions sheet."""
    yield ("How to fill in this file",)
    yield (
        "One row per activity",
        "Give the Provider Activity ID of each activity whose learners you report, with its "
        "physician and other learners. Nothing is saved until you confirm the preview.",
    )
    yield (
        "Enduring materials",
        "Report the cumulative totals since the material started, as of December 31 of the "
        "year in \"As of December 31\". Each year's totals are kept as that year's snapshot.",
    )
    yield ()
    yield from column_rows(COUNT_COLUMNS)

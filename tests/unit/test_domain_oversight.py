"""Pure rules of the accreditor console, and the safe .xlsx table writer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from io import BytesIO

import openpyxl
import pytest

from pars_app.domain.oversight import (
    clean_reason,
    deadline_problem,
    describe_details,
    reason_problem,
)
from pars_app.io.table_xlsx import safe_text, write_table


@pytest.mark.parametrize(
    ("due", "ok"),
    [
        (date(2026, 1, 1), True),
        (date(2026, 3, 13), True),
        (date(2026, 12, 31), True),
        (date(2025, 12, 31), False),  # before the report opens
        (date(2027, 3, 31), False),  # a year too late: a typo
    ],
)
def test_a_deadline_falls_in_the_year_after_the_reporting_year(due, ok):
    problem = deadline_problem(2025, due)
    assert (problem is None) is ok
    if problem:
        assert "Tuesday" not in problem and "March 31, 2026" in problem  # names the rule's date


def test_reasons_are_required_and_bounded():
    assert clean_reason("  two\n\tlines ") == "two lines"
    assert reason_problem("") and reason_problem("x" * 501)
    assert reason_problem("fine") is None


def test_details_read_as_before_and_after_lines():
    raw = json.dumps(
        {
            "before": {"deadline": "March 31", "source": "rule"},
            "after": {"deadline": "March 13", "source": "rule"},
            "year": 2025,
            "reason": None,
        }
    )
    assert describe_details(raw) == ["deadline: March 31 → March 13", "reason: —", "year: 2025"]
    assert describe_details(None) == []
    assert describe_details("not json") == ["not json"]
    assert describe_details("[1, 2]") == ["[1, 2]"]


@pytest.mark.parametrize("text", ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"])
def test_formula_like_text_is_neutralised(text):
    assert safe_text(text) == "'" + text


def test_write_table_round_trips_with_safe_cells_and_central_times():
    data = write_table(
        "Providers 2025",
        ["Name", "When", "Count"],
        [
            ['=HYPERLINK("http://x")', datetime(2026, 3, 14, 4, 59, tzinfo=UTC), 3],
            ["Plain", None, 0],
        ],
    )
    ws = openpyxl.load_workbook(BytesIO(data)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["Name", "When", "Count"]
    assert values[1] == ['\'=HYPERLINK("http://x")', datetime(2026, 3, 13, 23, 59), 3]
    assert values[2] == ["Plain", None, 0]
    assert ws.cell(2, 1).data_type == "s"  # text, not a formula
    assert ws.title == "Providers 2025" and ws.freeze_panes == "A2"

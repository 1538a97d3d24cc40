"""Checklist step 3 in a real browser: from the dashboard's link, enter December 31 counts inline
(Enter saves, focus moves down, Esc puts back) and see the step's count drop after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


def _enduring_left(live, year: int) -> int:
    _, checklist = live.checklist("DEMO", year)
    return next(s for s in checklist.steps if s.key == "enduring").left


def _year_with_missing_counts(page, live) -> tuple[int, int]:
    """A year on the dashboard's year list where DEMO still has counts to enter (not locked)."""
    years = page.locator("#year option").evaluate_all("opts => opts.map(o => Number(o.value))")
    for year in sorted(years, reverse=True):
        left = _enduring_left(live, year)
        if left:
            return year, left
    pytest.fail("the demo data should leave some December 31 counts to enter in some year")


def test_counts_entered_inline_from_the_checklist_link(demo_page, live, console):
    page = demo_page
    year, left = _year_with_missing_counts(page, live)
    page.goto(f"/?year={year}")
    step = page.locator("#step-enduring")
    expect(step.locator(".step__summary")).to_contain_text(f"{left} enduring material")

    step.locator("a.step__action").click()
    page.wait_for_url(re.compile(rf"/enduring/{year}\?missing=1$"))
    expect(page.locator("#missing-only")).to_be_checked()
    rows = page.locator("#enduring-table tbody tr[data-inline-edit]")
    expect(rows.first).to_be_visible()
    # A material that does not end this year: its count is not a closed activity's final total.
    row = page.locator("#enduring-table tbody tr[data-inline-edit]:not(.is-final)").first
    row_id = row.get_attribute("id")
    row = page.locator(f"#{row_id}")

    physicians = row.get_by_label(re.compile(r"^Physicians as of December 31"))
    physicians.click()
    physicians.fill("1,234")
    page.keyboard.press("Tab")
    page.keyboard.type("56")
    page.keyboard.press("Enter")

    expect(row.locator(".saved-note")).to_contain_text("Saved")
    expect(row.get_by_label(re.compile(r"^Physicians as of"))).to_have_value("1234")
    # The summary line re-counts itself after the save.
    expect(page.locator("#enduring-summary")).to_contain_text(f"{left - 1:,} of")
    # Spreadsheet-like: focus moved to the same field of the next row, if there is one.
    next_row = page.locator(f"#{row_id} ~ tr[data-inline-edit]").first
    if next_row.count():
        others = next_row.get_by_label(re.compile(r"^Other learners as of"))
        expect(others).to_be_focused()
        # Esc puts back what is stored (nothing yet) instead of what was typed.
        others.fill("999")
        page.keyboard.press("Escape")
        expect(next_row.get_by_label(re.compile(r"^Other learners as of"))).to_have_value("")

    page.goto(f"/?year={year}")
    summary = page.locator("#step-enduring .step__summary")
    if left - 1:
        expect(summary).to_contain_text(f"{left - 1} enduring material")
    else:
        expect(summary).not_to_contain_text("need a learner count")
    assert _enduring_left(live, year) == left - 1
    assert page.evaluate("window.__cspViolations") == []
    assert console.errors == []

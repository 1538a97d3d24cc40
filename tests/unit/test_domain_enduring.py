"""Pure rules of enduring materials' yearly counts and of continuing series."""

from __future__ import annotations

from datetime import date

import pytest

from pars_app.domain import enduring, series
from pars_app.domain.enduring import Counts


def test_available_in_a_year_means_any_day_of_it():
    assert enduring.available_in(date(2024, 6, 1), date(2025, 1, 1), 2025)
    assert enduring.available_in(date(2025, 12, 31), date(2027, 1, 1), 2025)
    assert not enduring.available_in(date(2023, 1, 1), date(2024, 12, 31), 2025)
    assert not enduring.available_in(date(2026, 1, 1), date(2027, 1, 1), 2025)


def test_counts_need_both_totals_as_whole_numbers():
    assert enduring.parse_counts("1,040", 0) == (Counts(1040, 0), {})
    counts, errors = enduring.parse_counts("", "2.5")
    assert counts is None
    assert errors == {
        "physicians": "Enter the cumulative total (0 if none).",
        "others": "Enter a whole number.",
    }


def test_the_increase_is_unknown_without_an_earlier_count_after_the_first_year():
    assert enduring.increase(Counts(100, 10), Counts(150, 9), False) == Counts(50, -1)
    assert enduring.increase(None, Counts(40, 4), True) == Counts(40, 4)
    assert enduring.increase(None, Counts(40, 4), False) is None
    assert enduring.increase(Counts(1, 1), None, False) is None


def test_a_lower_total_warns_for_each_count_that_went_down():
    assert enduring.decrease_warnings(Counts(100, 10), 2024, Counts(100, 10)) == []
    (only,) = enduring.decrease_warnings(Counts(100, 10), 2024, Counts(99, 11))
    assert only.startswith("Lower than the 100 physicians of December 31, 2024")
    assert len(enduring.decrease_warnings(Counts(1, 1), 2024, Counts(0, 0))) == 2
    assert enduring.decrease_warnings(None, None, Counts(0, 0)) == []


def test_a_future_year_cannot_be_counted_yet():
    today = date(2026, 2, 15)
    assert enduring.snapshot_year_problem(2026, today) is None
    assert "cannot be known yet" in enduring.snapshot_year_problem(2027, today)


def test_a_closed_materials_final_count_is_its_closed_total():
    assert enduring.closed_final_problem(Counts(5, 1), Counts(5, 1)) is None
    message = enduring.closed_final_problem(Counts(1, 1), Counts(5, 1))
    assert message.startswith("This material is closed with 1 physician and 1 other learner")


@pytest.mark.parametrize(
    ("fmt", "start", "end", "expected"),
    [
        # A calendar-year series: the next calendar year.
        ("RSS", date(2025, 1, 1), date(2025, 12, 31), (date(2026, 1, 1), date(2026, 12, 31))),
        # A leap year is one day longer than the next period may be.
        ("RSS", date(2024, 1, 1), date(2024, 12, 31), (date(2025, 1, 1), date(2025, 12, 31))),
        # A two-day course: the next two days.
        ("C", date(2025, 5, 1), date(2025, 5, 2), (date(2025, 5, 3), date(2025, 5, 4))),
        # Starting on February 29: as long as the format allows from there.
        ("RSS", date(2023, 3, 1), date(2024, 2, 28), (date(2024, 2, 29), date(2025, 2, 27))),
    ],
)
def test_the_next_period_starts_the_day_after_and_lasts_as_long(fmt, start, end, expected):
    assert series.next_period(fmt, start, end) == expected


def test_only_courses_and_series_are_copied():
    assert series.copy_refusal("C") is None and series.copy_refusal("RSS") is None
    assert "not a continuing series" in series.copy_refusal("EM")

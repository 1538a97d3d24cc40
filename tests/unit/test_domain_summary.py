"""Program Summary rules: money fields, the 12-month period, the prior-year swing, submission."""

# ruff: noqa: RUF001

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.summary import (
    FIELD_NAMES,
    parse_amounts,
    parse_start_month,
    period_choices,
    period_for,
    period_problem,
    submission_problems,
    swing,
)

# --- Money -------------------------------------------------------------------------------------


def test_money_is_read_the_way_coordinators_type_it():
    amounts, errors = parse_amounts(
        {
            "advertising_exhibit": "12,500",
            "registration_fees": "12500.00",
            "government_grants": "$12,500.50",
            "private_donations": "",
        }
    )
    assert errors == {}
    assert amounts == {
        "advertising_exhibit": 1_250_000,
        "registration_fees": 1_250_000,
        "government_grants": 1_250_050,
        "private_donations": None,  # blank is "not given", not zero
    }


def test_negative_and_nonsense_get_a_message_per_field():
    amounts, errors = parse_amounts(
        {
            "advertising_exhibit": "-5",
            "registration_fees": "twelve",
            "government_grants": "1.234",
            "private_donations": "0",
        }
    )
    assert errors == {
        "advertising_exhibit": "Enter 0 or more, not a negative number.",
        "registration_fees": "Enter an amount in dollars.",
        "government_grants": "Enter the amount in dollars and cents (at most 2 decimals).",
    }
    assert amounts == {"private_donations": 0}


# --- Period ------------------------------------------------------------------------------------


def test_calendar_year_is_january_first_month():
    p = period_for(2025, 1)
    assert (p.start, p.end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert p.is_calendar_year
    assert p.label == "January 1, 2025 – December 31, 2025"


def test_a_july_fiscal_year_is_the_most_recent_twelve_months_ending_in_the_year():
    p = period_for(2025, 7)
    assert (p.start, p.end) == (date(2024, 7, 1), date(2025, 6, 30))
    assert not p.is_calendar_year


def test_a_march_fiscal_year_ends_on_the_last_day_of_february_leap_or_not():
    assert period_for(2025, 3).end == date(2025, 2, 28)
    assert period_for(2024, 3).end == date(2024, 2, 29)


@pytest.mark.parametrize("year", [2023, 2024, 2025, 2100])
def test_every_choice_is_a_valid_period_of_the_year(year):
    choices = period_choices(year)
    assert [m for m, _ in choices] == list(range(1, 13))
    for _month, p in choices:
        assert period_problem(year, p.start, p.end) is None


def test_a_period_must_be_exactly_twelve_months():
    assert "exactly 12 months" in period_problem(2025, date(2025, 1, 1), date(2025, 11, 30))
    assert "exactly 12 months" in period_problem(2025, date(2024, 7, 1), date(2025, 7, 1))
    # Twelve months from mid-month is still twelve months.
    assert period_problem(2025, date(2024, 3, 15), date(2025, 3, 14)) is None


def test_a_period_must_end_in_the_reporting_year():
    # A valid 12 months, but the fiscal year ending in 2026 is not 2025's report.
    assert period_problem(2025, date(2025, 7, 1), date(2026, 6, 30)) == (
        "The period must end in 2025: the most recent 12 months available."
    )
    assert "must end in 2025" in period_problem(2025, date(2023, 7, 1), date(2024, 6, 30))


@pytest.mark.parametrize("raw", ["", None, "0", "13", "july", "٧", "1.5", "-1"])
def test_start_month_refuses_anything_but_1_to_12(raw):
    with pytest.raises(ValueError, match="12-month period"):
        parse_start_month(raw)
    with pytest.raises(ValueError):
        period_for(2025, 0)


def test_start_month_reads_form_text():
    assert parse_start_month(" 7 ") == 7


@given(year=st.integers(1951, 2100), month=st.integers(1, 12))
def test_period_for_is_always_twelve_months_ending_in_the_year(year, month):
    p = period_for(year, month)
    assert p.end.year == year
    assert period_problem(year, p.start, p.end) is None
    assert p.start.day == 1


# --- Swing against the prior year ------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "current", "warns"),
    [
        (100_000, 150_000, False),  # exactly +50 %: not over
        (100_000, 150_001, True),  # just over
        (100_000, 50_000, False),  # exactly -50 %
        (100_000, 49_999, True),
        (100_000, 0, True),  # everything gone
        (0, 0, False),  # nothing then, nothing now
        (0, 1, True),  # something from nothing is always worth a look
        (None, 500, False),  # no prior figure: nothing to compare
        (500, None, False),  # not typed yet
    ],
)
def test_swing_over_fifty_percent(previous, current, warns):
    assert (swing(previous, current) is not None) is warns


def test_swing_messages_say_which_way_and_how_much():
    assert swing(100_000, 175_000).message(2024) == (
        "Up 75% on $1,000.00 in 2024: check this figure."
    )
    assert swing(100_000, 0).message(2024) == "Down 100% on $1,000.00 in 2024: check this figure."
    s = swing(0, 2_500)
    assert s.percent is None  # no percentage of zero
    assert s.message(2024) == "Up from $0.00 in 2024: check this figure."


@given(previous=st.integers(0, 10**13), current=st.integers(0, 10**13))
def test_swing_agrees_with_the_percentage(previous, current):
    if previous == 0:
        over = current > 0
    else:
        over = Fraction(abs(current - previous), previous) > Fraction(1, 2)
    assert (swing(previous, current) is not None) == over


# --- Submission --------------------------------------------------------------------------------

ALL = dict.fromkeys(FIELD_NAMES, 0)


def test_a_complete_attested_summary_with_every_step_done_can_be_submitted():
    assert submission_problems(ALL, attested=True, open_steps=[], confirmed=False) == {}


def test_blank_figures_and_a_missing_attestation_are_named():
    amounts = {**ALL, "registration_fees": None}
    problems = submission_problems(amounts, attested=False, open_steps=[], confirmed=False)
    assert problems == {
        "registration_fees": "Enter the amount; enter 0 if there was none.",
        "attest": "Tick the box to attest that the year's data are complete.",
    }


def test_open_steps_need_a_second_tick():
    problems = submission_problems(ALL, True, ["Provider Agreement", "Activities"], False)
    assert problems == {
        "confirm": "2 other steps are not done: tick “Submit anyway” to go ahead.",
    }
    assert submission_problems(ALL, True, ["Activities"], True) == {}
    assert (
        "1 other step is not done"
        in submission_problems(ALL, True, ["Activities"], False)["confirm"]
    )

"""Deadlines in Central time: the weekend rule, the 11:59 p.m. minute, days left."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.deadlines import (
    CENTRAL,
    central_date,
    cycle_opens_at,
    days_left,
    deadline_from_local,
    default_deadline,
    default_reporting_year,
    format_deadline,
    is_late,
)


def central(*args) -> datetime:
    return datetime(*args, tzinfo=CENTRAL)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the default rule -----------------------------------------------------------------------


def test_default_deadline_is_march_31_at_1159_pm_central_daylight_time():
    deadline = default_deadline(2025)
    assert deadline == central(2026, 3, 31, 23, 59)
    assert deadline.utcoffset() == timedelta(hours=-5)  # CDT
    assert deadline == utc(2026, 4, 1, 4, 59)


def test_sunday_march_31_moves_to_monday():
    # The spec's own example: year 2023 -> Monday April 1, 2024.
    assert default_deadline(2023) == central(2024, 4, 1, 23, 59)
    assert default_deadline(2023).weekday() == 0


def test_saturday_march_31_moves_to_monday():
    assert date(2029, 3, 31).weekday() == 5
    assert default_deadline(2028) == central(2029, 4, 2, 23, 59)


def test_weekday_march_31_stays():
    assert default_deadline(2024) == central(2025, 3, 31, 23, 59)  # a Monday
    assert default_deadline(2022) == central(2023, 3, 31, 23, 59)  # a Friday


@given(st.integers(min_value=1950, max_value=2100))
def test_default_deadline_never_falls_on_a_weekend(year):
    deadline = default_deadline(year)
    assert deadline.weekday() < 5
    assert date(year + 1, 3, 31) <= deadline.date() <= date(year + 1, 4, 2)
    assert (deadline.hour, deadline.minute) == (23, 59)


def test_override_date_is_1159_pm_central_that_day():
    # California Medical Association's earlier date for 2024, still in CDT.
    assert deadline_from_local(date(2025, 3, 14)) == central(2025, 3, 14, 23, 59)
    assert deadline_from_local(date(2025, 3, 14)).utcoffset() == timedelta(hours=-5)
    # A February override falls in standard time.
    assert deadline_from_local(date(2025, 2, 14)).utcoffset() == timedelta(hours=-6)


# --- lateness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline", "now", "late"),
    [
        # CDT (default deadline for 2025)
        (default_deadline(2025), central(2026, 3, 31, 23, 58, 59), False),
        (default_deadline(2025), central(2026, 3, 31, 23, 59, 0), False),
        (default_deadline(2025), central(2026, 3, 31, 23, 59, 59, 999_999), False),
        (default_deadline(2025), central(2026, 4, 1, 0, 0, 0), True),
        (default_deadline(2025), utc(2026, 4, 1, 4, 59, 59), False),
        (default_deadline(2025), utc(2026, 4, 1, 5, 0, 0), True),
        # CST (an accreditor's February override)
        (deadline_from_local(date(2025, 2, 14)), central(2025, 2, 14, 23, 59, 59), False),
        (deadline_from_local(date(2025, 2, 14)), central(2025, 2, 15, 0, 0, 0), True),
        (deadline_from_local(date(2025, 2, 14)), utc(2025, 2, 15, 5, 59, 59), False),
        (deadline_from_local(date(2025, 2, 14)), utc(2025, 2, 15, 6, 0, 0), True),
        # well before / long after
        (default_deadline(2025), central(2026, 1, 5, 9, 0), False),
        (default_deadline(2025), central(2026, 6, 1, 9, 0), True),
    ],
)
def test_is_late_counts_the_whole_1159_minute_as_on_time(deadline, now, late):
    assert is_late(deadline, now) is late


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        is_late(default_deadline(2025), datetime(2026, 4, 1, 0, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        days_left(default_deadline(2025), datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        default_reporting_year(datetime(2026, 3, 1), default_deadline)


# --- days left ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "left"),
    [
        (central(2026, 3, 1, 12, 0), 30),
        (central(2026, 3, 30, 23, 59, 59), 1),
        (central(2026, 3, 31, 0, 0), 0),
        (central(2026, 3, 31, 23, 59, 59), 0),
        (central(2026, 4, 1, 0, 0), -1),
        (central(2026, 4, 10, 8, 0), -10),
        # 03:00 UTC on March 31 is still March 30 in Chicago.
        (utc(2026, 3, 31, 3, 0), 1),
        (utc(2026, 3, 31, 5, 0), 0),
    ],
)
def test_days_left_counts_central_calendar_days(now, left):
    assert days_left(default_deadline(2025), now) == left


def test_days_left_across_the_dst_change():
    # March 8, 2026 is 23 hours long in Chicago; still one calendar day.
    deadline = deadline_from_local(date(2026, 3, 9))
    assert days_left(deadline, central(2026, 3, 7, 23, 30)) == 2


def test_central_date():
    assert central_date(utc(2026, 1, 1, 3, 0)) == date(2025, 12, 31)


# --- the cycle ------------------------------------------------------------------------------


def test_cycle_opens_january_1_at_midnight_central():
    opens = cycle_opens_at(2025)
    assert opens == central(2026, 1, 1, 0, 0)
    assert opens == utc(2026, 1, 1, 6, 0)


def test_reporting_year_is_last_year_until_its_deadline_passes():
    deadline = default_deadline(2025)
    assert default_reporting_year(central(2026, 1, 1, 0, 0), default_deadline) == 2025
    assert default_reporting_year(deadline, default_deadline) == 2025
    assert default_reporting_year(deadline + timedelta(seconds=59.9), default_deadline) == 2025
    assert default_reporting_year(deadline + timedelta(minutes=1), default_deadline) == 2026
    assert default_reporting_year(central(2026, 12, 31, 23, 59), default_deadline) == 2026


def test_reporting_year_follows_an_accreditors_earlier_deadline():
    def cma(year: int) -> datetime:
        return deadline_from_local(date(year + 1, 3, 14))

    assert default_reporting_year(central(2025, 3, 14, 23, 59, 59), cma) == 2024
    assert default_reporting_year(central(2025, 3, 15, 0, 0), cma) == 2025
    assert default_reporting_year(central(2025, 3, 15, 0, 0), default_deadline) == 2024


def test_format_deadline():
    assert format_deadline(default_deadline(2025)) == (
        "Tuesday, March 31, 2026, 11:59 p.m. Central"
    )
    assert (
        format_deadline(utc(2025, 2, 14, 18, 5)) == "Friday, February 14, 2025, 12:05 p.m. Central"
    )
    assert format_deadline(central(2025, 2, 14, 0, 30)) == (
        "Friday, February 14, 2025, 12:30 a.m. Central"
    )

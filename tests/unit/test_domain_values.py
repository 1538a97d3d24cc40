"""Single-value parsing shared by forms and batch imports."""

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.values import (
    MAX_MONEY_CENTS,
    format_money,
    parse_count,
    parse_credits,
    parse_date,
    parse_money_cents,
    parse_yes_no,
)

BLANKS = [None, "", "   ", "\t"]


@pytest.mark.parametrize(
    "parser", [parse_yes_no, parse_date, parse_money_cents, parse_credits, parse_count]
)
@pytest.mark.parametrize("blank", BLANKS)
def test_blank_means_not_given(parser, blank):
    assert parser(blank) is None


# --- yes/no ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["Yes", "YES", "yes", " y ", "Y", "True", "TRUE", "true", "1", True, 1, 1.0]
)
def test_yes_values(raw):
    assert parse_yes_no(raw) is True


@pytest.mark.parametrize("raw", ["No", "no", "N", "n", "False", "FALSE", "0", False, 0, 0.0])
def test_no_values(raw):
    assert parse_yes_no(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "yess", "2", 2, "oui", "-"])
def test_yes_no_refuses_anything_else(raw):
    with pytest.raises(ValueError, match=re.escape("Enter Yes or No.")):
        parse_yes_no(raw)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03/31/2025", date(2025, 3, 31)),
        ("3/1/2025", date(2025, 3, 1)),
        (" 12/5/2025 ", date(2025, 12, 5)),
        ("2025-01-01", date(2025, 1, 1)),
        ("2025-1-9", date(2025, 1, 9)),
        ("2025-01-01 00:00:00", date(2025, 1, 1)),
        ("2025-01-01T00:00", date(2025, 1, 1)),
        (date(2024, 2, 29), date(2024, 2, 29)),
        (datetime(2025, 6, 1, 14, 30), date(2025, 6, 1)),
        (45658, date(2025, 1, 1)),
        (45658.0, date(2025, 1, 1)),
        (45658.75, date(2025, 1, 1)),  # a date-time serial: the day is kept
        (Decimal(45717), date(2025, 3, 1)),
        (18264, date(1950, 1, 1)),
    ],
)
def test_parse_date_accepts(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("31/03/2025", "not a real date"),
        ("02/30/2025", "not a real date"),
        ("2025-13-01", "not a real date"),
        ("03/31/25", "mm/dd/yyyy"),
        ("March 31, 2025", "mm/dd/yyyy"),
        ("2025-01-01 12:30:00", "mm/dd/yyyy"),
        ("45658", "mm/dd/yyyy"),
        ("soon", "mm/dd/yyyy"),
        (True, "mm/dd/yyyy"),
        (0, "mm/dd/yyyy"),
        (-5, "mm/dd/yyyy"),
        (float("nan"), "mm/dd/yyyy"),
        (float("inf"), "mm/dd/yyyy"),
        ("12/31/1949", "between 1950 and 2100"),
        ("01/01/2101", "between 1950 and 2100"),
        (date(1900, 1, 1), "between 1950 and 2100"),
        (100, "between 1950 and 2100"),  # serial 100 is April 1900
    ],
)
def test_parse_date_refuses(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_date(raw)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)))
def test_excel_serials_round_trip(d):
    serial = (d - date(1899, 12, 30)).days
    assert parse_date(serial) == d
    assert parse_date(f"{d.month}/{d.day}/{d.year}") == d
    assert parse_date(d.isoformat()) == d


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("12,500", 1_250_000),
        ("12500.00", 1_250_000),
        ("$12,500.5", 1_250_050),
        ("$ 1,234,567.89", 123_456_789),
        ("0", 0),
        (".5", 50),
        ("12500.", 1_250_000),
        (12500, 1_250_000),
        (12500.5, 1_250_050),
        (0.1 + 0.2, 30),  # spreadsheet float noise is the cent the user sees
        (Decimal("99.99"), 9_999),
        ("100,000,000,000", MAX_MONEY_CENTS),
    ],
)
def test_parse_money_cents_accepts(raw, cents):
    assert parse_money_cents(raw) == cents


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-5", "negative"),
        ("$-5", "negative"),
        ("(5.00)", "negative"),
        (-0.01, "negative"),
        (Decimal("-1"), "negative"),
        ("1.234", "at most 2 decimals"),
        (12.345, "at most 2 decimals"),
        ("100,000,000,000.01", "too large"),
        (10**12, "too large"),
        ("12$5", "Enter an amount in dollars."),
        ("1,2,3", "Enter an amount in dollars."),
        ("12,50", "Enter an amount in dollars."),
        ("twelve", "Enter an amount in dollars."),
        ("1e5", "Enter an amount in dollars."),
        (".", "Enter an amount in dollars."),
        ("$", "Enter an amount in dollars."),
        (True, "Enter an amount in dollars."),
        (float("nan"), "Enter an amount in dollars."),
        (Decimal("NaN"), "Enter an amount in dollars."),
    ],
)
def test_parse_money_cents_refuses(raw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_money_cents(raw)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (1_250_000, "12,500.00"), (123_456_789, "1,234,567.89")],
)
def test_format_money(cents, text):
    assert format_money(cents) == text


@given(st.integers(min_value=0, max_value=MAX_MONEY_CENTS))
def test_money_round_trips_through_format(cents):
    assert parse_money_cents(format_money(cents)) == cents
    assert parse_money_cents("$" + format_money(cents)) == cents


# --- credits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.5", Decimal("1.50")),
        ("0", Decimal("0.00")),
        ("0.25", Decimal("0.25")),
        (2, Decimal("2.00")),
        (1.75, Decimal("1.75")),
        (Decimal("52"), Decimal("52.00")),
        ("9999.99", Decimal("9999.99")),
    ],
)
def test_parse_credits_accepts(raw, expected):
    parsed = parse_credits(raw)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2  # stored as two places, like the column


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1.255", "at most 2 decimals"),
        ("-1", "negative"),
        ("10000", "at most 9,999.99"),
        ("1,5", "number such as 1.5"),
        ("one", "number such as 1.5"),
        (True, "number such as 1.5"),
    ],
)
def test_parse_credits_refuses(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_credits(raw)


# --- counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,040", 1040),
        ("0", 0),
        (12.0, 12),
        ("12.00", 12),
        (Decimal("7"), 7),
        (10**9, 10**9),
        ("1,000,000,000", 10**9),
    ],
)
def test_parse_count_accepts(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (1.5, "whole number"),
        ("1.5", "whole number"),
        (-1, "negative"),
        ("-3", "negative"),
        (10**9 + 1, "too large"),
        ("lots", "whole number"),
        (False, "whole number"),
    ],
)
def test_parse_count_refuses(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_count(raw)

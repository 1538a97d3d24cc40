"""Parsing of single values, shared by web forms and batch imports.

Every parser returns None for a blank cell ("not given", spec §9) and raises ValueError with a
short message a coordinator can act on for anything it cannot read.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

MIN_YEAR = 1950
MAX_YEAR = 2100
MAX_MONEY_CENTS = 10**13
MAX_CREDITS = Decimal("9999.99")
MAX_COUNT = 10**9

_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})

# Excel's 1900 date system counts from 1899-12-30 once past its fictitious 1900-02-29;
# every serial in our 1950-2100 window is past it.
_EXCEL_EPOCH = date(1899, 12, 30)

_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# ISO dates, also as some readers stringify date cells: "2025-01-01 00:00:00".
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?")
_NEGATIVE = re.compile(r"-.*|\(.*\)|\$\s*-.*")

# Spreadsheet arithmetic leaves floats like 1234.5600000000002; anything this close to a
# cent is the cent the user sees, anything further is a real third decimal.
_FLOAT_NOISE = Decimal("0.000001")


# Non-characters XML 1.0 cannot carry (the PARS XML export), beside the controls below.
_NON_CHARACTERS = frozenset("\ufffe\uffff")


def text_problem(text: str, multiline: bool = False) -> str | None:
    """Why `text` cannot be stored as typed (invisible control characters), else None.

    PostgreSQL refuses NUL, the PARS XML export and xlsx cells refuse the other controls, and
    none of them shows on screen: a pasted one is a mistake to point out, not to keep.
    Multi-line fields (descriptions, one-name-per-line lists) keep line breaks and tabs.
    """
    if text.isprintable():
        return None  # the usual case, in C: no control character (Cc) is printable
    allowed = "\n\r\t" if multiline else ""
    bad = {
        ch
        for ch in text
        if (unicodedata.category(ch) == "Cc" or ch in _NON_CHARACTERS) and ch not in allowed
    }
    if not bad:
        return None
    if not multiline and bad <= set("\n\r\t\x0b\x0c\x1c\x1d\x1e\x85"):
        return "Keep this on one line: remove the line breaks and tabs."
    return "Remove the invisible control characters (often pasted in from elsewhere)."


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def parse_yes_no(v: Any) -> bool | None:
    """Yes/No, Y/N, True/False, 1/0 in any case, or a real bool."""
    if _blank(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float | Decimal) and v in (0, 1):
        return v == 1
    text = str(v).strip().casefold()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError("Enter Yes or No.")


def _check_year(d: date) -> date:
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise ValueError(f"Enter a date between {MIN_YEAR} and {MAX_YEAR}.")
    return d


def _excel_serial(v: float | int | Decimal) -> date:
    if not Decimal(v).is_finite():  # NaN and infinity come out of broken formulas
        raise ValueError("Enter a date as mm/dd/yyyy.")
    # A date-time serial (45658.5 = noon) still names one day: keep the day.
    days = math.floor(v)
    if not 0 < days < 2_958_466:  # Excel's own range ends on 9999-12-31
        raise ValueError("Enter a date as mm/dd/yyyy.")
    return _check_year(_EXCEL_EPOCH + timedelta(days=days))


def parse_date(v: Any) -> date | None:
    """A date from a date/datetime, mm/dd/yyyy, yyyy-mm-dd or an Excel serial number."""
    if _blank(v):
        return None
    if isinstance(v, datetime):
        return _check_year(v.date())
    if isinstance(v, date):
        return _check_year(v)
    if isinstance(v, bool):
        raise ValueError("Enter a date as mm/dd/yyyy.")
    if isinstance(v, int | float | Decimal):
        return _excel_serial(v)
    text = str(v).strip()
    if m := _US_DATE.fullmatch(text):
        month, day, year = (int(g) for g in m.groups())
    elif m := _ISO_DATE.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError("Enter a date as mm/dd/yyyy (for example 03/31/2025).")
    try:
        parsed = date(year, month, day)
    except ValueError:
        raise ValueError(f"{text} is not a real date.") from None
    return _check_year(parsed)


def _float_to_decimal(v: float, what: str) -> Decimal:
    if not math.isfinite(v):
        raise ValueError(f"Enter {what}.")
    # repr() is the shortest text that round-trips, so 12500.55 stays 12500.55.
    d = Decimal(repr(v))
    if abs(d) < 10**15:  # beyond that quantize overflows, and the value is refused anyway
        cents = d.quantize(Decimal("0.01"))
        d = cents if abs(d - cents) < _FLOAT_NOISE else d
    return d


def _text_to_decimal(text: str, what: str) -> Decimal:
    text = text.strip()
    if _NEGATIVE.fullmatch(text):
        raise ValueError("Enter 0 or more, not a negative number.")
    if text.startswith("$"):
        text = text[1:].strip()
    if not text or text == "." or not _NUMBER.fullmatch(text):
        raise ValueError(f"Enter {what}.")
    return Decimal(text.replace(",", ""))


def _to_decimal(v: Any, what: str) -> Decimal:
    """A finite, non-negative Decimal from a number or text; commas and '$' tolerated."""
    if isinstance(v, bool):
        raise ValueError(f"Enter {what}.")
    if isinstance(v, float):
        d = _float_to_decimal(v, what)
    elif isinstance(v, int | Decimal):
        d = Decimal(v)
    else:
        d = _text_to_decimal(str(v), what)
    if not d.is_finite():
        raise ValueError(f"Enter {what}.")
    if d < 0:
        raise ValueError("Enter 0 or more, not a negative number.")
    return d


def _decimals(d: Decimal) -> int:
    exponent = d.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def parse_money_cents(v: Any) -> int | None:
    """Dollars ('12,500', '$12,500.5', 12500.0, Decimal) to whole cents."""
    if _blank(v):
        return None
    d = _to_decimal(v, "an amount in dollars")
    if _decimals(d) > 2:
        raise ValueError("Enter the amount in dollars and cents (at most 2 decimals).")
    cents = int(d * 100)
    if cents > MAX_MONEY_CENTS:
        raise ValueError("That amount is too large.")
    return cents


def parse_credits(v: Any) -> Decimal | None:
    """Credits as a Decimal with two places, 0 to 9999.99."""
    if _blank(v):
        return None
    if isinstance(v, str) and "," in v:
        # "1,5" is a European decimal far more often than a thousands separator here.
        raise ValueError("Enter the credits as a number such as 1.5.")
    d = _to_decimal(v, "the credits as a number such as 1.5")
    if _decimals(d) > 2:
        raise ValueError("Enter the credits with at most 2 decimals (for example 1.25).")
    if d > MAX_CREDITS:
        raise ValueError("Enter at most 9,999.99 credits.")
    return d.quantize(Decimal("0.01"))


def parse_count(v: Any) -> int | None:
    """A whole number of learners, 0 to 10^9 ('1,040' and 12.0 are fine, 1.5 is not)."""
    if _blank(v):
        return None
    d = _to_decimal(v, "a whole number")
    if d != d.to_integral_value():
        raise ValueError("Enter a whole number.")
    if d > MAX_COUNT:
        raise ValueError("That number is too large.")
    return int(d)


def format_money(cents: int) -> str:
    """Cents as '12,500.00' (no currency sign: columns and inputs add their own)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"

"""Small wording helpers so every message counts and dates things the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """'1 activity', '2 activities', '1,040 learners'."""
    word = singular if n == 1 else (plural or singular + "s")
    return f"{n:,} {word}"


def join_or(items: Sequence[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    if len(items) <= 2:
        return " or ".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def quoted_or(labels: Sequence[str]) -> str:
    """'"Internet" or "Print or other media"': quotes keep multi-word choices apart."""
    return join_or([f'"{label}"' for label in labels])


def us_date(d: date) -> str:
    """MM/DD/YYYY, the way PARS and US coordinators write dates."""
    return f"{d.month:02d}/{d.day:02d}/{d.year:04d}"


def long_date(d: date) -> str:
    """'January 1, 2026' (no leading zero, locale-independent unlike strftime)."""
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

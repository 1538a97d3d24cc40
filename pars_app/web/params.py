"""Reading numbers from query strings and forms without surprises."""

from __future__ import annotations


def to_int(raw: str | None, max_digits: int = 12) -> int | None:
    """A non-negative whole number written in ASCII digits, else None.

    `str.isdigit()` alone is true for '²' or Arabic-Indic digits, which `int()` then rejects
    or reads unexpectedly; user input must be plain 0-9.
    """
    raw = (raw or "").strip()
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= max_digits:
        return int(raw)
    return None

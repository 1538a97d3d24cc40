"""Continuing series (spec §4): a course or RSS that runs on past its 12 months is entered again
for each further period, so its next period is a copy with shifted dates."""

from __future__ import annotations

from datetime import date, timedelta

from pars_app.domain.formats import FORMAT_NOUNS, max_end_date

# Formats a coordinator re-enters period after period. Enduring materials live up to 3 years
# in one entry instead; the other formats are one-off by nature.
COPYABLE_FORMATS: tuple[str, ...] = ("C", "RSS")


def copy_refusal(fmt: str) -> str | None:
    """Why an activity of this format cannot be copied for a next period, else None."""
    if fmt in COPYABLE_FORMATS:
        return None
    noun = FORMAT_NOUNS.get(fmt, "This activity")
    return f"{noun} is not a continuing series: only courses and RSS are copied for a next period."


def next_period(fmt: str, start: date, end: date) -> tuple[date, date]:
    """The next period: from the day after `end`, as long as this one, within the max span."""
    new_start = end + timedelta(days=1)
    new_end = new_start + (end - start)
    return new_start, min(new_end, max_end_date(fmt, new_start))

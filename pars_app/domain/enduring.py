"""Enduring materials' yearly learner counts (spec §6): cumulative totals as of December 31.

An enduring material is entered once for its whole life; each year its cumulative physicians and
other learners as of December 31 are recorded as a snapshot. A total lower than the previous
snapshot is warned about, never refused: corrections happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pars_app.domain.text import count_noun, long_date
from pars_app.domain.values import parse_count


@dataclass(frozen=True)
class Counts:
    """Cumulative learners of one material at one moment."""

    physicians: int
    others: int


def as_of(year: int) -> date:
    """The date every snapshot of `year` speaks for: December 31."""
    return date(year, 12, 31)


def available_in(start: date, end: date, year: int) -> bool:
    """Whether a material running from `start` to `end` was available at any time in `year`."""
    return start <= date(year, 12, 31) and end >= date(year, 1, 1)


def is_final_year(end: date, year: int) -> bool:
    """Whether `year` is the material's last: its count then is the activity's final total."""
    return end.year == year


def parse_counts(physicians: Any, others: Any) -> tuple[Counts | None, dict[str, str]]:
    """Both totals from raw input; a snapshot needs both (0 is a real count, blank is not)."""
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name, raw in (("physicians", physicians), ("others", others)):
        try:
            value = parse_count(raw)
        except ValueError as err:
            errors[name] = str(err)
            continue
        if value is None:
            errors[name] = "Enter the cumulative total (0 if none)."
        else:
            values[name] = value
    if errors:
        return None, errors
    return Counts(values["physicians"], values["others"]), {}


def increase(previous: Counts | None, current: Counts | None, first_year: bool) -> Counts | None:
    """This year's learners: current total less the previous one.

    In the material's first year the whole total is this year's. Without an earlier count in a
    later year the increase is unknown (None), not the whole total: that would overstate it.
    """
    if current is None:
        return None
    if previous is None:
        return current if first_year else None
    return Counts(current.physicians - previous.physicians, current.others - previous.others)


def decrease_warnings(previous: Counts | None, previous_year: int | None, current: Counts | None):
    """Messages for totals lower than the previous snapshot's (a warning, never a refusal)."""
    if previous is None or current is None or previous_year is None:
        return []
    when = long_date(as_of(previous_year))
    out = []
    for label, old, new in (
        ("physician", previous.physicians, current.physicians),
        ("other learner", previous.others, current.others),
    ):
        if new < old:
            out.append(
                f"Lower than the {count_noun(old, label)} of {when}: cumulative totals do not "
                "usually go down — check this is a correction."
            )
    return out


def snapshot_year_problem(year: int, today: date) -> str | None:
    """Why counts as of December 31 of `year` cannot be recorded yet, else None."""
    # The current year's counts may be entered ahead (the checklist step is open all year);
    # a later year's cannot be known.
    if year > today.year:
        return f"December 31, {year} is more than a year away: its counts cannot be known yet."
    return None


def closed_final_problem(closed_totals: Counts | None, entered: Counts) -> str | None:
    """A closed material's final-year count must match the totals it was closed with."""
    if closed_totals is None or closed_totals == entered:
        return None
    return (
        f"This material is closed with {count_noun(closed_totals.physicians, 'physician')} and "
        f"{count_noun(closed_totals.others, 'other learner')}: reopen it to change its final count."
    )

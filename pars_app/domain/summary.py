"""Program Summary rules (spec §7): the typed money fields, the 12-month period, the swing
warning against the prior year, and what a submission needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pars_app.domain.text import long_date
from pars_app.domain.values import format_money, parse_money_cents

# A change of more than this many percent against the prior year is worth a second look.
SWING_PERCENT = 50


@dataclass(frozen=True)
class MoneyField:
    """One typed figure of the summary, with plain-words help on what it holds."""

    name: str  # form field name; the model column is f"{name}_cents"
    label: str
    counts: str  # what belongs here
    excludes: str  # what does not

    @property
    def column(self) -> str:
        return f"{self.name}_cents"


MONEY_FIELDS: tuple[MoneyField, ...] = (
    MoneyField(
        "advertising_exhibit",
        "Advertising and exhibit income",
        "Money companies paid you to advertise in your CME materials or to have an exhibit "
        "booth or table at your activities.",
        "Not commercial support (grants from ineligible companies for an activity): that is "
        "reported activity by activity and added up for you below.",
    ),
    MoneyField(
        "registration_fees",
        "Registration fees",
        "Fees learners paid to take part in your activities, including fees a joint provider "
        "collected.",
        "Not money from companies or grants, even when it paid for learners' places.",
    ),
    MoneyField(
        "government_grants",
        "Government monetary grants",
        "Money from federal, state or local government agencies for your CME program.",
        "Not in-kind help (space, equipment) and not commercial support.",
    ),
    MoneyField(
        "private_donations",
        "Private monetary donations",
        "Money given by foundations, individuals and other organizations that are not "
        "ineligible companies.",
        "Not commercial support from ineligible companies (reported per activity), and not "
        "in-kind donations.",
    ),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in MONEY_FIELDS)
JOINT_PROVIDERSHIP_NOTE = (
    "Jointly provided activities: report their money too, even when the joint provider "
    "received it rather than you."
)


def parse_amounts(values: Mapping[str, Any]) -> tuple[dict[str, int | None], dict[str, str]]:
    """The four figures in cents (None when blank) and a message per field that is not money."""
    amounts: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for f in MONEY_FIELDS:
        try:
            amounts[f.name] = parse_money_cents(values.get(f.name))
        except ValueError as err:
            errors[f.name] = str(err)
    return amounts, errors


# --- The 12-month period ---------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The 12 months a summary covers: the calendar year, or a fiscal year ending in it."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{long_date(self.start)} \u2013 {long_date(self.end)}"  # an en dash

    @property
    def is_calendar_year(self) -> bool:
        return (self.start.month, self.start.day) == (1, 1)


def _add_year(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # February 29: its anniversary is February 28, as for activity spans
        return d.replace(year=d.year + 1, day=28)


def period_for(year: int, start_month: int) -> Period:
    """The 12 months starting on the 1st of `start_month` that end in `year`.

    January gives the calendar year; July gives July 1 of year-1 to June 30 of year: the most
    recent fiscal year available when reporting `year`.
    """
    if not 1 <= start_month <= 12:
        raise ValueError("Choose the month the period starts in.")
    start = date(year if start_month == 1 else year - 1, start_month, 1)
    return Period(start, _add_year(start) - timedelta(days=1))


def period_problem(year: int, start: date, end: date) -> str | None:
    """Why (start, end) cannot be the period of `year`'s summary, else None."""
    if end != _add_year(start) - timedelta(days=1):
        return "The period must be exactly 12 months (for example July 1 to June 30)."
    if end.year != year:
        return f"The period must end in {year}: the most recent 12 months available."
    return None


def parse_start_month(raw: Any) -> int:
    """The period's first month (1-12) as chosen on the form."""
    text = str(raw or "").strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    raise ValueError("Choose the 12-month period the summary covers.")


def period_choices(year: int) -> list[tuple[int, Period]]:
    """Every period a summary of `year` may cover, calendar year first."""
    return [(m, period_for(year, m)) for m in range(1, 13)]


# --- Prior-year comparison -------------------------------------------------------------------


@dataclass(frozen=True)
class Swing:
    """A figure that moved more than SWING_PERCENT against the prior year."""

    previous: int
    current: int

    @property
    def percent(self) -> int | None:
        """Size of the change in whole percent; None when the prior figure was 0."""
        if self.previous == 0:
            return None
        return round(abs(self.current - self.previous) * 100 / self.previous)

    def message(self, prior_year: int) -> str:
        before = f"${format_money(self.previous)} in {prior_year}"
        if self.percent is None:
            return f"Up from $0.00 in {prior_year}: check this figure."
        way = "Up" if self.current > self.previous else "Down"
        return f"{way} {self.percent}% on {before}: check this figure."


def swing(previous: int | None, current: int | None) -> Swing | None:
    """The change from the prior year when it is over SWING_PERCENT, else None."""
    if previous is None or current is None:
        return None  # nothing to compare: a blank is "not given", not zero
    # Integer arithmetic: exact, and 0 -> N (any increase from nothing) counts as a swing.
    if abs(current - previous) * 100 > SWING_PERCENT * previous:
        return Swing(previous, current)
    return None


# --- Submission ------------------------------------------------------------------------------


def submission_problems(
    amounts: Mapping[str, int | None],
    attested: bool,
    open_steps: Sequence[str],
    confirmed: bool,
) -> dict[str, str]:
    """What stops a submission: blank figures, no attestation, open steps not confirmed."""
    problems: dict[str, str] = {}
    for f in MONEY_FIELDS:
        if amounts.get(f.name) is None:
            problems[f.name] = "Enter the amount; enter 0 if there was none."
    if not attested:
        problems["attest"] = "Tick the box to attest that the year's data are complete."
    if open_steps and not confirmed:
        n = len(open_steps)
        steps = "step is" if n == 1 else "steps are"
        problems["confirm"] = f"{n} other {steps} not done: tick “Submit anyway” to go ahead."
    return problems

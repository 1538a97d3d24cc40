"""Activity completeness and status (spec §5): Draft -> Active -> Ready to Close -> Closed.

Rules are split by level so a refusal can name exactly what is missing. Each Problem names the
ActivityFacts attribute it is about, except "outcomes", which covers the four outcome flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from urllib.parse import urlsplit

from pars_app.domain.codes import (
    COUNTRIES,
    IN_KIND_NATURES,
    MOC_BOARDS,
    OUTCOMES,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    US_STATES,
)
from pars_app.domain.formats import (
    DELIVERY_LABELS,
    FORMAT_CODES,
    FORMAT_NOUNS,
    FORMATS,
    delivery_problem,
    max_end_date,
    needs_delivery,
    needs_location,
)
from pars_app.domain.records import build
from pars_app.domain.text import quoted_or, us_date

LEVEL_DRAFT = "draft"
LEVEL_ACTIVE = "active"
LEVEL_CLOSABLE = "closable"
LEVELS: tuple[str, ...] = (LEVEL_DRAFT, LEVEL_ACTIVE, LEVEL_CLOSABLE)

OUTCOMES_FIELD = "outcomes"  # the one Problem.field that is not an attribute
CREDITS_NAME = "AMA PRA Category 1 Credits™"


@dataclass(frozen=True)
class Problem:
    """One thing a user must fix, tied to the field it is about."""

    field: str
    message: str


class Status(StrEnum):
    """The PARS activity status: Closed is an explicit act, the others are computed."""

    DRAFT = "draft"
    ACTIVE = "active"
    READY_TO_CLOSE = "ready_to_close"
    CLOSED = "closed"


STATUS_LABELS: dict[Status, str] = {
    Status.DRAFT: "Draft",
    Status.ACTIVE: "Active",
    Status.READY_TO_CLOSE: "Ready to Close",
    Status.CLOSED: "Closed",
}


@dataclass(frozen=True)
class SupporterFacts:
    """One commercial supporter of an activity."""

    name: str
    kind: str  # "monetary" | "in_kind"
    amount_cents: int | None = None
    in_kind_nature: str | None = None
    in_kind_other: str | None = None


@dataclass(frozen=True)
class MocFacts:
    """One MOC registration of an activity with a certifying board."""

    board: str
    credit_types: tuple[str, ...] = ()
    points: Decimal | None = None
    practice_areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActivityFacts:
    """What the status rules need to know about one activity, free of any storage."""

    title: str | None = None
    format: str | None = None
    delivery: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    venue: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    credits: Decimal | None = None
    description: str | None = None
    providership: str | None = None
    joint_providers: tuple[str, ...] = ()
    passport_listed: bool | None = None
    passport_fee: bool | None = None
    passport_registration: str | None = None
    passport_url: str | None = None
    commercial_support: bool | None = None
    supporters: tuple[SupporterFacts, ...] = ()
    outcome_competence: bool = False
    outcome_performance: bool = False
    outcome_patient_health: bool = False
    outcome_community_health: bool = False
    physician_learners: int | None = None
    other_learners: int | None = None
    moc: tuple[MocFacts, ...] = ()
    closed: bool = False


def _blank(text: str | None) -> bool:
    return text is None or not (text if text.__class__ is str else str(text)).strip()


# --- Draft ----------------------------------------------------------------------------------


def _span_problem(fmt: str, start: date, end: date) -> Problem | None:
    latest = max_end_date(fmt, start)
    if end <= latest:
        return None
    years = FORMATS[fmt].max_span_years
    span = "12 months" if years == 1 else f"{years} years"
    message = f"{FORMAT_NOUNS[fmt]} runs at most {span}: end by {us_date(latest)}."
    if fmt != "EM":
        # Spec §4: longer non-enduring activities are entered again for each period.
        message = message[:-1] + ", and enter each further 12 months as a new activity."
    return Problem("end_date", message)


def _date_problems(f: ActivityFacts) -> list[Problem]:
    problems = []
    if f.start_date is None:
        problems.append(Problem("start_date", "Enter the start date."))
    if f.end_date is None:
        problems.append(Problem("end_date", "Enter the end date."))
    if f.start_date is None or f.end_date is None:
        return problems
    if f.end_date < f.start_date:
        message = f"The end date must be on or after the start date ({us_date(f.start_date)})."
        return [Problem("end_date", message)]
    if f.format in FORMATS and (span := _span_problem(f.format, f.start_date, f.end_date)):
        problems.append(span)
    return problems


def _format_problems(f: ActivityFacts) -> list[Problem]:
    if _blank(f.format):
        return [Problem("format", "Choose the activity format.")]
    if f.format not in FORMATS:
        message = f"Choose a valid activity format ({', '.join(FORMAT_CODES)})."
        return [Problem("format", message)]
    if not _blank(f.delivery) and (message := delivery_problem(f.format, f.delivery)):
        return [Problem("delivery", message)]
    return []


def _code_problems(f: ActivityFacts) -> list[Problem]:
    problems = []
    if not _blank(f.country) and f.country not in COUNTRIES:
        message = "Enter the country as a 3-letter ISO code (for example USA or CAN)."
        problems.append(Problem("country", message))
    if not _blank(f.state) and f.state not in US_STATES:
        # PARS takes USPS codes only; a province abroad belongs in the city field.
        message = "Enter the state as a 2-letter USPS code (for example IL), or leave it blank."
        problems.append(Problem("state", message))
    return problems


def draft_problems(f: ActivityFacts) -> list[Problem]:
    """What keeps the activity from being a valid Draft: title, format, dates, codes."""
    problems = []
    if _blank(f.title):
        problems.append(Problem("title", "Enter the activity title."))
    problems += _format_problems(f)
    problems += _date_problems(f)
    problems += _code_problems(f)
    return problems


# --- Active ---------------------------------------------------------------------------------


def _delivery_and_location(f: ActivityFacts) -> list[Problem]:
    problems = []
    if needs_delivery(f.format) and _blank(f.delivery):
        labels = [DELIVERY_LABELS[d] for d in FORMATS[f.format].deliveries]
        problems.append(Problem("delivery", f"Choose the delivery method: {quoted_or(labels)}."))
    if not needs_location(f.format, f.delivery):
        return problems
    if _blank(f.venue):
        problems.append(Problem("venue", "Enter the venue where learners meet."))
    if _blank(f.city):
        problems.append(Problem("city", "Enter the city where the activity takes place."))
    if _blank(f.country):
        message = "Enter the country as a 3-letter ISO code (for example USA)."
        problems.append(Problem("country", message))
    elif f.country == "USA" and _blank(f.state):
        problems.append(Problem("state", "Enter the state (the activity takes place in the USA)."))
    return problems


def _valid_web_address(url: str | None) -> bool:
    # One word: str.split() breaks at exactly the characters str.isspace() names.
    if _blank(url) or len(url.split()) != 1:
        return False
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a malformed IPv6 host
        return False


def _passport_problems(f: ActivityFacts) -> list[Problem]:
    if f.passport_listed is None:
        message = "Answer whether the activity is listed in CME Passport (Yes or No)."
        return [Problem("passport_listed", message)]
    if not f.passport_listed:
        return []
    problems = []
    if f.passport_fee is None:
        message = "Answer whether learners pay a fee (Yes or No) for the CME Passport listing."
        problems.append(Problem("passport_fee", message))
    if f.passport_registration not in PASSPORT_REGISTRATION:
        message = "Choose the CME Passport registration: Open to all or Limited."
        problems.append(Problem("passport_registration", message))
    if not _valid_web_address(f.passport_url):
        message = "Enter the activity's web address for CME Passport, starting with https://."
        problems.append(Problem("passport_url", message))
    return problems


def active_problems(f: ActivityFacts) -> list[Problem]:
    """What keeps a Draft from being Active (spec §5); Draft-level problems are not repeated."""
    problems = _delivery_and_location(f)
    if f.credits is None or f.credits <= 0:
        whole = " for the whole series" if f.format == "RSS" else ""
        message = f"Enter the {CREDITS_NAME}{whole} (more than 0)."
        problems.append(Problem("credits", message))
    if _blank(f.description):
        problems.append(Problem("description", "Enter a description of the content."))
    if f.providership not in PROVIDERSHIP:
        problems.append(Problem("providership", "Choose the providership: Direct or Joint."))
    problems += _passport_problems(f)
    return problems


# --- Close ----------------------------------------------------------------------------------


def _supporter_problems(i: int, s: SupporterFacts) -> list[str]:
    who = s.name.strip() if not _blank(s.name) else f"Supporter {i}"
    messages = []
    if _blank(s.name):
        messages.append(f"{who}: enter the supporter's name.")
    if s.kind == "monetary":
        if s.amount_cents is None or s.amount_cents <= 0:
            messages.append(f"{who}: enter the amount received (more than $0).")
        if not _blank(s.in_kind_nature):
            messages.append(f"{who}: monetary support has no in-kind nature; remove it.")
    elif s.kind == "in_kind":
        if s.in_kind_nature not in IN_KIND_NATURES:
            messages.append(f"{who}: choose the nature of the in-kind support.")
        elif s.in_kind_nature == "other" and _blank(s.in_kind_other):
            messages.append(f"{who}: describe the other in-kind support.")
        if s.amount_cents is not None:
            messages.append(f"{who}: in-kind support is reported without a dollar value.")
    else:
        messages.append(f"{who}: choose monetary or in-kind support.")
    return messages


def _commercial_support_problems(f: ActivityFacts) -> list[Problem]:
    if f.commercial_support is None:
        message = "Answer whether the activity received commercial support (Yes or No)."
        return [Problem("commercial_support", message)]
    if not f.commercial_support:
        if f.supporters:
            message = "Remove the commercial supporters, or answer Yes to commercial support."
            return [Problem("supporters", message)]
        return []
    if not f.supporters:
        message = "Add at least one commercial supporter (commercial support is Yes)."
        return [Problem("supporters", message)]
    return [
        Problem("supporters", message)
        for i, supporter in enumerate(f.supporters, start=1)
        for message in _supporter_problems(i, supporter)
    ]


def _learner_problems(f: ActivityFacts) -> list[Problem]:
    problems = []
    for field, who in (("physician_learners", "physician"), ("other_learners", "other")):
        value = getattr(f, field)
        if value is None or value < 0:
            message = f"Enter the number of {who} learners (0 if none)."
            problems.append(Problem(field, message))
    return problems


def _moc_messages(i: int, m: MocFacts, credits: Decimal | None) -> list[str]:
    if m.board not in MOC_BOARDS:
        return [f"MOC registration {i}: choose a board ({', '.join(MOC_BOARDS)})."]
    who = f"{m.board} MOC"
    messages = []
    if not m.credit_types:
        messages.append(f"{who}: choose at least one credit type.")
    if m.points is None or m.points <= 0:
        messages.append(f"{who}: enter the MOC points (more than 0).")
    elif m.board == "ABIM" and credits is not None and m.points > credits:
        messages.append(f"{who}: points cannot exceed the {CREDITS_NAME} ({credits}).")
    elif m.board == "ABP" and m.points != m.points.to_integral_value():
        messages.append(f"{who}: enter the MOC points as a whole number.")
    if not m.practice_areas:
        messages.append(f"{who}: choose at least one practice area.")
    return messages


def _moc_problems(f: ActivityFacts) -> list[Problem]:
    problems = [
        Problem("moc", message)
        for i, m in enumerate(f.moc, start=1)
        for message in _moc_messages(i, m, f.credits)
    ]
    boards = [m.board for m in f.moc]
    for board in sorted({b for b in boards if boards.count(b) > 1}):
        problems.append(Problem("moc", f"{board} MOC is entered more than once."))
    return problems


_outcomes_of = attrgetter(*OUTCOMES)  # the four answers, read in one call


def close_problems(f: ActivityFacts) -> list[Problem]:
    """What keeps an Active activity from being closable (spec §5 'Closed' fields)."""
    problems = []
    if f.providership == "joint" and all(_blank(name) for name in f.joint_providers):
        message = "Enter the joint provider's name (the activity is jointly provided)."
        problems.append(Problem("joint_providers", message))
    if not any(_outcomes_of(f)):
        labels = ", ".join(label.lower() for label in OUTCOMES.values())
        problems.append(Problem(OUTCOMES_FIELD, f"Choose at least one outcome measured: {labels}."))
    problems += _commercial_support_problems(f)
    problems += _learner_problems(f)
    problems += _moc_problems(f)
    return problems


# --- Status ---------------------------------------------------------------------------------


def _level(draft_and_active: list[Problem], close: list[Problem]) -> str:
    if draft_and_active:
        return LEVEL_DRAFT
    return LEVEL_ACTIVE if close else LEVEL_CLOSABLE


def completeness(f: ActivityFacts) -> str:
    """'draft', 'active' or 'closable': how complete the data are, whatever the date."""
    return _level(draft_problems(f) + active_problems(f), close_problems(f))


def status_from_level(level: str, end_date: date | None, closed: bool, today: date) -> Status:
    """The status from a stored completeness level; the SQL filters mirror this exactly."""
    if level not in LEVELS:
        raise ValueError(f"Unknown completeness level {level!r}.")
    if closed:
        return Status.CLOSED
    if level == LEVEL_DRAFT:
        return Status.DRAFT
    # "Ended" means the end date is behind us: on its last day an activity is still running.
    if end_date is not None and end_date < today:
        return Status.READY_TO_CLOSE
    return Status.ACTIVE


@dataclass(frozen=True)
class StatusReport:
    """An activity's status and everything standing between it and being closable."""

    status: Status
    problems: tuple[Problem, ...]  # draft + active + close levels, in form order
    closable: bool  # not closed, ended, and no problems at any level
    level: str = LEVEL_DRAFT
    end_date: date | None = None
    ended: bool = False

    @property
    def missing_to_close(self) -> tuple[Problem, ...]:
        """What a Close refusal names: the problems, plus the end date if not yet passed."""
        if self.ended or self.end_date is None or self.status is Status.CLOSED:
            return self.problems
        message = f"The activity can be closed after it ends on {us_date(self.end_date)}."
        return (*self.problems, Problem("end_date", message))


def evaluate(f: ActivityFacts, today: date, draft: list[Problem] | None = None) -> StatusReport:
    """The activity's status on `today` (a Central date) with its problems. `draft` is
    `draft_problems(f)` when the caller has it already (a batch row checks it before)."""
    early = (draft_problems(f) if draft is None else draft) + active_problems(f)
    close = close_problems(f)
    level = _level(early, close)
    status = status_from_level(level, f.end_date, f.closed, today)
    ended = f.end_date is not None and f.end_date < today
    # records.build: a batch import evaluates every row of its file.
    return build(
        StatusReport,
        {
            "status": status,
            "problems": tuple(early + close),
            "closable": status is Status.READY_TO_CLOSE and not close,
            "level": level,
            "end_date": f.end_date,
            "ended": ended,
        },
    )

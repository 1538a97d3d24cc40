"""The five annual steps of a provider's year (spec §3), computed from counts and dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pars_app.domain import deadlines
from pars_app.domain.formats import FORMAT_CODES, FORMATS
from pars_app.domain.text import count_noun, long_date


@dataclass(frozen=True)
class ChecklistFacts:
    """Everything the checklist needs, loaded by a service for one provider and year."""

    year: int
    now: datetime
    deadline: datetime
    agreement_accepted_at: datetime | None = None
    agreement_accepted_by: str | None = None
    agreement_version: int | None = None
    agreement_published: bool = True
    activities_by_format: dict[str, int] = field(default_factory=dict)  # started in year
    ended_in_year: int = 0
    ended_not_closed: int = 0
    enduring_in_year: int = 0  # enduring materials available at any time in year
    enduring_missing_counts: int = 0
    summary_submitted_at: datetime | None = None
    contacts_reviewed_at: datetime | None = None
    contacts_reviewed_by: str | None = None
    year_locked: bool = False


class StepState(StrEnum):
    """Where a step stands; NOT_OPEN until January 1 of the following year."""

    DONE = "done"
    TODO = "todo"
    NOT_OPEN = "not_open"


@dataclass(frozen=True)
class Step:
    """One of the five annual steps, ready to show or print."""

    key: str  # "agreement", "activities", "enduring", "summary", "contacts"
    number: int
    title: str
    state: StepState
    left: int
    summary: str  # one human line
    details: tuple[str, ...] = ()
    done_at: datetime | None = None
    # Symbolic target the web layer maps to a URL: "agreement", "activities_ended_not_closed",
    # "activities_started", "enduring_missing", "summary" or "contacts".
    link: str | None = None


@dataclass(frozen=True)
class Checklist:
    """A provider's year at a glance: the steps, the deadline and whether it is late."""

    year: int
    deadline: datetime
    steps: tuple[Step, ...]
    late: bool  # deadline passed and not all done
    days_left: int
    complete: bool
    done_count: int
    as_of: datetime | None = None  # the moment it was computed, for the printed page


def _on(moment: datetime) -> str:
    return long_date(deadlines.central_date(moment))


def _not_open(key: str, number: int, title: str, year: int) -> Step:
    opens = long_date(deadlines.cycle_opens_at(year).date())
    return Step(key, number, title, StepState.NOT_OPEN, 1, f"Opens {opens}")


def _agreement_step(f: ChecklistFacts, is_open: bool) -> Step:
    key, number, title = "agreement", 1, "Provider Agreement"
    if f.agreement_accepted_at is not None:
        by = f" by {f.agreement_accepted_by}" if f.agreement_accepted_by else ""
        version = f" (version {f.agreement_version})" if f.agreement_version else ""
        summary = f"Accepted on {_on(f.agreement_accepted_at)}{by}{version}"
        done_at = f.agreement_accepted_at
        return Step(key, number, title, StepState.DONE, 0, summary, (), done_at, "agreement")
    if not is_open:
        return _not_open(key, number, title, f.year)
    if not f.agreement_published:
        # Nothing the provider can do yet, so no link; the accreditor publishes the text.
        summary = f"Waiting for the {f.year} agreement to be published by your accreditor"
        return Step(key, number, title, StepState.TODO, 1, summary)
    summary = f"Accept the Provider Agreement for {f.year}"
    return Step(key, number, title, StepState.TODO, 1, summary, link="agreement")


def _format_details(by_format: dict[str, int]) -> tuple[str, ...]:
    # Known formats in PARS order, then anything unexpected so no activity goes uncounted.
    order = [c for c in FORMAT_CODES if c in by_format] + sorted(set(by_format) - set(FORMATS))
    return tuple(
        f"{FORMATS[c].label if c in FORMATS else c}: {by_format[c]:,}"
        for c in order
        if by_format[c]
    )


def _activities_done_summary(f: ChecklistFacts, started: int) -> str:
    if f.ended_in_year == 0:
        return f"{count_noun(started, 'activity', 'activities')} entered; none ended in {f.year}"
    if f.ended_in_year == 1:
        return f"The 1 activity that ended in {f.year} is closed"
    return f"All {f.ended_in_year:,} activities that ended in {f.year} are closed"


def _activities_step(f: ChecklistFacts) -> Step:
    key, number, title = "activities", 2, "Activities"
    started = sum(f.activities_by_format.values())
    details = _format_details(f.activities_by_format)
    left = f.ended_not_closed
    if left:
        noun = count_noun(left, "activity", "activities")
        verb = "is" if left == 1 else "are"
        summary = f"{noun} ended in {f.year} and {verb} not closed"
        if not started:
            summary += f"; no activities entered for {f.year}"
        link = "activities_ended_not_closed"
        return Step(key, number, title, StepState.TODO, left, summary, details, link=link)
    if not started:
        # Spec §3: the app cannot know about missing activities, but a year with none is
        # almost certainly unfinished, so it is never shown as done.
        link = "activities_started"
        summary = f"No activities entered for {f.year}"
        return Step(key, number, title, StepState.TODO, 0, summary, details, link=link)
    summary = _activities_done_summary(f, started)
    return Step(key, number, title, StepState.DONE, 0, summary, details, link="activities_started")


def _enduring_step(f: ChecklistFacts) -> Step:
    key, number, title = "enduring", 3, "Enduring material learner counts"
    missing = f.enduring_missing_counts
    if missing:
        verb = "needs" if missing == 1 else "need"
        noun = count_noun(missing, "enduring material")
        summary = f"{noun} {verb} a learner count as of December 31, {f.year}"
        return Step(key, number, title, StepState.TODO, missing, summary, link="enduring_missing")
    if f.enduring_in_year == 0:
        summary = f"No enduring materials were available in {f.year}"
    elif f.enduring_in_year == 1:
        summary = f"The 1 enduring material available in {f.year} has its learner count"
    else:
        summary = (
            f"All {f.enduring_in_year:,} enduring materials available in {f.year} "
            "have their learner counts"
        )
    return Step(key, number, title, StepState.DONE, 0, summary)


def _summary_step(f: ChecklistFacts, is_open: bool) -> Step:
    key, number, title = "summary", 4, "Program Summary"
    if f.summary_submitted_at is not None:
        locked = "; the year is locked" if f.year_locked else ""
        summary = f"Submitted on {_on(f.summary_submitted_at)}{locked}"
        done_at = f.summary_submitted_at
        return Step(key, number, title, StepState.DONE, 0, summary, (), done_at, "summary")
    if not is_open:
        return _not_open(key, number, title, f.year)
    summary = f"Submit the {f.year} Program Summary"
    return Step(key, number, title, StepState.TODO, 1, summary, link="summary")


def _contacts_step(f: ChecklistFacts, is_open: bool) -> Step:
    key, number, title = "contacts", 5, "Contact information"
    reviewed = f.contacts_reviewed_at
    # Only a review made once the cycle opened counts for this year's report (spec §3).
    if reviewed is not None and reviewed >= deadlines.cycle_opens_at(f.year):
        by = f" by {f.contacts_reviewed_by}" if f.contacts_reviewed_by else ""
        summary = f"Reviewed on {_on(reviewed)}{by}"
        return Step(key, number, title, StepState.DONE, 0, summary, (), reviewed, "contacts")
    if not is_open:
        return _not_open(key, number, title, f.year)
    summary = "Review the contacts: confirm them or update them"
    if reviewed is not None:
        summary = f"Last reviewed on {_on(reviewed)}: confirm or update them for {f.year}"
    return Step(key, number, title, StepState.TODO, 1, summary, link="contacts")


def build_checklist(facts: ChecklistFacts) -> Checklist:
    """The five steps with their states, plus deadline, lateness and progress."""
    is_open = facts.now >= deadlines.cycle_opens_at(facts.year)
    steps = (
        _agreement_step(facts, is_open),
        _activities_step(facts),
        _enduring_step(facts),
        _summary_step(facts, is_open),
        _contacts_step(facts, is_open),
    )
    done = sum(step.state is StepState.DONE for step in steps)
    complete = done == len(steps)
    return Checklist(
        year=facts.year,
        deadline=facts.deadline,
        steps=steps,
        late=deadlines.is_late(facts.deadline, facts.now) and not complete,
        days_left=deadlines.days_left(facts.deadline, facts.now),
        complete=complete,
        done_count=done,
        as_of=facts.now,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def checklist_as_dict(c: Checklist) -> dict[str, Any]:
    """A JSON-ready dict (ISO datetimes, plain strings) for `flask pars checklist --json`."""
    return {
        "year": c.year,
        "deadline": _iso(c.deadline),
        "deadline_text": deadlines.format_deadline(c.deadline),
        "as_of": _iso(c.as_of),
        "late": c.late,
        "days_left": c.days_left,
        "complete": c.complete,
        "done_count": c.done_count,
        "steps": [
            {
                "key": s.key,
                "number": s.number,
                "title": s.title,
                "state": str(s.state),
                "left": s.left,
                "summary": s.summary,
                "details": list(s.details),
                "done_at": _iso(s.done_at),
                "link": s.link,
            }
            for s in c.steps
        ],
    }

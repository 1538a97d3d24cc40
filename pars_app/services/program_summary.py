"""Checklist step 4: the Program Summary of a year — draft saves, the computed commercial support,
the prior year beside it, and the submission that locks the year (spec §7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..domain import checklist as steps
from ..domain import deadlines
from ..domain import summary as rules
from ..domain.values import format_money, parse_money_cents
from ..extensions import db
from ..models import (
    Activity,
    AuditEvent,
    CommercialSupporter,
    ProgramSummary,
    Provider,
    User,
    YearLock,
)
from . import audit, checklist, cycle, unlocks

LOCKED = "The {year} report is submitted and locked: its Program Summary is read-only."


class SummaryInvalid(ValueError):
    """The typed values cannot be saved or submitted; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SummaryConflict(RuntimeError):
    """Someone saved the summary after this user opened it: nothing was overwritten."""

    def __init__(self, current: ProgramSummary, by: str, at: datetime | None):
        super().__init__(f"changed by {by}")
        self.current, self.by, self.at = current, by, at


class SummaryRefused(ValueError):
    """The summary cannot be changed now (not open yet, or the year is locked)."""


# --- Commercial support, computed from the year's activities ---------------------------------


@dataclass(frozen=True)
class CommercialSupport:
    """Commercial support of the activities that ended in `year` (the set the year lock covers)."""

    year: int
    activities_ended: int = 0
    activities_supported: int = 0
    monetary_cents: int = 0
    monetary_sources: int = 0
    in_kind_sources: int = 0


def _support_columns(year: int) -> list:
    in_year = Activity.end_date.between(date(year, 1, 1), date(year, 12, 31))
    monetary = and_(in_year, CommercialSupporter.kind == "monetary")
    in_kind = and_(in_year, CommercialSupporter.kind == "in_kind")
    amount = func.coalesce(CommercialSupporter.amount_cents, 0)
    return [
        func.count(distinct(case((in_year, Activity.id)))),
        func.count(distinct(case((in_year, CommercialSupporter.activity_id)))),
        func.coalesce(func.sum(case((monetary, amount), else_=0)), 0),
        func.coalesce(func.sum(case((monetary, 1), else_=0)), 0),
        func.coalesce(func.sum(case((in_kind, 1), else_=0)), 0),
    ]


def commercial_support(provider_id: int, year: int) -> tuple[CommercialSupport, CommercialSupport]:
    """(`year`, `year`-1) commercial support in one aggregate query over activities and supporters.

    Supporters count only on activities that answer "Yes" to commercial support: rows left
    behind under a "No" are not what the activity reports.
    """
    row = db.session.execute(
        select(*_support_columns(year), *_support_columns(year - 1))
        .select_from(Activity)
        .outerjoin(
            CommercialSupporter,
            and_(
                CommercialSupporter.activity_id == Activity.id,
                Activity.commercial_support.is_(True),
            ),
        )
        .where(
            Activity.provider_id == provider_id,
            Activity.end_date.between(date(year - 1, 1, 1), date(year, 12, 31)),
        )
    ).one()
    values = [int(v or 0) for v in row]
    return CommercialSupport(year, *values[:5]), CommercialSupport(year - 1, *values[5:])


# --- What the page shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryState:
    """Everything the summary page of one provider and year shows."""

    year: int
    summary: ProgramSummary | None
    previous: ProgramSummary | None
    support: CommercialSupport
    previous_support: CommercialSupport
    opens_at: datetime
    is_open: bool
    deadline: datetime
    past_deadline: bool
    lock: YearLock | None  # the newest lock row of the year (locked, or unlocked)
    people: dict[int, User]  # submitted/locked/unlocked by, by user id
    open_steps: tuple[steps.Step, ...]  # the other checklist steps not done

    @property
    def locked(self) -> bool:
        return self.lock is not None and self.lock.unlocked_at is None

    @property
    def editable(self) -> bool:
        return self.is_open and not self.locked

    @property
    def submitted(self) -> bool:
        return self.summary is not None and self.summary.status == "submitted"

    def who(self, user_id: int | None) -> str:
        """A person's name (or email) for 'by …' lines; former users are not named."""
        user = self.people.get(user_id) if user_id is not None else None
        return (user.name or user.email) if user else "a former user"


def _summary_of(provider_id: int, year: int) -> ProgramSummary | None:
    return db.session.scalar(
        select(ProgramSummary).where(
            ProgramSummary.provider_id == provider_id, ProgramSummary.year == year
        )
    )


def person(user_id: int | None) -> User | None:
    """The user behind a 'by' column (None when not set, or the account is gone)."""
    return db.session.get(User, user_id) if user_id is not None else None


def _people(*ids: int | None) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def other_open_steps(provider: Provider, year: int, now: datetime) -> tuple[steps.Step, ...]:
    """The checklist steps other than the summary that are not done: submitting asks first."""
    result = checklist.checklist_for(provider, year, now)
    return tuple(
        s for s in result.steps if s.key != "summary" and s.state is not steps.StepState.DONE
    )


def summary_state(provider: Provider, year: int, now: datetime) -> SummaryState:
    """The summary of `year`, last year's beside it, the computed support and the lock."""
    summary = _summary_of(provider.id, year)
    lock = unlocks.latest_lock(provider.id, year)
    support, previous_support = commercial_support(provider.id, year)
    deadline = cycle.reporting_deadline(provider.accreditor_id, year)
    opens = deadlines.cycle_opens_at(year)
    people = _people(
        summary.submitted_by_id if summary else None,
        lock.locked_by_id if lock else None,
        lock.unlocked_by_id if lock else None,
    )
    return SummaryState(
        year=year,
        summary=summary,
        previous=_summary_of(provider.id, year - 1),
        support=support,
        previous_support=previous_support,
        opens_at=opens,
        is_open=now >= opens,
        deadline=deadline,
        past_deadline=deadlines.is_late(deadline, now),
        lock=lock,
        people=people,
        open_steps=other_open_steps(provider, year, now) if now >= opens else (),
    )


@dataclass(frozen=True)
class FigureRow:
    """One typed figure as shown: the text in the input, its message, last year, the swing."""

    field: rules.MoneyField
    text: str
    error: str | None
    previous_cents: int | None
    swing: str | None


def _current_cents(text: str) -> int | None:
    try:
        return parse_money_cents(text)
    except ValueError:
        return None  # its error is shown instead of a comparison


def figure_rows(
    state: SummaryState,
    typed: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FigureRow]:
    """The four figures for the page: what was typed (after a refusal) or what is stored."""
    errors = errors or {}
    out = []
    for f in rules.MONEY_FIELDS:
        stored = getattr(state.summary, f.column) if state.summary else None
        if typed is not None:
            text = str(typed.get(f.name) or "")
            current = _current_cents(text)
        else:
            text = format_money(stored) if stored is not None else ""
            current = stored
        previous = getattr(state.previous, f.column) if state.previous else None
        change = rules.swing(previous, current)
        message = change.message(state.year - 1) if change else None
        out.append(FigureRow(f, text, errors.get(f.name), previous, message))
    return out


def support_swing(state: SummaryState) -> str | None:
    """The swing warning for the computed commercial support, when last year is in the app."""
    if state.previous_support.activities_ended == 0:
        return None  # last year's activities are not in the app: nothing to compare
    change = rules.swing(state.previous_support.monetary_cents, state.support.monetary_cents)
    return change.message(state.year - 1) if change else None


# --- Saving and submitting ---------------------------------------------------------------------


def _editable(provider: Provider, year: int, now: datetime) -> ProgramSummary | None:
    if now < deadlines.cycle_opens_at(year):
        raise SummaryRefused(
            f"The {year} Program Summary opens on January 1, {year + 1}: it cannot be saved yet."
        )
    if cycle.is_year_locked(provider.id, year):
        raise SummaryRefused(LOCKED.format(year=year))
    return _summary_of(provider.id, year)


def _parse(
    year: int, values: Mapping[str, Any]
) -> tuple[dict[str, int | None], rules.Period | None, dict[str, str]]:
    """The figures, the period and a message per field that cannot be read."""
    amounts, errors = rules.parse_amounts(values)
    period = None
    try:
        period = rules.period_for(year, rules.parse_start_month(values.get("period_start_month")))
        if problem := rules.period_problem(year, period.start, period.end):
            errors["period"] = problem
    except ValueError as err:
        errors["period"] = str(err)
    return amounts, period, errors


def _last_editor(summary: ProgramSummary) -> str:
    user_id = db.session.scalar(
        select(AuditEvent.user_id)
        .where(
            AuditEvent.entity_type == "ProgramSummary",
            AuditEvent.entity_id == summary.id,
            AuditEvent.provider_id == summary.provider_id,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.email if user else "someone else"


def _conflict(provider_id: int, year: int) -> SummaryConflict:
    """The conflict to raise after a lost race, with what is stored now (after a rollback)."""
    db.session.rollback()
    current = _summary_of(provider_id, year)
    if current is None:  # lost to something other than a save: show the summary as it was
        return SummaryConflict(ProgramSummary(year=year, version=0), "someone else", None)
    return SummaryConflict(current, _last_editor(current), current.updated_at)


def _apply(
    provider: Provider,
    summary: ProgramSummary | None,
    year: int,
    amounts: dict[str, int | None],
    period: rules.Period,
    version: int,
) -> tuple[ProgramSummary, dict[str, list]]:
    """Put the figures and period on the summary (created on first save); the changes made."""
    if summary is None:
        summary = ProgramSummary(provider_id=provider.id, year=year, status="draft")
        db.session.add(summary)
    elif summary.version != version:  # also a form opened before the summary was first saved
        raise SummaryConflict(summary, _last_editor(summary), summary.updated_at)
    wanted: dict[str, Any] = {f.column: amounts[f.name] for f in rules.MONEY_FIELDS}
    wanted.update(period_start=period.start, period_end=period.end)
    changes = {}
    for column, value in wanted.items():
        before = getattr(summary, column, None)
        if before != value:
            changes[column] = [before, value]
            setattr(summary, column, value)
    if changes and summary.status == "submitted":
        # A correction after an unlock is not what was submitted: it must be submitted again.
        summary.status = "draft"
    return summary, changes


def _write(provider_id: int, year: int, commit: bool = False) -> None:
    """Flush (or commit); a save that lost a race to someone else's becomes a conflict."""
    try:
        db.session.commit() if commit else db.session.flush()
    except (StaleDataError, IntegrityError):  # saved (or created) by someone else meanwhile
        raise _conflict(provider_id, year) from None


def save_draft(
    provider: Provider,
    year: int,
    values: Mapping[str, Any],
    version: int,
    user: User,
    now: datetime,
    via: str = "web",
) -> ProgramSummary:
    """Save the typed figures and period as a draft made from `version`; audited."""
    summary = _editable(provider, year, now)
    amounts, period, errors = _parse(year, values)
    if errors or period is None:
        raise SummaryInvalid(errors)
    provider_id = provider.id  # read before a failed flush could expire it
    summary, changes = _apply(provider, summary, year, amounts, period, version)
    if changes:
        summary.updated_at = now
        _write(provider_id, year)
        audit.record(
            "summary.saved",
            user_id=user.id,
            provider_id=provider.id,
            entity=summary,
            via=via,
            year=year,
            changes=changes,
        )
    _write(provider_id, year, commit=True)
    return summary


def submit(
    provider: Provider,
    year: int,
    values: Mapping[str, Any],
    version: int,
    user: User,
    now: datetime,
    via: str = "web",
) -> ProgramSummary:
    """Attest and submit `year`'s summary with the typed figures, and lock the year; audited.

    `values` also carries the attestation tick (`attest`) and, when other checklist steps are
    open, the "submit anyway" tick (`confirm`).
    """
    summary = _editable(provider, year, now)
    amounts, period, errors = _parse(year, values)
    open_steps = [s.title for s in other_open_steps(provider, year, now)]
    ticked = {k: str(values.get(k) or "") == "yes" for k in ("attest", "confirm")}
    problems = rules.submission_problems(amounts, ticked["attest"], open_steps, ticked["confirm"])
    # A figure that cannot be read keeps its own message rather than "enter the amount".
    errors = {**problems, **errors}
    if errors or period is None:
        raise SummaryInvalid(errors)
    provider_id = provider.id  # read before a failed flush could expire it
    summary, changes = _apply(provider, summary, year, amounts, period, version)
    _mark_submitted(provider, summary, user, now)
    lock = YearLock(provider_id=provider_id, year=year, locked_at=now, locked_by_id=user.id)
    db.session.add(lock)
    _write(provider_id, year)
    _audit_submission(provider, summary, lock, user, via, changes, open_steps)
    _write(provider_id, year, commit=True)
    return summary


def _mark_submitted(provider: Provider, summary: ProgramSummary, user: User, now: datetime):
    deadline = cycle.reporting_deadline(provider.accreditor_id, summary.year)
    # The year's report is late when its first submission was; a re-submission after an
    # accreditor's unlock is a correction and keeps that first verdict (each act's own
    # lateness is in its audit event).
    first = summary.submitted_at is None
    summary.submitted_late = deadlines.is_late(deadline, now) if first else summary.submitted_late
    summary.status, summary.attested = "submitted", True
    summary.submitted_at, summary.submitted_by_id, summary.updated_at = now, user.id, now


def _audit_submission(provider, summary, lock, user, via, changes, open_steps) -> None:
    common = dict(user_id=user.id, provider_id=provider.id, via=via, year=summary.year)
    if changes:
        audit.record("summary.saved", entity=summary, changes=changes, **common)
    deadline = cycle.reporting_deadline(provider.accreditor_id, summary.year)
    audit.record(
        "summary.submitted",
        entity=summary,
        late=deadlines.is_late(deadline, summary.submitted_at),
        recorded_late=summary.submitted_late,
        period=[summary.period_start.isoformat(), summary.period_end.isoformat()],
        open_steps=open_steps,
        **common,
    )
    audit.record("year.locked", entity=lock, **common)

"""An accreditor sets or changes its reporting deadline for a year, with a reason (audited).

One `reporting_deadlines` row per accreditor and year; `services.cycle.reporting_deadline`
reads it on every request, so providers see a change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain import deadlines
from ..domain import oversight as rules
from ..domain.values import parse_date
from ..extensions import db
from ..models import Accreditor, ReportingDeadline, User
from . import audit


class DeadlineInvalid(ValueError):
    """Field errors of a deadline form, as {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class DeadlineRow:
    """One year's deadline as the accreditor's providers see it."""

    year: int
    due: datetime  # in effect (Central)
    rule: datetime  # ACCME's rule for the year
    stored: ReportingDeadline | None
    set_by: str | None  # email of whoever set the stored row


def deadline_rows(accreditor: Accreditor, years: list[int]) -> list[DeadlineRow]:
    """The deadline in effect for each of `years`: the stored row, else ACCME's rule."""
    stored = {
        row.year: (row, email)
        for row, email in db.session.execute(
            select(ReportingDeadline, User.email)
            .outerjoin(User, User.id == ReportingDeadline.set_by_id)
            .where(
                ReportingDeadline.accreditor_id == accreditor.id,
                ReportingDeadline.year.in_(years),
            )
        )
    }
    out = []
    for year in years:
        row, email = stored.get(year, (None, None))
        rule = deadlines.default_deadline(year)
        due = row.due_at.astimezone(deadlines.CENTRAL) if row else rule
        out.append(DeadlineRow(year, due, rule, row, email))
    return out


def set_deadline(
    accreditor: Accreditor,
    year: int,
    raw_date: str,
    raw_reason: str,
    user: User,
    now: datetime,
    via: str = "web",
) -> ReportingDeadline:
    """Set (or change) the accreditor's deadline for `year` to 11:59 p.m. Central that day."""
    due_day, reason = _validated(year, raw_date, raw_reason)
    due = deadlines.deadline_from_local(due_day)
    row = db.session.scalar(
        select(ReportingDeadline).where(
            ReportingDeadline.accreditor_id == accreditor.id, ReportingDeadline.year == year
        )
    )
    before = _state(row.due_at if row else deadlines.default_deadline(year), row)
    if row is None:
        row = ReportingDeadline(accreditor_id=accreditor.id, year=year, due_at=due)
        db.session.add(row)
    row.due_at, row.reason, row.set_by_id, row.set_at = due, reason, user.id, now
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # another person created the row at the same moment
        msg = "Someone else set this deadline at the same moment. Reload and check it."
        raise DeadlineInvalid({"due": msg}) from None
    after = _state(due, row)
    audit.record(
        "deadline.set",
        user_id=user.id,
        accreditor_id=accreditor.id,
        entity=row,
        via=via,
        year=year,
        before=before,
        after=after,
    )
    db.session.commit()
    return row


def _validated(year: int, raw_date: str, raw_reason: str):
    errors: dict[str, str] = {}
    due_day = None
    try:
        due_day = parse_date((raw_date or "").strip())
    except ValueError as err:
        errors["due"] = str(err)
    if due_day is None and "due" not in errors:
        errors["due"] = "Enter the deadline date."
    elif due_day is not None and (problem := rules.deadline_problem(year, due_day)):
        errors["due"] = problem
    reason = rules.clean_reason(raw_reason)
    if problem := rules.reason_problem(reason):
        errors["reason"] = problem
    if errors:
        raise DeadlineInvalid(errors)
    return due_day, reason


def _state(due: datetime, row: ReportingDeadline | None) -> dict[str, str]:
    """What the audit event shows: the deadline in Central words, and where it came from."""
    text = deadlines.format_deadline(due.astimezone(deadlines.CENTRAL))
    if row is None or row.id is None:
        return {"deadline": text, "source": "ACCME rule"}
    return {"deadline": text, "source": "set by the accreditor", "reason": row.reason}

"""The yearly cycle for a provider: its deadline, its default reporting year, the year lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..domain import deadlines
from ..extensions import db
from ..models import Provider, ReportingDeadline, YearLock


def reporting_deadline(accreditor_id: int, year: int) -> datetime:
    """The accreditor's deadline for `year`: its own row when set, else ACCME's rule."""
    due = db.session.scalar(
        select(ReportingDeadline.due_at).where(
            ReportingDeadline.accreditor_id == accreditor_id, ReportingDeadline.year == year
        )
    )
    if due is None:
        return deadlines.default_deadline(year)
    return due.astimezone(deadlines.CENTRAL)


def default_year(provider: Provider, now: datetime) -> int:
    """The year a provider is closing out now (see domain.deadlines.default_reporting_year)."""
    return deadlines.default_reporting_year(
        now, lambda y: reporting_deadline(provider.accreditor_id, y)
    )


def is_year_locked(provider_id: int, year: int) -> bool:
    return (
        db.session.scalar(
            select(YearLock.id).where(
                YearLock.provider_id == provider_id,
                YearLock.year == year,
                YearLock.unlocked_at.is_(None),
            )
        )
        is not None
    )

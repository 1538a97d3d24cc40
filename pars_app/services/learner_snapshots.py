"""Enduring materials' December 31 learner counts (checklist step 3): the yearly list, with each
material's previous snapshot beside this year's, and recording a snapshot.

The list costs a fixed number of queries whatever the number of materials: one count (total
and missing together) and one page query that outer-joins this year's snapshot and the latest
earlier one (found by a correlated subquery) to each material.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Load, aliased
from sqlalchemy.orm.exc import StaleDataError

from ..domain import enduring as rules
from ..extensions import db
from ..models import Activity, LearnerSnapshot, Provider, User
from . import audit, clock, cycle
from .activities import refresh_derived
from .checklist import enduring_in_year
from .paging import Paged, clamp_page

PER_PAGE = 50
LOCKED = "The {year} report is submitted and locked: its December 31 counts are read-only."


class SnapshotInvalid(ValueError):
    """The entered counts cannot be saved; `errors` maps "physicians"/"others" to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SnapshotConflict(RuntimeError):
    """Someone saved this material's counts (or the activity) after this user loaded them."""

    def __init__(self, by: str, at: datetime | None):
        super().__init__(f"changed by {by}")
        self.by = by
        self.at = at


class SnapshotRefused(ValueError):
    """Counts for this material and year cannot be recorded at all; the message says why."""


def _counts(s: LearnerSnapshot | None) -> rules.Counts | None:
    return rules.Counts(s.physicians, s.others) if s is not None else None


@dataclass(frozen=True)
class EnduringRow:
    """One material in the year's list: this year's snapshot and the latest earlier one."""

    activity: Activity
    year: int
    current: LearnerSnapshot | None
    previous: LearnerSnapshot | None
    recorded_by: str | None  # email of whoever recorded this year's snapshot

    @property
    def final(self) -> bool:
        return rules.is_final_year(self.activity.end_date, self.year)

    @property
    def first_year(self) -> bool:
        return self.activity.start_date.year == self.year

    @property
    def increase(self) -> rules.Counts | None:
        return rules.increase(_counts(self.previous), _counts(self.current), self.first_year)

    @property
    def warnings(self) -> list[str]:
        prev_year = self.previous.year if self.previous is not None else None
        return rules.decrease_warnings(_counts(self.previous), prev_year, _counts(self.current))

    @property
    def version(self) -> int:
        """What an edit starts from: 0 while no snapshot exists for the year."""
        return self.current.version if self.current is not None else 0


@dataclass(frozen=True)
class EnduringPage(Paged):
    year: int
    rows: list[EnduringRow]
    available: int  # materials available in the year
    missing: int  # of which without a snapshot for the year
    missing_only: bool
    page: int
    per_page: int = PER_PAGE

    @property
    def total(self) -> int:
        return self.missing if self.missing_only else self.available


def _current_join(year: int):
    current = aliased(LearnerSnapshot, name="current_snapshot")
    return current, and_(current.activity_id == Activity.id, current.year == year)


def _rows_query(provider_id: int, year: int) -> tuple[Select, Any]:
    """Materials of the year with this year's snapshot, the latest earlier one, the recorder."""
    current, on_current = _current_join(year)
    previous = aliased(LearnerSnapshot, name="previous_snapshot")
    earlier = aliased(LearnerSnapshot, name="earlier")
    latest_earlier_year = (
        select(func.max(earlier.year))
        .where(earlier.activity_id == Activity.id, earlier.year < year)
        .correlate(Activity)
        .scalar_subquery()
    )
    recorder = aliased(User, name="recorder")
    query = (
        select(Activity, current, previous, recorder.email)
        .outerjoin(current, on_current)
        .outerjoin(
            previous,
            and_(previous.activity_id == Activity.id, previous.year == latest_earlier_year),
        )
        .outerjoin(recorder, recorder.id == current.recorded_by_id)
        .where(enduring_in_year(provider_id, year))
        # The page shows columns only: a lazy load per row would be an N+1, so make it fail.
        .options(Load(Activity).raiseload("*"))
    )
    return query, current


def _row(year: int, found) -> EnduringRow:
    activity, current, previous, email = found
    return EnduringRow(activity, year, current, previous, email)


def year_counts(provider_id: int, year: int) -> tuple[int, int]:
    """(materials available in `year`, how many of them lack a snapshot): one query."""
    current, on_current = _current_join(year)
    available, missing = db.session.execute(
        select(
            func.count(Activity.id),
            func.coalesce(func.sum(case((current.id.is_(None), 1), else_=0)), 0),
        )
        .select_from(Activity)
        .outerjoin(current, on_current)
        .where(enduring_in_year(provider_id, year))
    ).one()
    return available, missing


def list_enduring(provider_id: int, year: int, missing_only: bool, page: int) -> EnduringPage:
    """One page of the materials available in `year`: two queries, whatever the data size."""
    available, missing = year_counts(provider_id, year)
    total = missing if missing_only else available
    page = clamp_page(page, total, PER_PAGE)
    query, current = _rows_query(provider_id, year)
    if missing_only:
        query = query.where(current.id.is_(None))
    found = db.session.execute(
        query.order_by(Activity.provider_activity_id, Activity.id)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    rows = [_row(year, f) for f in found]
    return EnduringPage(year, rows, available, missing, missing_only, page)


def enduring_row(provider_id: int, year: int, activity_id: int) -> EnduringRow | None:
    """One material's row for `year`, or None when it is not an enduring material of that year."""
    query, _current = _rows_query(provider_id, year)
    found = db.session.execute(query.where(Activity.id == activity_id)).first()
    return _row(year, found) if found is not None else None


def year_locked_reason(provider_id: int, year: int) -> str | None:
    """Why the year's counts are read-only (its report is submitted), else None."""
    return LOCKED.format(year=year) if cycle.is_year_locked(provider_id, year) else None


def refusal(activity: Activity, year: int) -> str | None:
    """Why counts of `activity` as of December 31 of `year` cannot be recorded, else None."""
    if activity.format != "EM" or not rules.available_in(
        activity.start_date, activity.end_date, year
    ):
        return f"This activity is not an enduring material available in {year}."
    if reason := year_locked_reason(activity.provider_id, year):
        return reason
    return rules.snapshot_year_problem(year, clock.today())


def _stored(activity_id: int, year: int) -> LearnerSnapshot | None:
    return db.session.scalar(
        select(LearnerSnapshot).where(
            LearnerSnapshot.activity_id == activity_id, LearnerSnapshot.year == year
        )
    )


def _conflict_of(snapshot: LearnerSnapshot | None, activity: Activity) -> SnapshotConflict:
    if snapshot is not None:
        by = snapshot.recorded_by.email if snapshot.recorded_by else "someone else"
        return SnapshotConflict(by, snapshot.recorded_at)
    by = activity.updated_by.email if activity.updated_by else "someone else"
    return SnapshotConflict(by, activity.updated_at)


def _check(activity: Activity, year: int, values: Mapping[str, Any]) -> rules.Counts:
    if reason := refusal(activity, year):
        raise SnapshotRefused(reason)
    counts, errors = rules.parse_counts(values.get("physicians"), values.get("others"))
    if counts is None:
        raise SnapshotInvalid(errors)
    if rules.is_final_year(activity.end_date, year) and activity.closed_at is not None:
        closed = (
            rules.Counts(activity.physician_learners, activity.other_learners)
            if activity.physician_learners is not None and activity.other_learners is not None
            else None
        )
        if problem := rules.closed_final_problem(closed, counts):
            raise SnapshotInvalid({"physicians": problem})
    return counts


def _final_totals(activity: Activity, counts: rules.Counts, user_id: int, now: datetime) -> dict:
    """In the material's last year its count is the activity's final total (spec §6)."""
    before = (activity.physician_learners, activity.other_learners)
    after = (counts.physicians, counts.others)
    if before == after:
        return {}
    activity.physician_learners, activity.other_learners = after
    activity.updated_by_id, activity.updated_at = user_id, now
    refresh_derived(activity)
    return {
        "physician_learners": [before[0], after[0]],
        "other_learners": [before[1], after[1]],
    }


def _unchanged(
    activity: Activity, year: int, snapshot: LearnerSnapshot, counts: rules.Counts
) -> bool:
    """True when saving would change nothing (same snapshot, same final totals)."""
    if _counts(snapshot) != counts:
        return False
    if not rules.is_final_year(activity.end_date, year):
        return True
    return (activity.physician_learners, activity.other_learners) == (
        counts.physicians,
        counts.others,
    )


def _write(
    provider: Provider,
    activity: Activity,
    year: int,
    counts: rules.Counts,
    snapshot: LearnerSnapshot | None,
    user_id: int,
    now: datetime,
    via: str,
) -> LearnerSnapshot:
    before = _counts(snapshot)
    if snapshot is None:
        snapshot = LearnerSnapshot(
            provider_id=activity.provider_id, activity_id=activity.id, year=year
        )
        db.session.add(snapshot)
    snapshot.as_of = rules.as_of(year)
    snapshot.physicians, snapshot.others = counts.physicians, counts.others
    snapshot.recorded_by_id, snapshot.recorded_at = user_id, now
    final = rules.is_final_year(activity.end_date, year)
    activity_changes = _final_totals(activity, counts, user_id, now) if final else {}
    db.session.flush()
    changes = {
        "physicians": [before.physicians if before else None, counts.physicians],
        "others": [before.others if before else None, counts.others],
    }
    details: dict[str, Any] = {"activity_id": activity.id, "year": year, "changes": changes}
    if activity_changes:
        details["activity_changes"] = activity_changes
    event = audit.record(
        "snapshot.recorded",
        user_id=user_id,
        provider_id=provider.id,
        entity=snapshot,
        via=via,
        **details,
    )
    event.at = now
    db.session.commit()
    return snapshot


def record_snapshot(
    provider: Provider,
    activity: Activity,
    year: int,
    values: Mapping[str, Any],
    version: int | None,
    user: User,
    now: datetime,
    via: str = "inline",
) -> LearnerSnapshot:
    """Create or update the December 31 snapshot of `year` from `values`, audited, one commit.

    `version` is the snapshot version the user started from (0: there was none). A newer
    stored one is a conflict, never silently overwritten.
    """
    counts = _check(activity, year, values)
    snapshot = _stored(activity.id, year)
    if (snapshot.version if snapshot is not None else 0) != (version or 0):
        raise _conflict_of(snapshot, activity)
    if snapshot is not None and _unchanged(activity, year, snapshot, counts):
        return snapshot  # nothing to save: no version bump, no audit event
    activity_id, user_id = activity.id, user.id
    try:
        return _write(provider, activity, year, counts, snapshot, user_id, now, via)
    except (IntegrityError, StaleDataError):
        # Another save created the snapshot (unique activity/year) or changed the snapshot or
        # the activity between our check and our write.
        db.session.rollback()
        current = db.session.get(Activity, activity_id)
        if current is None:
            raise SnapshotRefused("This activity was deleted by someone else.") from None
        raise _conflict_of(_stored(activity_id, year), current) from None

"""Closing activities (spec §5: Closed is an explicit act), one from its page or many from the
list, reopening them until their year is locked, and undoing a bulk close.

A bulk close is set-based whatever its size: one UPDATE closes every eligible activity of the
selection (eligibility from the stored `completeness`, the dates and the year locks, the same
rule `domain.status.evaluate(...).closable` applies to one activity), one INSERT … SELECT writes
the per-activity `activity.closed` events the history page reads, and one
`activities.bulk_closed` event lists the ids, which is what Undo reopens by.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, func, insert, literal, not_, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm.exc import StaleDataError

from ..domain import status as rules
from ..extensions import db
from ..models import Activity, AuditEvent, Provider, User, YearLock
from ..models.types import UTCDateTime
from . import activity_list, audit, clock, data_version
from .activities import facts_of
from .activity_edit import CLOSED_ACTION, LOCKED

REOPENED_ACTION = "activity.reopened"
BULK_CLOSED_ACTION = "activities.bulk_closed"
BULK_REOPENED_ACTION = "activities.bulk_reopened"
REFUSED_CAP = 200  # refused activities listed with their reasons; the rest are counted
# Ids per statement where a list of ids is bound (SQLite allows 32,766 parameters).
CHUNK = 5_000


class CloseRefused(ValueError):
    """The activity cannot be closed or reopened; `reasons` lists each thing in the way."""

    def __init__(self, reasons: Sequence[str]):
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


class CloseConflict(RuntimeError):
    """Someone changed the activity while it was being closed or reopened; nothing was saved."""


class OperationNotFound(LookupError):
    """No bulk close of this provider has that id."""


# --- Rules that need the database ---------------------------------------------------------


def locked_years(provider_id: int) -> frozenset[int]:
    """The provider's years whose report is submitted and locked now (one small query)."""
    return frozenset(
        db.session.scalars(
            select(YearLock.year)
            .where(YearLock.provider_id == provider_id, YearLock.unlocked_at.is_(None))
            .distinct()
        )
    )


def _locked_message(year: int) -> str:
    return LOCKED.format(year=year) + ": its activities stay as they are."


def close_refusal(a: Activity, today: date, locked: frozenset[int] | None = None) -> list[str]:
    """Everything that keeps `a` from being closed today (empty when it can be)."""
    if a.closed_at is not None:
        return ["This activity is already closed."]
    locked = locked if locked is not None else locked_years(a.provider_id)
    if a.end_date.year in locked:
        return [_locked_message(a.end_date.year)]
    report = rules.evaluate(facts_of(a), today)
    if report.closable:
        return []
    return [p.message for p in report.missing_to_close] or ["It cannot be closed yet."]


def reopen_refusal(a: Activity, locked: frozenset[int] | None = None) -> str | None:
    """Why `a` cannot be reopened (not closed, or its year is locked), else None."""
    if a.closed_at is None:
        return "This activity is not closed."
    locked = locked if locked is not None else locked_years(a.provider_id)
    if a.end_date.year in locked:
        return (
            LOCKED.format(year=a.end_date.year) + ": it stays closed unless the year is unlocked."
        )
    return None


# --- One activity ---------------------------------------------------------------------------


def _save_one(provider: Provider, a: Activity, user: User, now: datetime, action: str, via: str):
    activity_id = a.id
    a.updated_by_id, a.updated_at = user.id, now
    try:
        db.session.flush()
        event = audit.record(action, user_id=user.id, provider_id=provider.id, entity=a, via=via)
        event.at = now
        db.session.commit()
    except StaleDataError:  # changed by someone else between our check and our write
        db.session.rollback()
        raise CloseConflict(f"Activity {activity_id} was changed meanwhile.") from None


def close_activity(
    provider: Provider, activity: Activity, user: User, now: datetime, via: str = "form"
) -> Activity:
    """Close one activity when every Closed field is valid; else refuse naming each one."""
    if reasons := close_refusal(activity, clock.today()):
        raise CloseRefused(reasons)
    activity.closed_at, activity.closed_by_id = now, user.id
    _save_one(provider, activity, user, now, CLOSED_ACTION, via)
    return activity


def reopen_activity(
    provider: Provider, activity: Activity, user: User, now: datetime, via: str = "form"
) -> Activity:
    """Reopen a closed activity, allowed until the year of its end date is locked."""
    if reason := reopen_refusal(activity):
        raise CloseRefused([reason])
    activity.closed_at, activity.closed_by_id = None, None
    _save_one(provider, activity, user, now, REOPENED_ACTION, via)
    return activity


# --- Many activities -----------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A selected activity that was not closed, and why."""

    activity_id: int
    provider_activity_id: str
    title: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class BulkCloseResult:
    closed_ids: tuple[int, ...]
    refused: tuple[Refusal, ...]  # at most REFUSED_CAP, in Provider Activity ID order
    refused_total: int
    already_closed: int  # selected but closed before: neither closed now nor refused
    operation_id: int | None  # the `activities.bulk_closed` event (what Undo names)

    @property
    def closed(self) -> int:
        return len(self.closed_ids)

    @property
    def refused_more(self) -> int:
        return self.refused_total - len(self.refused)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _selection(
    provider_id: int,
    ids: Collection[int] | None,
    f: activity_list.ActivityFilter | None,
    today: date,
) -> list:
    """The WHERE clauses of what the user selected: ids, a re-run list filter, or both."""
    if ids is None and f is None:
        raise ValueError("A bulk close needs ids or a filter: it never closes everything.")
    cond = [Activity.provider_id == provider_id]
    if f is not None:
        cond += activity_list.conditions(provider_id, f, today)
    if ids is not None:
        cond.append(Activity.id.in_(sorted(set(ids))))
    return cond


def _not_locked(locked: frozenset[int]) -> list:
    return (
        [not_(or_(*(Activity.end_date.between(date(y, 1, 1), date(y, 12, 31)) for y in locked)))]
        if locked
        else []
    )


def _closable_now(today: date, locked: frozenset[int]) -> list:
    """Set-based twin of `close_refusal(...) == []` for open activities, from stored columns."""
    return [
        Activity.completeness == rules.LEVEL_CLOSABLE,
        Activity.end_date < today,
        *_not_locked(locked),
    ]


# An activity the UPDATE found ineligible but that someone made closable before it was counted
# (PostgreSQL runs each statement on its own snapshot): it was not closed, so it is listed.
CHANGED_MEANWHILE = "It was changed while the others were being closed: select it and close again."


def _reasons(a: Activity, today: date, locked: frozenset[int]) -> tuple[str, ...]:
    return tuple(close_refusal(a, today, locked)) or (CHANGED_MEANWHILE,)


def _refusals(chosen: list, today: date, locked: frozenset[int]) -> tuple[tuple[Refusal, ...], int]:
    """Selected activities still open after the closing UPDATE, in its transaction: the ones it
    refused. The first REFUSED_CAP come with their reasons."""
    cond = [*chosen, Activity.closed_at.is_(None)]
    total = db.session.scalar(select(func.count()).select_from(Activity).where(*cond)) or 0
    if not total:
        return (), 0
    # One query for the rows; their children come with the mapper's selectin loads.
    rows = db.session.scalars(
        select(Activity)
        .where(*cond)
        .order_by(Activity.provider_activity_id, Activity.id)
        .limit(REFUSED_CAP)
    ).all()
    refused = tuple(
        Refusal(a.id, a.provider_activity_id, a.title, _reasons(a, today, locked)) for a in rows
    )
    return refused, total


def _per_activity_events(
    action: str, ids: Sequence[int], provider_id: int, user_id: int, now: datetime, via: str
) -> None:
    """One audit event per activity (what its history shows), written set-based."""
    columns = ["at", "user_id", "provider_id", "action", "entity_type", "entity_id", "via"]
    table = AuditEvent.__table__
    for chunk in _chunks(ids):
        rows = select(
            literal(now, UTCDateTime()),
            literal(user_id, Integer()),
            literal(provider_id, Integer()),
            literal(action, String()),
            literal("Activity", String()),
            Activity.id,
            literal(via, String()),
        ).where(Activity.provider_id == provider_id, Activity.id.in_(chunk))
        db.session.execute(insert(table).from_select(columns, rows))


def _set_closed(provider_id: int, where: list, values: dict[str, Any]) -> list[int]:
    """One UPDATE of `provider_id`'s rows matching `where`; returns the ids it changed."""
    data_version.touch(provider_id)  # a bulk UPDATE: say whose counts it moves
    statement = (
        sql_update(Activity)
        .where(*where)
        .values(version=Activity.version + 1, **values)
        .returning(Activity.id)
    )
    found = db.session.execute(statement, execution_options={"synchronize_session": False})
    return sorted(found.scalars())


def _already_closed(chosen: list, now: datetime) -> int:
    """Selected activities closed, but not by this close (its rows carry its instant)."""
    cond = [*chosen, Activity.closed_at.is_not(None), Activity.closed_at != now]
    return db.session.scalar(select(func.count()).select_from(Activity).where(*cond)) or 0


def bulk_close(
    provider: Provider,
    user: User,
    now: datetime,
    *,
    ids: Collection[int] | None = None,
    f: activity_list.ActivityFilter | None = None,
    today: date | None = None,
) -> BulkCloseResult:
    """Close every eligible activity of the selection in one transaction (set-based).

    The selection is `ids`, or `f` re-run ("select all N matching this filter"), or both
    (their intersection). The refused ones come back with their reasons.
    """
    today = today or clock.today()
    chosen = _selection(provider.id, ids, f, today)
    locked = locked_years(provider.id)
    eligible = _closable_now(today, locked)
    values = dict(closed_at=now, closed_by_id=user.id, updated_at=now, updated_by_id=user.id)
    closed = _set_closed(provider.id, [*chosen, Activity.closed_at.is_(None), *eligible], values)
    # Refused and already-closed are counted after the UPDATE, in its transaction, so the three
    # add up to the selection. Counted before it, an activity an inline edit made ineligible in
    # between was neither closed nor refused, in the answer or in the audit event
    # (tests/services/test_concurrency_processes.py).
    refused, refused_total = _refusals(chosen, today, locked)
    already = _already_closed(chosen, now)
    if not closed:
        db.session.rollback()
        return BulkCloseResult((), refused, refused_total, already, None)
    selection: Any = f.args(page=1) if f is not None else "ids"
    operation = audit.record(
        BULK_CLOSED_ACTION, user_id=user.id, provider_id=provider.id, via="bulk",
        ids=closed, count=len(closed), refused=refused_total, already_closed=already,
        selection=selection,
    )  # fmt: skip
    operation.at = now
    db.session.flush()  # the operation's event first: its id is what Undo names
    _per_activity_events(CLOSED_ACTION, closed, provider.id, user.id, now, "bulk")
    db.session.commit()
    return BulkCloseResult(tuple(closed), refused, refused_total, already, operation.id)


# --- Undo -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndoResult:
    reopened_ids: tuple[int, ...]
    locked: int  # in a year locked since: they stay closed
    changed: int  # reopened or closed again since: not this operation's to undo any more
    operation_id: int

    @property
    def reopened(self) -> int:
        return len(self.reopened_ids)


def operation(provider_id: int, operation_id: int) -> AuditEvent:
    """The provider's bulk close `operation_id`, else OperationNotFound (a 404)."""
    event = db.session.get(AuditEvent, operation_id)
    if event is None or event.action != BULK_CLOSED_ACTION or event.provider_id != provider_id:
        raise OperationNotFound(operation_id)
    return event


def undone_by(op: AuditEvent) -> AuditEvent | None:
    """The event that undid this bulk close, if any."""
    return db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == BULK_REOPENED_ACTION,
            AuditEvent.entity_type == "AuditEvent",
            AuditEvent.entity_id == op.id,
        )
    )


def _ids_of(op: AuditEvent) -> list[int]:
    details = json.loads(op.details or "{}")
    return sorted(i for i in details.get("ids", []) if isinstance(i, int))


def _undo_refusal(op: AuditEvent) -> str | None:
    done = undone_by(op)
    if done is None:
        return None
    who = db.session.get(User, done.user_id) if done.user_id else None
    by = who.email if who else "someone"
    return f"This bulk close was already undone by {by}."


def _count_locked(ids: Sequence[int], op_at: datetime, locked: frozenset[int]) -> int:
    """Of `ids`, those still closed by the operation but in a year locked since."""
    if not locked:
        return 0
    lock = or_(*(Activity.end_date.between(date(y, 1, 1), date(y, 12, 31)) for y in locked))
    total = 0
    for chunk in _chunks(ids):
        cond = [Activity.id.in_(chunk), Activity.closed_at == op_at, lock]
        total += db.session.scalar(select(func.count()).select_from(Activity).where(*cond)) or 0
    return total


def undo_bulk_close(provider: Provider, operation_id: int, user: User, now: datetime) -> UndoResult:
    """Reopen exactly the activities a bulk close closed, if still closed by it (set-based)."""
    op = operation(provider.id, operation_id)
    if reason := _undo_refusal(op):
        raise CloseRefused([reason])
    ids, locked = _ids_of(op), locked_years(provider.id)
    # Still closed by this operation: its own instant. One reopened and closed again since is
    # someone's later decision, not this operation's to undo.
    mine = [Activity.provider_id == provider.id, Activity.closed_at == op.at, *_not_locked(locked)]
    values = dict(closed_at=None, closed_by_id=None, updated_at=now, updated_by_id=user.id)
    reopened: list[int] = []
    for chunk in _chunks(ids):
        reopened += _set_closed(provider.id, [Activity.id.in_(chunk), *mine], values)
    still_locked = _count_locked(ids, op.at, locked)
    changed = len(ids) - len(reopened) - still_locked
    if not reopened:
        db.session.rollback()
        raise CloseRefused([_nothing_to_undo(still_locked, changed)])
    event = audit.record(
        BULK_REOPENED_ACTION, user_id=user.id, provider_id=provider.id, entity=op, via="bulk",
        ids=reopened, count=len(reopened), operation_id=op.id,
    )  # fmt: skip
    event.at = now
    db.session.flush()
    _per_activity_events(REOPENED_ACTION, reopened, provider.id, user.id, now, "bulk")
    db.session.commit()
    return UndoResult(tuple(reopened), still_locked, changed, op.id)


def _nothing_to_undo(locked: int, changed: int) -> str:
    if locked and not changed:
        return "Nothing was reopened: their year is submitted and locked."
    return "Nothing was reopened: they were reopened or closed again since."

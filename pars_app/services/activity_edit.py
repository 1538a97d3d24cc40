"""Creating, editing and deleting activities: the checks that need the database, the writes,
the audit trail, one commit per save."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from ..domain import status as rules
from ..extensions import db
from ..models import (
    Activity,
    AuditEvent,
    CommercialSupporter,
    JointProvider,
    MocRegistration,
    Provider,
    User,
)
from . import audit, clock, cycle
from .activities import facts_of, refresh_derived
from .activity_input import SCALAR_FIELDS, ActivityInput, Errors

# Audit action a close writes (issue 3, point 4): an activity closed once is never a plain Draft
# again, even if reopened and emptied, so it cannot be deleted.
CLOSED_ACTION = "activity.closed"
LOCKED = "The {year} report is submitted and locked"
ID_ATTEMPTS = 3  # generated IDs: retries when a concurrent save took the same number
_GENERATED_ID = re.compile(r"\d{4}-(\d{1,9})")

# Columns the form sets directly: the form's plain fields less the two IDs (validated apart)
# and the joint providers (a child table).
SCALARS: tuple[str, ...] = tuple(
    f
    for f in SCALAR_FIELDS
    if f not in ("provider_activity_id", "accme_activity_id", "joint_providers")
)


class ActivityInvalid(ValueError):
    """The input cannot be saved; `errors` maps each form field to its messages."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


class ActivityConflict(RuntimeError):
    """Someone saved the activity after this user opened it; `current` is what is stored."""

    def __init__(self, current: Activity):
        super().__init__("changed by someone else")
        self.current = current


class ActivityRefused(ValueError):
    """The activity cannot be changed at all now; the message says why."""


# --- Rules that need the database ---------------------------------------------------------


def edit_refusal(a: Activity) -> str | None:
    """Why the activity cannot be edited now (closed, or its year locked), else None."""
    if a.closed_at is not None:
        return "This activity is closed: reopen it first to edit it."
    if cycle.is_year_locked(a.provider_id, a.end_date.year):
        return LOCKED.format(year=a.end_date.year) + ": its activities are read-only."
    return None


def _ever_closed(a: Activity) -> bool:
    return (
        db.session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.entity_type == "Activity",
                AuditEvent.entity_id == a.id,
                AuditEvent.action == CLOSED_ACTION,
            )
            .limit(1)
        )
        is not None
    )


def delete_refusal(a: Activity) -> str | None:
    """Why the activity cannot be deleted (only Drafts never closed can be), else None."""
    if a.closed_at is not None:
        return "Closed activities cannot be deleted."
    if reason := edit_refusal(a):
        return reason
    report = rules.evaluate(facts_of(a), clock.today())
    if report.status is not rules.Status.DRAFT:
        label = rules.STATUS_LABELS[report.status]
        return f"Only Drafts can be deleted; this activity is {label}."
    if _ever_closed(a):
        return "This activity was closed before, so it stays on record: it cannot be deleted."
    return None


def next_provider_activity_id(provider_id: int, year: int) -> str:
    """The provider's next free generated ID for a year: '2025-0001', '2025-0002', ..."""
    prefix = f"{year}-"
    taken = db.session.scalars(
        select(Activity.provider_activity_id).where(
            Activity.provider_id == provider_id,
            Activity.provider_activity_id.startswith(prefix, autoescape=True),
        )
    )
    numbers = [int(m.group(1)) for pid in taken if (m := _GENERATED_ID.fullmatch(pid))]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _id_taken(provider_id: int, pid: str, own_id: int | None) -> bool:
    clash = db.session.scalar(
        select(Activity.id).where(
            Activity.provider_id == provider_id,
            Activity.provider_activity_id == pid,
            Activity.id != (own_id or 0),
        )
    )
    return clash is not None


def _taken_message(pid: str) -> str:
    return f"Another activity already has the ID “{pid}”: choose another, or leave it blank."


def _identity_errors(provider: Provider, a: Activity | None, data: ActivityInput) -> Errors:
    errors: Errors = {}
    pid = data.provider_activity_id
    if a is not None and not pid:
        # The ID is the key batch files update by; silently swapping it would break them.
        errors["provider_activity_id"] = ["Enter the Provider Activity ID."]
    elif pid and _id_taken(provider.id, pid, a.id if a else None):
        errors["provider_activity_id"] = [_taken_message(pid)]
    stored = a.accme_activity_id if a is not None else None
    if stored is not None and data.accme_activity_id not in (None, stored):
        errors["accme_activity_id"] = ["The ACCME Activity ID is set and cannot be changed."]
    return errors


def input_errors(
    data: ActivityInput, end_year_locked: bool, draft: list[rules.Problem] | None = None
) -> Errors:
    """What blocks saving `data` whatever the other rows say: Draft-level rules, a locked end
    year, MOC boards. Shared by the form and batch imports (which know the locks already, and
    pass the Draft problems of `data.facts()` when they have them)."""
    errors: Errors = {}
    if draft is None:
        draft = rules.draft_problems(data.facts())
    for problem in draft:
        errors.setdefault(problem.field, []).append(problem.message)
    if data.end_date and end_year_locked:
        message = LOCKED.format(year=data.end_date.year) + ": choose an end date in another year."
        errors.setdefault("end_date", []).append(message)
    boards = [m.board for m in data.moc]
    if "" in boards or len(set(boards)) != len(boards):
        # The table allows one row per board; the form reports this per row already.
        errors.setdefault("moc", []).append("Enter each MOC board once, with its name.")
    return errors


def check_activity(provider: Provider, a: Activity | None, data: ActivityInput) -> Errors:
    """Everything that blocks saving: Draft-level rules, unique ID, locked year, MOC boards."""
    locked = bool(data.end_date) and cycle.is_year_locked(provider.id, data.end_date.year)
    errors = input_errors(data, locked)
    for key, messages in _identity_errors(provider, a, data).items():
        errors.setdefault(key, []).extend(messages)
    return errors


# --- Saving --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return value


def _snapshot(a: Activity) -> dict[str, Any]:
    """What the form manages, as JSON-friendly values (the audit trail's before/after)."""
    names = ("provider_activity_id", "accme_activity_id", *SCALARS)
    out: dict[str, Any] = {name: _plain(getattr(a, name)) for name in names}
    out["joint_providers"] = [j.name for j in a.joint_providers]
    out["supporters"] = [
        dict(
            name=s.name,
            kind=s.kind,
            amount_cents=s.amount_cents,
            in_kind_nature=s.in_kind_nature,
            in_kind_other=s.in_kind_other,
        )
        for s in a.supporters
    ]
    out["moc"] = [
        dict(board=m.board, credit_types=m.credit_types, points=_plain(m.points))
        | dict(practice_areas=m.practice_areas)
        for m in sorted(a.moc_registrations, key=lambda m: m.board)
    ]
    return out


def input_snapshot(data: ActivityInput, pid: str, stored_accme_id: int | None) -> dict[str, Any]:
    """What `_snapshot` would give after saving `data` with this ID: compared with the stored
    snapshot, it says what a batch row changes without touching the activity."""
    out: dict[str, Any] = {
        "provider_activity_id": pid,
        "accme_activity_id": stored_accme_id
        if stored_accme_id is not None
        else data.accme_activity_id,
    }
    out.update({name: _plain(getattr(data, name)) for name in SCALARS})
    out["joint_providers"] = list(data.joint_providers)
    out["supporters"] = [
        dict(
            name=s.name,
            kind=s.kind,
            amount_cents=s.amount_cents,
            in_kind_nature=s.in_kind_nature,
            in_kind_other=s.in_kind_other,
        )
        for s in data.supporters
    ]
    out["moc"] = [
        dict(board=m.board, credit_types=", ".join(m.credit_types), points=_plain(m.points))
        | dict(practice_areas="\n".join(m.practice_areas))
        for m in sorted(data.moc, key=lambda m: m.board)
    ]
    return out


def snapshot(a: Activity) -> dict[str, Any]:
    """What the form manages of a stored activity, as JSON-friendly values."""
    return _snapshot(a)


def _sync_rows(rows: list, wanted: list[dict[str, Any]], model: type) -> None:
    """Update rows in place by position, add or drop the difference (fewer writes, no churn)."""
    for row, values in zip(rows, wanted, strict=False):
        for key, value in values.items():
            setattr(row, key, value)
    rows.extend(model(**values) for values in wanted[len(rows) :])
    del rows[len(wanted) :]


def _write_children(a: Activity, data: ActivityInput) -> None:
    joint = [dict(name=name, position=i) for i, name in enumerate(data.joint_providers)]
    _sync_rows(a.joint_providers, joint, JointProvider)
    supporters = [
        dict(
            position=i,
            name=s.name,
            kind=s.kind,
            amount_cents=s.amount_cents,
            in_kind_nature=s.in_kind_nature,
            in_kind_other=s.in_kind_other,
        )
        for i, s in enumerate(data.supporters)
    ]
    _sync_rows(a.supporters, supporters, CommercialSupporter)
    # MOC rows are matched by board: (activity, board) is unique, and re-using the row of a
    # board avoids a delete and an insert of the same key in one flush.
    by_board = {m.board: m for m in a.moc_registrations}
    registrations = []
    for m in data.moc:
        row = by_board.get(m.board) or MocRegistration(board=m.board)
        row.credit_types = ", ".join(m.credit_types)
        row.points = m.points
        row.practice_areas = "\n".join(m.practice_areas)
        registrations.append(row)
    a.moc_registrations = registrations


def _write_fields(a: Activity, data: ActivityInput, pid: str) -> None:
    a.provider_activity_id = pid
    if a.accme_activity_id is None:  # read-only once set
        a.accme_activity_id = data.accme_activity_id
    for name in SCALARS:
        setattr(a, name, getattr(data, name))
    _write_children(a, data)


def _write(
    provider: Provider, a: Activity | None, data: ActivityInput, user: User, now: datetime, via: str
) -> Activity:
    creating = a is None
    pid = data.provider_activity_id or next_provider_activity_id(provider.id, data.start_date.year)
    user_id, provider_id = user.id, provider.id
    # One UPDATE, written below: a lazy load in between (an expired user, say) must not flush
    # half the changes first, which would bump the version twice.
    with db.session.no_autoflush:
        if a is None:
            a = Activity(provider_id=provider_id, created_by_id=user_id, created_at=now)
            db.session.add(a)
        before = {} if creating else _snapshot(a)
        _write_fields(a, data, pid)
        after = _snapshot(a)
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        if not creating and not changes:
            return a  # nothing to save: no version bump, no audit event
        a.updated_by_id, a.updated_at = user_id, now
        # Always part of the UPDATE, so a change to children alone still bumps the version
        # and is caught by optimistic locking like any other.
        flag_modified(a, "updated_at")
        refresh_derived(a)
    db.session.flush()
    action = "activity.created" if creating else "activity.updated"
    event = audit.record(
        action, user_id=user_id, provider_id=provider_id, entity=a, via=via, changes=changes
    )
    event.at = now
    db.session.commit()
    return a


def _conflict(activity_id: int) -> Exception:
    current = db.session.get(Activity, activity_id)
    if current is None:
        return ActivityRefused("This activity was deleted by someone else.")
    return ActivityConflict(current)


def _write_retrying(
    provider: Provider, a: Activity | None, data: ActivityInput, user: User, now: datetime, via: str
) -> Activity:
    activity_id = a.id if a is not None else None
    for attempt in range(1, ID_ATTEMPTS + 1):
        try:
            return _write(provider, a, data, user, now, via)
        except IntegrityError:
            # The only unique key a checked input can hit: the Provider Activity ID, taken by
            # a save that committed after our check.
            db.session.rollback()
            if data.provider_activity_id:
                message = _taken_message(data.provider_activity_id)
                raise ActivityInvalid({"provider_activity_id": [message]}) from None
            if attempt == ID_ATTEMPTS:
                message = "Could not find a free ID right now: save again, or enter one."
                raise ActivityInvalid({"provider_activity_id": [message]}) from None
        except StaleDataError:  # saved by someone else between our check and our write
            db.session.rollback()
            if activity_id is None:
                raise
            raise _conflict(activity_id) from None
    raise AssertionError("unreachable")  # the loop returns or raises


def save_activity(
    provider: Provider,
    activity: Activity | None,
    data: ActivityInput,
    user: User,
    version: int | None,
    now: datetime,
    *,
    input_errors: Mapping[str, list[str]] | None = None,
    via: str = "web",
) -> Activity:
    """Create (`activity` None) or update an activity, audited, in one commit.

    `version` is the one the user started editing from; `input_errors` are messages found
    while reading the input, reported together with ours (theirs win for the same field).
    """
    if activity is not None:
        if reason := edit_refusal(activity):
            raise ActivityRefused(reason)
        if activity.version != version:
            raise ActivityConflict(activity)
    errors = check_activity(provider, activity, data) | dict(input_errors or {})
    if errors:
        raise ActivityInvalid(errors)
    return _write_retrying(provider, activity, data, user, now, via)


def delete_activity(
    provider: Provider, activity: Activity, user: User, now: datetime, via: str = "web"
) -> None:
    """Delete a Draft that was never closed (spec §5); anything else is refused with a reason."""
    if reason := delete_refusal(activity):
        raise ActivityRefused(reason)
    event = audit.record(
        "activity.deleted",
        user_id=user.id,
        provider_id=provider.id,
        entity=activity,
        via=via,
        deleted=_snapshot(activity),
    )
    event.at = now
    db.session.delete(activity)
    db.session.commit()


__all__ = [
    "ActivityConflict",
    "ActivityInput",
    "ActivityInvalid",
    "ActivityRefused",
    "check_activity",
    "delete_activity",
    "delete_refusal",
    "edit_refusal",
    "input_errors",
    "input_snapshot",
    "next_provider_activity_id",
    "save_activity",
]

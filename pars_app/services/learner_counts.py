"""An activity's physician and other learner counts, edited inline in the list and on the
detail page: parsed with `domain.values.parse_count`, refused for closed activities, locked
years and enduring materials, guarded by the activity's version, audited, one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from ..domain.values import parse_count
from ..extensions import db
from ..models import Activity, Provider, User
from . import audit, cycle
from .activities import refresh_derived
from .activity_edit import LOCKED

ACTION = "activity.counts_updated"
# Form field → Activity column. The form's names are short: they are what the inputs post.
FIELDS: dict[str, str] = {"physicians": "physician_learners", "others": "other_learners"}


class CountsInvalid(ValueError):
    """The typed counts cannot be saved; `errors` maps "physicians"/"others" to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class CountsConflict(RuntimeError):
    """Someone changed the activity after this user opened the counts; nothing was saved."""

    def __init__(self, current: Activity, by: str, at: datetime | None):
        super().__init__(f"changed by {by}")
        self.current = current
        self.by = by
        self.at = at


class CountsRefused(ValueError):
    """The counts of this activity cannot be changed now; the message says why."""


@dataclass(frozen=True)
class Counts:
    """Both counts of an activity; None is "not given yet"."""

    physicians: int | None
    others: int | None


def refusal(a: Activity, locked_years: frozenset[int] | None = None) -> str | None:
    """Why the counts of `a` cannot be edited inline, else None.

    `locked_years` (the provider's locked years) saves a query per row on a list page; without
    it the lock is looked up.
    """
    if a.closed_at is not None:
        return "Closed: reopen it to change its learner counts."
    year = a.end_date.year
    locked = (
        year in locked_years
        if locked_years is not None
        else cycle.is_year_locked(a.provider_id, year)
    )
    if locked:
        return LOCKED.format(year=year) + ": its learner counts are read-only."
    if a.format == "EM":
        # The totals of an enduring material are its final December 31 snapshot
        # (services.learner_snapshots): two ways to type them would drift apart.
        return "An enduring material's totals come from its December 31 counts: enter them there."
    return None


def parse_counts(values: Mapping[str, Any]) -> Counts:
    """Both counts from the posted text: blank is "not given", anything else must parse."""
    parsed: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name in FIELDS:
        try:
            parsed[name] = parse_count(values.get(name))
        except ValueError as err:
            errors[name] = str(err)  # the input's label says which count it is about
    if errors:
        raise CountsInvalid(errors)
    return Counts(parsed["physicians"], parsed["others"])


def _conflict(activity_id: int) -> Exception:
    current = db.session.get(Activity, activity_id)
    if current is None:
        return CountsRefused("This activity was deleted by someone else.")
    by = current.updated_by.email if current.updated_by else "someone else"
    return CountsConflict(current, by, current.updated_at)


def update_counts(
    provider: Provider,
    activity: Activity,
    values: Mapping[str, Any],
    version: int | None,
    user: User,
    now: datetime,
    via: str = "inline",
) -> Activity:
    """Save both learner counts typed from `version`, audited as `activity.counts_updated`.

    A newer stored version is a conflict, never silently overwritten; unchanged counts write
    nothing (no version bump, no audit event).
    """
    if reason := refusal(activity):
        raise CountsRefused(reason)
    counts = parse_counts(values)
    if activity.version != version:
        raise _conflict(activity.id)
    changes = {
        column: [getattr(activity, column), getattr(counts, name)]
        for name, column in FIELDS.items()
        if getattr(activity, column) != getattr(counts, name)
    }
    if not changes:
        return activity
    activity_id, user_id = activity.id, user.id
    try:
        with db.session.no_autoflush:  # one UPDATE, one version bump
            for column, (_before, after) in changes.items():
                setattr(activity, column, after)
            activity.updated_by_id, activity.updated_at = user_id, now
            refresh_derived(activity)
        db.session.flush()
        event = audit.record(
            ACTION,
            user_id=user_id,
            provider_id=provider.id,
            entity=activity,
            via=via,
            changes=changes,
        )
        event.at = now
        db.session.commit()
    except StaleDataError:  # saved by someone else between our check and our write
        db.session.rollback()
        raise _conflict(activity_id) from None
    return activity

"""Continuing series: copy a course or RSS for its next 12-month period (spec §4), audited, in
one commit. The copy starts where a coordinator would: same descriptions, next dates, no
learners, not closed, a new generated Provider Activity ID."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from ..domain import series
from ..extensions import db
from ..models import (
    Activity,
    CommercialSupporter,
    JointProvider,
    MocRegistration,
    Provider,
    User,
)
from . import audit, cycle
from .activities import refresh_derived
from .activity_edit import LOCKED, next_provider_activity_id

ID_ATTEMPTS = 3  # a concurrent save may take the generated ID first

# What describes the activity, as opposed to its identity, dates, learners and closing.
# Not the ACCME Activity ID (the next period is a new PARS activity) nor legacy import data.
COPIED_FIELDS: tuple[str, ...] = (
    "title",
    "format",
    "delivery",
    "venue",
    "city",
    "state",
    "country",
    "credits",
    "description",
    "providership",
    "passport_listed",
    "passport_fee",
    "passport_registration",
    "passport_url",
    "commercial_support",
    "outcome_competence",
    "outcome_performance",
    "outcome_patient_health",
    "outcome_community_health",
)


class CopyRefused(ValueError):
    """The activity cannot be copied for a next period; the message says why."""


def copy_refusal(source: Activity) -> str | None:
    """Why `source` cannot be copied for its next period, else None."""
    if reason := series.copy_refusal(source.format):
        return reason
    _start, end = series.next_period(source.format, source.start_date, source.end_date)
    if cycle.is_year_locked(source.provider_id, end.year):
        return LOCKED.format(year=end.year) + ": the next period would end in it."
    return None


def _children(source: Activity, copy: Activity) -> None:
    for j in source.joint_providers:
        copy.joint_providers.append(JointProvider(name=j.name, position=j.position))
    for s in source.supporters:
        copy.supporters.append(
            CommercialSupporter(
                position=s.position,
                name=s.name,
                kind=s.kind,
                amount_cents=s.amount_cents,
                in_kind_nature=s.in_kind_nature,
                in_kind_other=s.in_kind_other,
            )
        )
    for m in source.moc_registrations:
        copy.moc_registrations.append(
            MocRegistration(
                board=m.board,
                credit_types=m.credit_types,
                points=m.points,
                practice_areas=m.practice_areas,
            )
        )


def _build(provider_id: int, source: Activity, user_id: int, now: datetime) -> Activity:
    start, end = series.next_period(source.format, source.start_date, source.end_date)
    copy = Activity(
        provider_id=provider_id,
        provider_activity_id=next_provider_activity_id(provider_id, start.year),
        start_date=start,
        end_date=end,
        created_by_id=user_id,
        updated_by_id=user_id,
        created_at=now,
        updated_at=now,
        **{name: getattr(source, name) for name in COPIED_FIELDS},
    )
    _children(source, copy)
    refresh_derived(copy)
    return copy


def _write(provider_id: int, source: Activity, user_id: int, now: datetime) -> Activity:
    copy = _build(provider_id, source, user_id, now)
    db.session.add(copy)
    db.session.flush()
    event = audit.record(
        "activity.copied",
        user_id=user_id,
        provider_id=provider_id,
        entity=copy,
        source_id=source.id,
        source_provider_activity_id=source.provider_activity_id,
        changes={
            "provider_activity_id": [None, copy.provider_activity_id],
            "title": [None, copy.title],
            "format": [None, copy.format],
            "start_date": [None, copy.start_date.isoformat()],
            "end_date": [None, copy.end_date.isoformat()],
        },
    )
    event.at = now
    db.session.commit()
    return copy


def copy_for_next_period(
    provider: Provider, source: Activity, user: User, now: datetime
) -> Activity:
    """A new activity for the period after `source`'s, with its descriptive fields copied."""
    if reason := copy_refusal(source):
        raise CopyRefused(reason)
    provider_id, user_id, source_id = provider.id, user.id, source.id
    for _attempt in range(ID_ATTEMPTS):
        try:
            return _write(provider_id, source, user_id, now)
        except IntegrityError:
            # Only the generated Provider Activity ID can clash: a save took it meanwhile.
            db.session.rollback()
            source = db.session.get(Activity, source_id)
            if source is None:
                raise CopyRefused("This activity was deleted by someone else.") from None
    raise CopyRefused("Could not find a free Provider Activity ID right now: try again.")

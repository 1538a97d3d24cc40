"""An activity's history: who changed what, when, through which path, read from the audit trail.

Audit events are not ProviderScoped (accreditor-level events have no provider), so every query
here filters on the provider explicitly; callers load the activity through the tenant scope
first, so another provider's activity is a 404 before this runs.

Which events belong to an activity: those about the activity itself (entity "Activity": created,
edited, copied, closed, reopened — bulk and import paths write one such event per activity,
with their own `via`), and those about its December 31 snapshots (entity "LearnerSnapshot").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..domain.codes import IN_KIND_NATURES, OUTCOMES, PASSPORT_REGISTRATION, PROVIDERSHIP
from ..domain.formats import DELIVERY_LABELS, FORMATS
from ..domain.text import us_date
from ..domain.values import format_money
from ..extensions import db
from ..models import AuditEvent, LearnerSnapshot, User
from . import audit
from .paging import Paged, clamp_page

PER_PAGE = 25

ACTION_LABELS: dict[str, str] = {
    "activity.created": "Created",
    "activity.updated": "Edited",
    "activity.copied": "Created as a copy for the next period",
    "activity.closed": "Closed",
    "activity.reopened": "Reopened",
    "activity.deleted": "Deleted",
    "snapshot.recorded": "December 31 learner count recorded",
}
FIELD_LABELS: dict[str, str] = {
    "provider_activity_id": "Provider Activity ID",
    "accme_activity_id": "ACCME Activity ID",
    "title": "Title",
    "format": "Format",
    "delivery": "Delivery method",
    "start_date": "Start date",
    "end_date": "End date",
    "venue": "Venue",
    "city": "City",
    "state": "State",
    "country": "Country",
    "credits": "AMA PRA Category 1 Credits™",
    "description": "Description",
    "providership": "Providership",
    "joint_providers": "Joint providers",
    "passport_listed": "Listed in CME Passport",
    "passport_fee": "CME Passport: fee",
    "passport_registration": "CME Passport: registration",
    "passport_url": "CME Passport: URL",
    "commercial_support": "Commercial support",
    "supporters": "Commercial supporters",
    **OUTCOMES,
    "physician_learners": "Physician learners",
    "other_learners": "Other learners",
    "moc": "MOC",
    "closed_at": "Closed",
    "physicians": "Physicians (cumulative)",
    "others": "Other learners (cumulative)",
}
# Details keys that are shown as rows of before → after.
CHANGE_KEYS = ("changes", "activity_changes")
# Details keys the page shows in its own words (or not at all), rather than as raw notes.
QUIET_KEYS = ("activity_id", "source_id", "source_provider_activity_id", "year")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    who: str
    action: str
    via: str
    changes: list[Change]
    notes: list[str]
    source_id: int | None = None  # a copy: the activity it was copied from
    source_label: str | None = None


@dataclass(frozen=True)
class HistoryPage(Paged):
    entries: list[HistoryEntry]
    total: int
    page: int
    per_page: int = PER_PAGE


# --- Reading ---------------------------------------------------------------------------------


def _events_of(provider_id: int, activity_id: int):
    snapshot_ids = select(LearnerSnapshot.id).where(LearnerSnapshot.activity_id == activity_id)
    return and_(
        AuditEvent.provider_id == provider_id,
        or_(
            and_(AuditEvent.entity_type == "Activity", AuditEvent.entity_id == activity_id),
            and_(
                AuditEvent.entity_type == "LearnerSnapshot",
                AuditEvent.entity_id.in_(snapshot_ids),
            ),
        ),
    )


def activity_history(provider_id: int, activity_id: int, page: int) -> HistoryPage:
    """One page of the activity's history, newest first: two queries."""
    cond = _events_of(provider_id, activity_id)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(cond)) or 0
    page = clamp_page(page, total, PER_PAGE)
    found = db.session.execute(
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(cond)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return HistoryPage([entry_of(event, email) for event, email in found], total, page)


def entry_of(event: AuditEvent, email: str | None) -> HistoryEntry:
    """An audit event in the words of the history page."""
    details = _details(event.details)
    changes = [
        Change(field_label(name), display(name, pair[0]), display(name, pair[1]))
        for key in CHANGE_KEYS
        for name, pair in sorted(_pairs(details.get(key)), key=_form_order)
    ]
    notes = [
        f"{_humanize(k)}: {display(k, v)}"
        for k, v in sorted(details.items())
        if k not in CHANGE_KEYS and k not in QUIET_KEYS
    ]
    action = ACTION_LABELS.get(event.action) or _humanize(event.action.rpartition(".")[2])
    if event.action == "snapshot.recorded" and isinstance(details.get("year"), int):
        action = f"December 31, {details['year']} learner count recorded"
    return HistoryEntry(
        at=event.at,
        who=email or ("the system" if event.via in ("cli", "job") else "a removed user"),
        action=action,
        via=audit.PATHS.get(event.via, event.via),
        changes=changes,
        notes=notes,
        source_id=details.get("source_id") if isinstance(details.get("source_id"), int) else None,
        source_label=details.get("source_provider_activity_id"),
    )


def _details(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {"details": raw}
    return data if isinstance(data, dict) else {"details": data}


def _pairs(changes: Any) -> list[tuple[str, list]]:
    """(field, [before, after]) of a `changes` mapping, skipping anything not shaped so."""
    if not isinstance(changes, dict):
        return []
    return [
        (name, pair)
        for name, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


_ORDER = {name: i for i, name in enumerate(FIELD_LABELS)}


def _form_order(pair: tuple[str, list]) -> int:
    """Changes in the order of the form (audit details are stored with sorted keys)."""
    return _ORDER.get(pair[0], len(_ORDER))


# --- Values in words ---------------------------------------------------------------------------


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name) or _humanize(name)


def _humanize(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _supporter(s: dict) -> str:
    if s.get("kind") == "monetary":
        cents = s.get("amount_cents")
        amount = f"${format_money(cents)}" if isinstance(cents, int) else "no amount"
        return f"{s.get('name', '')}: {amount}"
    nature = s.get("in_kind_other") or IN_KIND_NATURES.get(s.get("in_kind_nature") or "", "")
    return f"{s.get('name', '')}: in-kind ({nature or 'nature not given'})"


def _moc(m: dict) -> str:
    points = m.get("points")
    return f"{m.get('board', '')}: {points or '—'} points ({m.get('credit_types') or '—'})"


def _coded(name: str, value: str) -> str | None:
    if name == "format" and value in FORMATS:
        return f"{FORMATS[value].label} ({value})"
    labels = {
        "delivery": DELIVERY_LABELS,
        "providership": PROVIDERSHIP,
        "passport_registration": PASSPORT_REGISTRATION,
    }.get(name, {})
    if value in labels:
        return labels[value]
    if _ISO_DATE.fullmatch(value):
        return us_date(date.fromisoformat(value))
    return None


def _list(name: str, value: list) -> str:
    if name == "supporters":
        return "; ".join(_supporter(s) for s in value if isinstance(s, dict))
    if name == "moc":
        return "; ".join(_moc(m) for m in value if isinstance(m, dict))
    return ", ".join(display(name, v) for v in value)


def display(name: str, value: Any) -> str:
    """A stored before/after value as a coordinator reads it ('—' for nothing)."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}" if name not in ("accme_activity_id", "year", "id") else str(value)
    if isinstance(value, list):
        return _list(name, value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(k)}: {display(k, v)}" for k, v in value.items())
    text = str(value)
    coded = _coded(name, text)
    return coded if coded is not None else text

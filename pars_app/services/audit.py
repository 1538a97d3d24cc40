"""The audit trail: one event per change, added to the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from ..extensions import db
from ..models import AuditEvent

# Every path a change can come through (`AuditEvent.via`), with the word a page shows for it.
# The one list: history pages and the audit log's filter both read it.
PATHS: dict[str, str] = {
    "web": "form",
    "form": "form",
    "inline": "inline",
    "bulk": "bulk",
    "import": "import",
    "job": "import",
    "cli": "CLI",
}


def record(
    action: str,
    *,
    user_id: int | None,
    provider_id: int | None = None,
    accreditor_id: int | None = None,
    entity: Any = None,
    via: str = "web",
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the current session; the caller's commit makes it durable."""
    event = AuditEvent(
        action=action,
        user_id=user_id,
        provider_id=provider_id,
        accreditor_id=accreditor_id,
        entity_type=type(entity).__name__ if entity is not None else "",
        entity_id=getattr(entity, "id", None),
        via=via,
        details=json.dumps(details, default=str, sort_keys=True) if details else None,
    )
    db.session.add(event)
    return event

"""Small rules of the accreditor console: which deadline dates make sense, how an audit event's
details read, and how long reasons may be."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pars_app.domain.deadlines import default_deadline
from pars_app.domain.text import long_date

MAX_REASON = 500  # reporting_deadlines.reason is a String(500)


def deadline_problem(year: int, due: date) -> str | None:
    """Why `due` cannot be the deadline of reporting `year`, or None when it can.

    The report opens on January 1 of year+1 (spec §2), so a deadline must fall after that and
    within that year: a date outside is a typo (a wrong year), not a policy.
    """
    if due.year != year + 1:
        rule = long_date(default_deadline(year).date())
        return (
            f"The {year} deadline must be a date in {year + 1} (reports open on January 1, "
            f"{year + 1}; ACCME's rule gives {rule})."
        )
    return None


def reason_problem(reason: str, what: str = "change") -> str | None:
    """A required reason: present and not too long."""
    if not reason:
        return f"Give the reason for this {what}; it is kept with the change."
    if len(reason) > MAX_REASON:
        return f"Keep the reason under {MAX_REASON} characters."
    return None


def clean_reason(raw: str | None) -> str:
    """Collapse whitespace (pasted text, line breaks) into single spaces."""
    return " ".join((raw or "").split())


def describe_details(raw: str | None) -> list[str]:
    """An audit event's JSON details as short lines a person can read.

    `before`/`after` dicts become "field: before → after"; other keys "key: value".
    """
    if not raw:
        return []
    try:
        details = json.loads(raw)
    except ValueError:
        return [raw[:500]]
    if not isinstance(details, dict):
        return [str(details)[:500]]
    lines = []
    before, after = details.pop("before", None), details.pop("after", None)
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            if old != new:
                lines.append(f"{_label(key)}: {_value(old)} → {_value(new)}")
    for key in sorted(details):
        lines.append(f"{_label(key)}: {_value(details[key])}")
    return lines


def _label(key: str) -> str:
    return key.replace("_", " ")


def _value(v: Any) -> str:
    if v is None or v == "":
        return "—"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)[:300]
    return str(v)[:300]

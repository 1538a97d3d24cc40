"""Jinja filters and globals: how dates, instants and money read on screen."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask

from ..domain.codes import OUTCOMES
from ..domain.deadlines import CENTRAL
from ..domain.values import format_money

STEP_ACTIONS = {
    "activities_ended_not_closed": "Close the activities that ended",
    "activities_started": "See the year's activities",
    "enduring_missing": "Enter December 31 learner counts",
    "agreement": "Read and accept the agreement",
    "summary": "Complete the Program Summary",
    "contacts": "Review contacts",
}


def central(value: datetime | None) -> str:
    """An instant in US Central time, e.g. 'Tue Mar 31, 2026, 11:59 PM CDT'."""
    if value is None:
        return ""
    local = value.astimezone(CENTRAL)
    return local.strftime("%a %b %-d, %Y, %-I:%M %p %Z")


def us_date(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else ""


DONE_ACTIONS = {
    "agreement": "View the agreement",
    "contacts": "See the contacts",
    "summary": "View the Program Summary",
}


def step_action_label(step) -> str:
    """The words of a step's link: what to do next, or what to look at once it is done."""
    if step.state == "done":
        return DONE_ACTIONS.get(step.link or "", "See the details")
    if step.key == "activities" and step.left:
        return f"Close the {step.left} open activit{'y' if step.left == 1 else 'ies'}"
    return STEP_ACTIONS.get(step.link or "", "Open")


def outcome_labels(a) -> list[str]:
    return [label for attr, label in OUTCOMES.items() if getattr(a, attr, False)]


def file_size(size: int) -> str:
    """Bytes as a person reads them: "29 KB", "1.4 MB" (KB rounded up, so never "0 KB")."""
    kb = (size + 1023) // 1024
    return f"{size / 1048576:,.1f} MB" if kb >= 1024 else f"{kb:,} KB"


def install(app: Flask) -> None:
    app.add_template_filter(file_size)
    app.add_template_filter(central)
    app.add_template_filter(us_date)
    app.add_template_filter(lambda c: format_money(c) if c is not None else "", "money")
    app.add_template_global(step_action_label)
    app.add_template_global(outcome_labels)

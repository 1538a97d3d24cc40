"""The dashboard: the live five-step checklist for the provider and reporting year, with charts."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required

from ..models import Provider
from ..security import provider_required
from ..services import checklist, clock, cycle, dashboard_charts, program_summary, unlocks
from .params import to_int

bp = Blueprint("dashboard", __name__)

YEAR_RANGE = range(2000, 2101)


def step_links(year: int) -> dict[str, str | None]:
    """Where each step's action leads; None where that page does not exist yet."""
    return {
        "activities_ended_not_closed": url_for("activities.index", year=year, view="ended_open"),
        "activities_started": url_for("activities.index", year=year),
        "enduring_missing": url_for("enduring.index", year=year, missing=1),
        "agreement": url_for("agreement.show", year=year),
        "summary": url_for("summary.show", year=year),
        "contacts": url_for("contacts.index"),
    }


def resolve_year(provider: Provider, raw: str | None) -> int:
    """The `?year=` asked for when valid, else the year being closed out now."""
    if raw:
        if to_int(raw) in YEAR_RANGE:
            return int(raw)
        flash(f"“{raw[:20]}” is not a reporting year; showing the current one.", "warning")
    return cycle.default_year(provider, clock.now())


@bp.route("/")
@login_required
def index():
    if g.provider is None and g.accreditor is not None:
        return redirect(url_for("accreditor.index"))
    if g.provider is None:
        abort(404)
    year = resolve_year(g.provider, request.args.get("year"))
    g.year = year
    now = clock.now()
    lock = unlocks.latest_lock(g.provider.id, year)  # shows "locked" or who unlocked it and why
    steps = checklist.checklist_for(g.provider, year, now)
    return render_template(
        "dashboard/index.html",
        checklist=steps,
        charts=dashboard_charts.charts_for(g.provider.id, year, steps),
        year=year,
        years=_year_choices(year),
        links=step_links(year),
        now=now,
        late_previous=_late_previous(year, now),
        lock=lock,
        unlocked_by=unlocks.unlocked_by(lock),
        locked_by=program_summary.person(lock.locked_by_id if lock else None),
    )


@bp.route("/checklist/<int:year>/print")
@login_required
@provider_required()
def print_checklist(year: int):
    if year not in YEAR_RANGE:
        abort(404)
    result = checklist.checklist_for(g.provider, year, clock.now())
    return render_template("dashboard/print.html", checklist=result, year=year, now=clock.now())


def _late_previous(year: int, now) -> checklist.rules.Checklist | None:
    """Last year's checklist when it is late and unfinished, so it is never out of sight.

    Only for the default year's page, and only when last year has activities in the app: a
    provider that reported that year elsewhere, before using pars-app, is not nagged.
    """
    if year != cycle.default_year(g.provider, now):
        return None
    # Usually last year is done: `late_checklist` proves that without counting anything.
    previous = checklist.late_checklist(g.provider, year - 1, now)
    if previous is None:
        return None
    activities = next(s for s in previous.steps if s.key == "activities")
    in_app = bool(activities.details) or activities.left > 0
    return previous if previous.late and in_app else None


def _year_choices(year: int) -> list[int]:
    current = clock.today().year
    return sorted({*range(current - 3, current + 1), year}, reverse=True)

"""In-app guides, one per checklist step: what it means, the rule behind it, how to do it here.

The words live in templates/help/ (one file per step, each with a short `summary()` the
dashboard shows in a disclosure and the full `body()` this page shows), so the dashboard and
the page can never say different things.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import login_required
from werkzeug.routing import BuildError

from ..services import clock, cycle
from .dashboard import YEAR_RANGE, step_links
from .params import to_int

bp = Blueprint("help", __name__, url_prefix="/help")

# The five steps in checklist order (keys as in domain.checklist), with their guide titles.
GUIDES = {
    "agreement": "Accept the Provider Agreement",
    "activities": "Enter and close the year's activities",
    "enduring": "Enter December 31 learner counts",
    "summary": "Complete and submit the Program Summary",
    "contacts": "Review your contacts",
}


@bp.app_template_global()
def page_link(endpoint: str, fallback: str | None = None, **values) -> str | None:
    """The URL of `endpoint`, or `fallback` when this build has no such page (yet)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


def _year() -> int:
    """The year the guide speaks of: `?year=` when valid, else the year being closed out."""
    asked = to_int(request.args.get("year"))
    if asked in YEAR_RANGE:
        return asked
    if g.get("provider") is not None:
        return cycle.default_year(g.provider, clock.now())
    return clock.today().year - 1


@bp.route("/")
@login_required
def index():
    g.year = year = _year()
    return render_template("help/index.html", guides=GUIDES, year=year)


@bp.route("/<step>")
@login_required
def show(step: str):
    if step not in GUIDES:
        abort(404)
    g.year = year = _year()
    keys = list(GUIDES)
    at = keys.index(step)
    return render_template(
        "help/show.html",
        step=step,
        title=GUIDES[step],
        number=at + 1,
        guides=GUIDES,
        previous=keys[at - 1] if at else None,
        following=keys[at + 1] if at + 1 < len(keys) else None,
        year=year,
        links=step_links(year),
    )

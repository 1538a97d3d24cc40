"""The accreditor console: overview of providers, read-only provider view, deadlines,
agreement texts, year unlocks and the audit log. Accreditor staff only; every provider id is
checked against the accreditor's scope (404 otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from ..domain import deadlines as deadline_rules
from ..io.table_xlsx import write_table
from ..models import Provider
from ..security import is_htmx
from ..services import agreement_admin, audit_log, clock, deadlines_admin, oversight, unlocks
from .audit import export_log, render_log
from .dashboard import YEAR_RANGE
from .exports import XLSX, download
from .params import to_int

bp = Blueprint("accreditor", __name__, url_prefix="/accreditor")

# Session key: the provider whose own pages accreditor staff are reading (read-only).
VIEWING_KEY = "viewing_provider_id"


def accreditor_required(view: Callable) -> Callable:
    """Only accreditor staff; anyone else is told the page does not exist."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if g.get("accreditor") is None:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def _provider_or_404(provider_id: int) -> Provider:
    provider = oversight.provider_in_scope(g.accreditor, provider_id)
    if provider is None:
        abort(404)
    return provider


def _year(raw: str | None, default: int) -> int:
    year = to_int(raw)
    return year if year in YEAR_RANGE else default


def _year_choices(year: int) -> list[int]:
    current = clock.today().year
    return sorted({*range(current - 3, current + 2), year}, reverse=True)


# --- Overview ---------------------------------------------------------------------------------


@bp.route("/")
@login_required
@accreditor_required
def index():
    session.pop(VIEWING_KEY, None)  # back to all providers
    now = clock.now()
    f = oversight.parse_filter(request.args, oversight.overview_year(now))
    context = dict(
        f=f,
        page=oversight.overview(g.accreditor, f, now),
        years=_year_choices(f.year),
        states=oversight.STATES,
        steps=oversight.STEP_FILTERS,
        sorts=oversight.SORTS,
        page_url=lambda n: url_for("accreditor.index", **f.args(page=n)),
        sort_url=lambda key: url_for(
            "accreditor.index",
            **f.args(sort=key, page=1, dir="desc" if f.sort == key and f.dir == "asc" else "asc"),
        ),
        export_url=url_for("accreditor.export", **f.args(page=1)),
    )
    template = "accreditor/_table.html" if is_htmx() else "accreditor/index.html"
    resp = make_response(render_template(template, **context))
    resp.headers["Vary"] = "HX-Request"
    if is_htmx():
        resp.headers["HX-Push-Url"] = url_for("accreditor.index", **f.args())
    return resp


EXPORT_HEADERS = (
    "Provider code",
    "Provider",
    "Accreditor",
    "Year",
    "Steps done",
    "Agreement",
    "Activities started",
    "Ended, not closed",
    "Enduring missing counts",
    "Program Summary",
    "Contacts",
    "Deadline (Central)",
    "Days left",
    "Late",
    "Year locked",
    "Last change (Central)",
)


@bp.route("/providers.xlsx")
@login_required
@accreditor_required
def export():
    now = clock.now()
    f = oversight.parse_filter(request.args, oversight.overview_year(now))
    rows = oversight.matching_rows(g.accreditor, f, now)
    data = write_table(f"Providers {f.year}", EXPORT_HEADERS, (_export_row(r, f) for r in rows))
    return download(data, XLSX, f"providers-{f.year}.xlsx")


def _export_row(r: oversight.ProviderRow, f: oversight.OverviewFilter) -> list:
    c = r.checklist

    def state(key: str) -> str:
        return {"done": "Done", "todo": "To do", "not_open": "Not open yet"}[r.step(key).state]

    return [
        r.code,
        r.name,
        r.accreditor_code,
        f.year,
        c.done_count,
        state("agreement"),
        r.started,
        r.step("activities").left,
        r.step("enduring").left,
        state("summary"),
        state("contacts"),
        c.deadline,
        c.days_left,
        "Yes" if c.late else "No",
        {"locked": "Locked", "unlocked": "Unlocked"}.get(r.lock, ""),
        r.last_change_at,
    ]


# --- One provider, read-only ------------------------------------------------------------------


@bp.route("/providers/<int:provider_id>")
@login_required
@accreditor_required
def provider(provider_id: int):
    """Open a provider's own pages read-only: its dashboard first."""
    found = _provider_or_404(provider_id)
    # Only which provider is being read is kept: nothing about the provider changes, and the
    # banner on every page names it, so a plain link (new tab, bookmark) is enough.
    session[VIEWING_KEY] = found.id
    year = to_int(request.args.get("year"))
    return redirect(url_for("dashboard.index", year=year if year in YEAR_RANGE else None))


@bp.route("/providers/<int:provider_id>/unlock", methods=["POST"])
@login_required
@accreditor_required
def unlock(provider_id: int):
    found = _provider_or_404(provider_id)
    year = to_int(request.form.get("year"))
    if year not in YEAR_RANGE:
        abort(400, "Choose the year to unlock.")
    try:
        unlocks.unlock_year(
            g.accreditor, found, year, request.form.get("reason", ""), current_user, clock.now()
        )
    except unlocks.UnlockError as err:
        flash(str(err), "error")
    else:
        flash(
            f"{found.name}'s {year} report is unlocked. It locks again when the provider "
            "submits its Program Summary.",
            "success",
        )
    session[VIEWING_KEY] = found.id
    return redirect(url_for("dashboard.index", year=year))


# --- Deadlines --------------------------------------------------------------------------------


@bp.route("/deadlines", methods=["GET", "POST"])
@login_required
@accreditor_required
def deadlines():
    current = clock.today().year
    years = list(range(current + 1, current - 3, -1))
    errors: dict[str, str] = {}
    values = request.form if request.method == "POST" else {}
    chosen = _year(request.values.get("year"), current - 1)
    if request.method == "POST":
        try:
            deadlines_admin.set_deadline(
                g.accreditor,
                chosen,
                request.form.get("due", ""),
                request.form.get("reason", ""),
                current_user,
                clock.now(),
            )
        except deadlines_admin.DeadlineInvalid as err:
            errors = err.errors
        else:
            flash(f"The {chosen} deadline is saved; providers see it now.", "success")
            return redirect(url_for("accreditor.deadlines", year=chosen))
    rows = deadlines_admin.deadline_rows(g.accreditor, sorted({*years, chosen}, reverse=True))
    html = render_template(
        "accreditor/deadlines.html",
        rows=rows,
        chosen=chosen,
        errors=errors,
        values=values,
        format_deadline=deadline_rules.format_deadline,
    )
    return html, 422 if errors else 200


# --- Agreement texts --------------------------------------------------------------------------


@bp.route("/agreements", methods=["GET", "POST"])
@login_required
@accreditor_required
def agreements():
    year = _year(request.values.get("year"), oversight.overview_year(clock.now()))
    g.year = year  # base.html reads the page's year from g
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            text = agreement_admin.publish(
                g.accreditor,
                year,
                request.form.get("title", ""),
                request.form.get("body", ""),
                current_user,
                clock.now(),
            )
        except agreement_admin.AgreementInvalid as err:
            errors = err.errors
        else:
            flash(
                f"Version {text.version} of the {year} agreement is published; "
                "every provider is asked to accept it.",
                "success",
            )
            return redirect(url_for("accreditor.agreements", year=year))
    published = agreement_admin.versions(g.accreditor, year)
    latest = published[0][0] if published else None
    page = to_int(request.args.get("page")) or 1
    html = render_template(
        "accreditor/agreements.html",
        year=year,
        years=_year_choices(year),
        published=published,
        latest=latest,
        acceptances=agreement_admin.acceptances(g.accreditor, year, latest, page),
        errors=errors,
        values=request.form if errors else {},
        page_url=lambda n: url_for("accreditor.agreements", year=year, page=n),
    )
    return html, 422 if errors else 200


# --- Audit log --------------------------------------------------------------------------------


@bp.route("/audit")
@login_required
@accreditor_required
def audit():
    scope = audit_log.AuditScope.for_accreditor(g.accreditor)
    return render_log(scope, "accreditor.audit", "accreditor.audit_export", show_provider=True)


@bp.route("/audit.xlsx")
@login_required
@accreditor_required
def audit_export():
    scope = audit_log.AuditScope.for_accreditor(g.accreditor)
    return export_log(scope, f"audit-{g.accreditor.code}.xlsx")

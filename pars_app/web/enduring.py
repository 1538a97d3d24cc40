"""Checklist step 3: enduring materials' cumulative learner counts as of December 31, entered
inline (htmx) row by row, with plain-form fallbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from ..extensions import db
from ..models import Activity
from ..security import EDITORS, is_htmx, provider_required
from ..services import clock
from ..services import learner_snapshots as svc
from .dashboard import YEAR_RANGE
from .params import to_int

bp = Blueprint("enduring", __name__, url_prefix="/enduring")


@dataclass(frozen=True)
class RowState:
    """How one row is shown besides its stored values: after a save, an error or a conflict."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    conflict_by: str | None = None
    conflict_at: datetime | None = None
    refused: str | None = None
    saved: bool = False


@bp.app_template_global()
def enduring_years(a: Activity) -> list[int]:
    """The years whose December 31 counts an enduring material needs, up to the current one."""
    if a.format != "EM":
        return []
    return list(range(a.start_date.year, min(a.end_date.year, clock.today().year) + 1))


def _year(year: int) -> int:
    if year not in YEAR_RANGE:
        abort(404)
    g.year = year
    return year


def _view_args() -> dict[str, int]:
    """The list's own arguments (filter, page), from the query string or a posted form."""
    source = request.form if request.method == "POST" else request.args
    out = {}
    if to_int(source.get("missing")) == 1:
        out["missing"] = 1
    page = to_int(source.get("page"))
    if page and page > 1:
        out["page"] = page
    return out


def _can_edit(locked_reason: str | None) -> bool:
    return locked_reason is None and g.membership is not None and g.membership.role in EDITORS


def _page(year: int, status: int = 200, states: dict[int, RowState] | None = None):
    args = _view_args()
    locked = svc.year_locked_reason(g.provider.id, year)
    page = svc.list_enduring(g.provider.id, year, "missing" in args, args.get("page", 1))
    html = render_template(
        "enduring/index.html",
        year=year,
        page=page,
        locked_reason=locked,
        can_edit=_can_edit(locked),
        states=states or {},
        default_state=RowState(),
        view_args=args,
        page_url=lambda n: url_for("enduring.index", year=year, **{**args, "page": n}),
    )
    return html, status


def _row(row: svc.EnduringRow, state: RowState | None = None, status: int = 200):
    locked = svc.year_locked_reason(g.provider.id, row.year)
    html = render_template(
        "enduring/_row.html",
        row=row,
        state=state or RowState(),
        can_edit=_can_edit(locked),
        view_args=_view_args(),
    )
    headers = {}
    if state is not None and state.saved:
        pid = row.activity.provider_activity_id
        # The warning is read out too: focus moves on to the next row after a save.
        message = " ".join([f"Saved the December 31, {row.year} counts of {pid}.", *row.warnings])
        headers["HX-Trigger"] = json.dumps({"announce": message, "enduring-changed": True})
    return html, status, headers


def _material(year: int, activity_id: int) -> tuple[Activity, svc.EnduringRow | None]:
    activity = db.get_or_404(Activity, activity_id)  # another provider's id: 404
    return activity, svc.enduring_row(g.provider.id, year, activity.id)


@bp.route("/<int:year>")
@login_required
@provider_required()
def index(year: int):
    return _page(_year(year))


@bp.route("/<int:year>/summary")
@login_required
@provider_required()
def summary(year: int):
    """The counts line, re-fetched after each inline save (event enduring-changed)."""
    available, missing = svc.year_counts(g.provider.id, _year(year))
    return render_template(
        "enduring/_summary.html", year=year, available=available, missing=missing
    )


@bp.route("/<int:year>/<int:activity_id>/row")
@login_required
@provider_required()
def row(year: int, activity_id: int):
    """One row as stored: what Cancel (or Esc) puts back."""
    activity, found = _material(_year(year), activity_id)
    if found is None:
        # The activity exists but is no enduring material of this year: show it instead.
        return redirect(url_for("activities.detail", activity_id=activity.id))
    return _row(found)[:2]


@bp.route("/<int:year>/<int:activity_id>", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def save(year: int, activity_id: int):
    activity, found = _material(_year(year), activity_id)
    values = {k: request.form.get(k, "") for k in ("physicians", "others")}
    try:
        svc.record_snapshot(
            g.provider,
            activity,
            year,
            values,
            to_int(request.form.get("version")),
            current_user,
            clock.now(),
        )
    except svc.SnapshotInvalid as err:
        return _answer(year, activity_id, RowState(errors=err.errors, values=values), 422)
    except svc.SnapshotConflict as err:
        state = RowState(values=values, conflict_by=err.by, conflict_at=err.at)
        return _answer(year, activity_id, state, 409)
    except svc.SnapshotRefused as err:
        if found is None:
            flash(str(err), "error")
            return redirect(url_for("activities.detail", activity_id=activity.id))
        return _answer(year, activity_id, RowState(refused=str(err)), 422)
    return _answer(year, activity_id, RowState(saved=True), 200)


def _answer(year: int, activity_id: int, state: RowState, status: int):
    """The row fragment for htmx; without it the whole page (or a redirect after a save)."""
    if is_htmx():
        found = svc.enduring_row(g.provider.id, year, activity_id)
        if found is None:
            abort(404)
        return _row(found, state, status)
    if state.saved:
        flash("Counts saved.", "success")
        target = url_for("enduring.index", year=year, **_view_args())
        return redirect(f"{target}#snapshot-{activity_id}", 303)
    flash("Not saved: see the highlighted row.", "error")
    return _page(year, status, {activity_id: state})

"""Checklist step 4: the Program Summary of a year — fill, save a draft, submit and lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..domain import summary as rules
from ..security import EDITORS, provider_required
from ..services import clock
from ..services import program_summary as svc
from .dashboard import YEAR_RANGE, step_links
from .params import to_int

bp = Blueprint("summary", __name__, url_prefix="/summary")

# What each error message is about, for the list of errors above the form.
LABELS = {
    **{f.name: f.label for f in rules.MONEY_FIELDS},
    "period": "Period covered",
    "attest": "Attestation",
    "confirm": "Steps not done",
}


def _year(year: int) -> int:
    if year not in YEAR_RANGE:
        abort(404)
    g.year = year
    return year


def _can_edit() -> bool:
    return g.membership is not None and g.membership.role in EDITORS


def _page(
    year: int,
    status: int = 200,
    typed: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflict: svc.SummaryConflict | None = None,
):
    """The summary page: stored values, or what was typed after a refusal (422/409)."""
    state = svc.summary_state(g.provider, year, clock.now())
    stored_month = state.summary.period_start.month if state.summary else 1
    html = render_template(
        "summary/show.html",
        year=year,
        state=state,
        rows=svc.figure_rows(state, typed, errors),
        support_swing=svc.support_swing(state),
        errors=errors or {},
        typed=typed or {},
        start_month=to_int((typed or {}).get("period_start_month")) or stored_month,
        periods=rules.period_choices(year),
        conflict=conflict,
        # After a conflict the form carries the stored version: saving again is a deliberate
        # overwrite by someone who has seen what changed.
        version=conflict.current.version if conflict else _version_of(state),
        can_edit=_can_edit() and state.editable,
        stored_period=rules.Period(s.period_start, s.period_end) if (s := state.summary) else None,
        links=step_links(year),
        labels=LABELS,
        joint_note=rules.JOINT_PROVIDERSHIP_NOTE,
        now=clock.now(),
    )
    return html, status


def _version_of(state: svc.SummaryState) -> int:
    return state.summary.version if state.summary else 0


def _form_version() -> int:
    return to_int(request.form.get("version")) or 0


@bp.route("/<int:year>", methods=["GET"])
@login_required
@provider_required()
def show(year: int):
    return _page(_year(year))


@bp.route("/<int:year>", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def save(year: int):
    year = _year(year)
    return _act(year, svc.save_draft, f"The {year} Program Summary draft is saved.")


@bp.route("/<int:year>/submit", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def submit(year: int):
    year = _year(year)
    return _act(year, svc.submit, f"The {year} Program Summary is submitted: {year} is locked.")


def _act(year: int, action, done: str):
    """Run a save or submit; both answer refusals, bad input and conflicts the same way."""
    try:
        action(g.provider, year, request.form, _form_version(), current_user, clock.now())
    except svc.SummaryRefused as err:
        flash(str(err), "error")
        return redirect(url_for("summary.show", year=year))
    except svc.SummaryInvalid as err:
        return _page(year, 422, typed=request.form, errors=err.errors)
    except svc.SummaryConflict as err:
        return _page(year, 409, typed=request.form, conflict=err)
    flash(done, "success")
    return redirect(url_for("summary.show", year=year))

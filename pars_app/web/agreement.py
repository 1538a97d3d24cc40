"""Checklist step 1: the annual Provider Agreement."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..security import EDITORS, provider_required
from ..services import agreements, clock
from .dashboard import YEAR_RANGE
from .params import to_int

bp = Blueprint("agreement", __name__)


@bp.route("/agreement/<int:year>", methods=["GET"])
@login_required
@provider_required()
def show(year: int):
    if year not in YEAR_RANGE:
        abort(404)
    g.year = year
    state = agreements.agreement_state(g.provider, year, clock.now())
    can_accept = g.membership is not None and g.membership.role in EDITORS
    return render_template("agreement/show.html", state=state, year=year, can_accept=can_accept)


@bp.route("/agreement/<int:year>", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def accept(year: int):
    if year not in YEAR_RANGE:
        abort(404)
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm you have read the agreement.", "error")
        return redirect(url_for("agreement.show", year=year))
    text_id = request.form.get("text_id", "")
    try:
        agreements.accept_agreement(
            g.provider,
            year,
            to_int(text_id) or -1,
            current_user,
            clock.now(),
        )
    except agreements.AgreementError as err:
        flash(str(err), "error")
        return redirect(url_for("agreement.show", year=year))
    flash(f"The {year} Provider Agreement is accepted.", "success")
    return redirect(url_for("dashboard.index", year=year))

"""An activity's history page, and copying a continuing series for its next period."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..domain.series import COPYABLE_FORMATS
from ..domain.text import us_date
from ..extensions import db
from ..models import Activity
from ..security import EDITORS, provider_required
from ..services import activity_copy, clock, history
from .params import to_int

bp = Blueprint("activity_history", __name__, url_prefix="/activities")


@bp.app_template_global()
def can_copy_for_next_period(a: Activity) -> bool:
    """Whether to offer "Copy for the next 12-month period" on the activity's page."""
    membership = g.get("membership")
    return a.format in COPYABLE_FORMATS and membership is not None and membership.role in EDITORS


@bp.route("/<int:activity_id>/history")
@login_required
@provider_required()
def show(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)  # another provider's id: 404
    page = history.activity_history(
        g.provider.id, activity.id, to_int(request.args.get("page")) or 1
    )
    return render_template(
        "activities/history.html",
        a=activity,
        page=page,
        page_url=lambda n: url_for("activity_history.show", activity_id=activity.id, page=n),
    )


@bp.route("/<int:activity_id>/copy-next", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def copy_next(activity_id: int):
    source = db.get_or_404(Activity, activity_id)
    label = source.provider_activity_id
    try:
        copy = activity_copy.copy_for_next_period(g.provider, source, current_user, clock.now())
    except activity_copy.CopyRefused as err:
        flash(f"Not copied: {err}", "error")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    flash(
        f"Copied {label} to {copy.provider_activity_id} for {us_date(copy.start_date)} to "
        f"{us_date(copy.end_date)}. Check the details and save.",
        "success",
    )
    return redirect(url_for("activity_form.edit", activity_id=copy.id), 303)

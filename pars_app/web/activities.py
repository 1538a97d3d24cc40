"""Activities: the filtered, paginated list and the read-only detail page."""

from __future__ import annotations

from flask import Blueprint, g, make_response, render_template, request, url_for
from flask_login import login_required

from ..domain import status as status_rules
from ..domain.formats import DELIVERY_LABELS, FORMATS
from ..domain.status import STATUS_LABELS
from ..extensions import db
from ..models import Activity, LearnerSnapshot
from ..security import is_htmx, provider_required
from ..services import activity_list, clock
from ..services.activities import facts_of

bp = Blueprint("activities", __name__, url_prefix="/activities")


@bp.route("")
@login_required
@provider_required()
def index():
    f = activity_list.parse_filter(request.args)
    page = activity_list.list_activities(g.provider.id, f, clock.today())
    context = dict(
        f=f,
        page=page,
        formats=FORMATS,
        statuses=STATUS_LABELS,
        views=activity_list.VIEWS,
        page_sizes=activity_list.PAGE_SIZES,
        sorts=activity_list.SORTS,
        page_url=lambda n: url_for("activities.index", **f.args(page=n)),
    )
    template = "activities/_table.html" if is_htmx() else "activities/index.html"
    resp = make_response(render_template(template, **context))
    resp.headers["Vary"] = "HX-Request"
    if is_htmx():
        # Push the canonical URL (defaults left out), not the raw form serialisation.
        resp.headers["HX-Push-Url"] = url_for("activities.index", **f.args())
    return resp


@bp.route("/<int:activity_id>")
@login_required
@provider_required()
def detail(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    report = status_rules.evaluate(facts_of(activity), clock.today())
    snapshots = db.session.scalars(
        db.select(LearnerSnapshot)
        .where(LearnerSnapshot.activity_id == activity.id)
        .order_by(LearnerSnapshot.year)
    ).all()
    return render_template(
        "activities/detail.html",
        a=activity,
        report=report,
        snapshots=snapshots,
        formats=FORMATS,
        deliveries=DELIVERY_LABELS,
        statuses=STATUS_LABELS,
    )

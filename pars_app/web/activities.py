"""Activities: the filtered, paginated list and the detail page, with inline learner counts,
closing and reopening one activity, and bulk close (with Undo) from the list."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from ..domain import status as status_rules
from ..domain.formats import DELIVERY_LABELS, FORMATS
from ..domain.status import STATUS_LABELS
from ..domain.text import count_noun
from ..extensions import db
from ..models import Activity, LearnerSnapshot
from ..security import EDITORS, is_htmx, provider_required
from ..services import activity_close as closing
from ..services import activity_list, clock
from ..services import learner_counts as counts_svc
from ..services.activities import facts_of
from .params import to_int

bp = Blueprint("activities", __name__, url_prefix="/activities")

PLACES = ("row", "detail")  # where a counts cell lives: a list row or the detail page
MAX_BULK_IDS = 1_000  # ticked rows per bulk request (a page holds at most 200)


def _can_edit() -> bool:
    """A provider user who may change data (not a reviewer, not an accreditor reading)."""
    return g.get("membership") is not None and g.membership.role in EDITORS


# --- List ------------------------------------------------------------------------------------


def _list_context(f: activity_list.ActivityFilter) -> dict:
    page = activity_list.list_activities(g.provider.id, f, clock.today())
    can_edit = _can_edit()
    return dict(
        f=f,
        page=page,
        formats=FORMATS,
        statuses=STATUS_LABELS,
        views=activity_list.VIEWS,
        page_sizes=activity_list.PAGE_SIZES,
        sorts=activity_list.SORTS,
        page_url=lambda n: url_for("activities.index", **f.args(page=n)),
        can_edit=can_edit,
        # One query for the whole page: which rows' counts are read-only because of a lock.
        locked_years=closing.locked_years(g.provider.id) if can_edit else frozenset(),
        counts_refusal=counts_svc.refusal,
        default_cell=CellState(),
    )


@bp.route("")
@login_required
@provider_required()
def index():
    f = activity_list.parse_filter(request.args)
    context = _list_context(f)
    template = "activities/_table.html" if is_htmx() else "activities/index.html"
    resp = make_response(render_template(template, **context))
    resp.headers["Vary"] = "HX-Request"
    # The table re-fetching itself after a bulk change shows the same URL: push nothing then.
    if is_htmx() and request.headers.get("HX-Trigger") != "activities-table":
        # Push the canonical URL (defaults left out), not the raw form serialisation.
        resp.headers["HX-Push-Url"] = url_for("activities.index", **f.args())
    return resp


# --- Detail and its close block ----------------------------------------------------------------


def _close_context(a: Activity, refused: list[str] | None = None) -> dict:
    """What the close block of the detail page needs (templates/activities/_close_block.html)."""
    report = status_rules.evaluate(facts_of(a), clock.today())
    can_edit = _can_edit()
    locked = closing.locked_years(a.provider_id) if can_edit else frozenset()
    reopen_refusal = closing.reopen_refusal(a, locked) if a.closed_at is not None else None
    return dict(
        a=a,
        report=report,
        can_close=can_edit and report.closable and a.end_date.year not in locked,
        can_reopen=can_edit and a.closed_at is not None and reopen_refusal is None,
        reopen_refusal=reopen_refusal if can_edit else None,
        close_locked=can_edit and a.closed_at is None and a.end_date.year in locked,
        refused=refused or [],
    )


def _detail_page(a: Activity, status: int = 200, refused=None, cell: CellState | None = None):
    snapshots = db.session.scalars(
        db.select(LearnerSnapshot)
        .where(LearnerSnapshot.activity_id == a.id)
        .order_by(LearnerSnapshot.year)
    ).all()
    if cell is None and request.args.get("counts") == "edit":
        cell = CellState(mode="edit")  # the no-JavaScript way to the counts inputs
    html = render_template(
        "activities/detail.html",
        snapshots=snapshots,
        formats=FORMATS,
        deliveries=DELIVERY_LABELS,
        statuses=STATUS_LABELS,
        **(_close_context(a, refused) | _cell_context(a, "detail", cell or CellState())),
    )
    return html, status


@bp.route("/<int:activity_id>")
@login_required
@provider_required()
def detail(activity_id: int):
    return _detail_page(db.get_or_404(Activity, activity_id))


@bp.route("/<int:activity_id>/close", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def close(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    try:
        closing.close_activity(g.provider, activity, current_user, clock.now())
    except closing.CloseRefused as err:
        return _detail_page(activity, 422, refused=err.reasons)
    except closing.CloseConflict:
        flash("Someone changed this activity meanwhile: check it, then close it again.", "error")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    flash(f"Activity {activity.provider_activity_id} closed.", "success")
    return redirect(url_for("activities.detail", activity_id=activity_id), 303)


@bp.route("/<int:activity_id>/reopen", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def reopen(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    try:
        closing.reopen_activity(g.provider, activity, current_user, clock.now())
    except closing.CloseRefused as err:
        flash("Not reopened: " + " ".join(err.reasons), "error")
    except closing.CloseConflict:
        flash("Someone changed this activity meanwhile: check it, then try again.", "error")
    else:
        flash(f"Activity {activity.provider_activity_id} reopened: it can be edited.", "success")
    return redirect(url_for("activities.detail", activity_id=activity_id), 303)


# --- Inline learner counts ---------------------------------------------------------------------


@dataclass(frozen=True)
class CellState:
    """How a counts cell is shown: viewing, editing, or after a save, an error or a conflict."""

    mode: str = "view"  # "view" | "edit"
    focus: str = "physicians"  # which input an editor opens on
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    conflict_by: str | None = None
    conflict_at: datetime | None = None
    refused: str | None = None
    saved: bool = False


def _cell_context(a: Activity, place: str, state: CellState) -> dict:
    reason = counts_svc.refusal(a) if _can_edit() else None
    editable = _can_edit() and reason is None
    if not editable and state.mode == "edit":
        state = CellState(refused=state.refused or reason)
    return dict(a=a, place=place, state=state, editable=editable, read_only_reason=reason)


def _place() -> str:
    source = request.form if request.method == "POST" else request.args
    place = source.get("place", "row")
    return place if place in PLACES else "row"


def _cell(a: Activity, state: CellState, status: int = 200, headers=None):
    """The counts fragment for htmx, with what it changed on the page (out of band)."""
    place = _place()
    html = render_template("activities/_counts_cell.html", **_cell_context(a, place, state))
    if state.saved:
        if place == "row":
            row_status = status_rules.status_from_level(
                a.completeness, a.end_date, a.closed_at is not None, clock.today()
            ).value
            html += render_template(
                "activities/_status_cell.html", a=a, row_status=row_status, statuses=STATUS_LABELS,
                oob=True,
            )  # fmt: skip
        else:
            html += render_template("activities/_close_block.html", oob=True, **_close_context(a))
    return html, status, headers or {}


@bp.route("/<int:activity_id>/counts")
@login_required
@provider_required()
def counts(activity_id: int):
    """The counts as stored: what Cancel (or Esc) puts back."""
    activity = db.get_or_404(Activity, activity_id)
    if not is_htmx():
        return redirect(url_for("activities.detail", activity_id=activity.id))
    focus = request.args.get("field", "physicians")
    return _cell(activity, CellState(focus=focus))


@bp.route("/<int:activity_id>/counts/edit")
@login_required
@provider_required(*EDITORS)
def counts_edit(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    if not is_htmx():
        target = url_for("activities.detail", activity_id=activity.id, counts="edit")
        return redirect(f"{target}#counts-{activity.id}")
    focus = request.args.get("field", "physicians")
    return _cell(activity, CellState(mode="edit", focus=focus))


@bp.route("/<int:activity_id>/counts", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def counts_save(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    values = {name: request.form.get(name, "") for name in counts_svc.FIELDS}
    version = to_int(request.form.get("version"))
    try:
        counts_svc.update_counts(g.provider, activity, values, version, current_user, clock.now())
    except counts_svc.CountsInvalid as err:
        first = next(iter(err.errors))  # the editor opens on the first field to fix
        state = CellState(mode="edit", focus=first, errors=err.errors, values=values)
        return _counts_answer(activity, state, 422)
    except counts_svc.CountsConflict as err:
        state = CellState(mode="edit", values=values, conflict_by=err.by, conflict_at=err.at)
        return _counts_answer(err.current, state, 409)
    except counts_svc.CountsRefused as err:
        current = db.session.get(Activity, activity_id)
        if current is None:
            abort(404)
        return _counts_answer(current, CellState(refused=str(err)), 422)
    return _counts_answer(activity, CellState(saved=True), 200)


def _counts_answer(a: Activity, state: CellState, status: int):
    """The cell for htmx; without JavaScript the detail page (or a redirect after a save)."""
    if is_htmx():
        headers = {}
        if state.saved:
            message = f"Saved the learner counts of {a.provider_activity_id}: " + _counts_text(a)
            headers["HX-Trigger"] = json.dumps({"announce": message})
        return _cell(a, state, status, headers)
    if state.saved:
        flash(f"Learner counts of {a.provider_activity_id} saved.", "success")
        return redirect(url_for("activities.detail", activity_id=a.id), 303)
    return _detail_page(a, status, cell=state)


def _counts_text(a: Activity) -> str:
    def n(value: int | None) -> str:
        return f"{value:,}" if value is not None else "not given"

    return f"{n(a.physician_learners)} physicians, {n(a.other_learners)} other learners."


# --- Bulk close and Undo -----------------------------------------------------------------------


@dataclass(frozen=True)
class BulkAnswer:
    """What the bulk result region shows: a close result, an undo result, or a refusal."""

    result: closing.BulkCloseResult | None = None
    undo: closing.UndoResult | None = None
    message: str | None = None


def _bulk_selection() -> tuple[dict, activity_list.ActivityFilter, str | None]:
    """The service's selection arguments from the posted form, or a reason to refuse it."""
    f = activity_list.parse_filter(request.form)
    if request.form.get("scope") == "matching":
        if f.ignored:  # never widen a bulk close by dropping a filter it could not read
            return {}, f, "The filter could not be read: reload the list and select again."
        return {"f": f}, f, None
    raw = request.form.getlist("ids")
    ids = [i for i in (to_int(v) for v in raw) if i is not None]
    if not ids:
        return {}, f, "Select at least one activity to close."
    if len(ids) > MAX_BULK_IDS or len(ids) != len(raw):
        return {}, f, "The selection could not be read: reload the list and select again."
    return {"ids": ids}, f, None


@bp.route("/bulk/close", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def bulk_close():
    selection, f, problem = _bulk_selection()
    if problem:
        return _bulk_answer(BulkAnswer(message=problem), f, 422)
    result = closing.bulk_close(g.provider, current_user, clock.now(), **selection)
    return _bulk_answer(BulkAnswer(result=result), f)


@bp.route("/bulk/<int:operation_id>/undo", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def bulk_undo(operation_id: int):
    f = activity_list.parse_filter(request.form)
    try:
        undo = closing.undo_bulk_close(g.provider, operation_id, current_user, clock.now())
    except closing.OperationNotFound:
        abort(404)
    except closing.CloseRefused as err:
        return _bulk_answer(BulkAnswer(message=" ".join(err.reasons)), f, 409)
    return _bulk_answer(BulkAnswer(undo=undo), f)


def _announcement(answer: BulkAnswer) -> str:
    if answer.message:
        return answer.message
    if answer.undo is not None:
        return f"Reopened {count_noun(answer.undo.reopened, 'activity', 'activities')}."
    r = answer.result
    parts = [f"Closed {count_noun(r.closed, 'activity', 'activities')}."]
    if r.already_closed:
        verb = "was" if r.already_closed == 1 else "were"
        parts.append(f"{r.already_closed:,} {verb} closed already.")
    if r.refused_total:
        parts.append(f"{r.refused_total:,} could not be closed.")
    return " ".join(parts)


def _bulk_answer(answer: BulkAnswer, f: activity_list.ActivityFilter, status: int = 200):
    """The result fragment (htmx, announced) or, without JavaScript, the list page with it."""
    if not is_htmx():
        context = _list_context(f)
        return render_template("activities/index.html", bulk=answer, **context), status
    html = render_template("activities/_bulk_result.html", bulk=answer, f=f)
    events: dict = {"announce": _announcement(answer)}
    if answer.message is None:
        events["activities-changed"] = True
    return html, status, {"HX-Trigger": json.dumps(events)}

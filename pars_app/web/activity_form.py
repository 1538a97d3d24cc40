"""Creating, editing and deleting activities: a plain form that htmx makes adaptive.

The form posts to its own page. Choices that change which fields apply (format, delivery,
CME Passport, providership, commercial support, a supporter's kind) and the add/remove row
buttons also post, through htmx, to `form-fields`, which re-renders the field groups from the
values typed so far. Without JavaScript the same buttons post the whole page, which comes back
re-rendered the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..domain.codes import (
    IN_KIND_NATURES,
    MOC_BOARDS,
    OUTCOMES,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    SUPPORT_KINDS,
    US_STATES,
    country_choices,
)
from ..domain.formats import DELIVERY_LABELS, FORMATS
from ..extensions import db
from ..models import Activity
from ..security import EDITORS, provider_required
from ..services import activity_edit as svc
from ..services import activity_input as inp
from ..services import clock
from .params import to_int

bp = Blueprint("activity_form", __name__, url_prefix="/activities")

COUNTRY_CHOICES = country_choices()
SAVE_ACTIONS = ("", "save")


def _can_edit() -> bool:
    return g.get("membership") is not None and g.membership.role in EDITORS


@dataclass(frozen=True)
class ActivityPermissions:
    """What the signed-in user may do to one activity, and why not when they may not."""

    can_edit: bool
    can_delete: bool
    read_only_reason: str | None


@bp.app_template_global()
def can_create_activities() -> bool:
    return g.get("provider") is not None and _can_edit()


@bp.app_template_global()
def activity_permissions(a: Activity) -> ActivityPermissions:
    if not _can_edit():
        return ActivityPermissions(False, False, None)
    reason = svc.edit_refusal(a)
    can_delete = reason is None and svc.delete_refusal(a) is None
    return ActivityPermissions(reason is None, can_delete, reason)


FORMAT_OPTIONS = [(code, f"{info.label} ({code})") for code, info in FORMATS.items()]
BOARD_OPTIONS = [(code, f"{code} — {name}") for code, name in MOC_BOARDS.items()]


def _choices() -> dict:
    return dict(
        formats=FORMATS,
        format_options=FORMAT_OPTIONS,
        board_options=BOARD_OPTIONS,
        countries=COUNTRY_CHOICES,
        states=US_STATES,
        providership=PROVIDERSHIP,
        registration=PASSPORT_REGISTRATION,
        yes_no=inp.YES_NO,
        kinds=SUPPORT_KINDS,
        natures=IN_KIND_NATURES,
        outcomes=OUTCOMES,
        boards=MOC_BOARDS,
        max_supporters=inp.MAX_SUPPORTERS,
        max_moc=inp.MAX_MOC,
    )


def _fields_context(
    form: inp.ActivityForm, errors: inp.Errors, focus_id: str | None = None
) -> dict:
    shown = inp.for_display(form)
    show = inp.visible(shown)
    return dict(
        form=shown,
        show=show,
        errors=errors,
        focus_id=focus_id,
        delivery_options=[(d, DELIVERY_LABELS[d]) for d in show.deliveries],
        **_choices(),
    )


def _focus_after(action: str, form: inp.ActivityForm) -> str | None:
    """Where keyboard focus goes after a row button: the new row, or the add button."""
    verb = action.partition(":")[0]
    if verb == "add_supporter" and form.supporters:
        return f"f-supporter-{len(form.supporters) - 1}-name"
    if verb == "add_moc" and form.moc:
        return f"f-moc-{len(form.moc) - 1}-board"
    return {"remove_supporter": "add-supporter", "remove_moc": "add-moc"}.get(verb)


def _page(
    form: inp.ActivityForm,
    activity: Activity | None,
    errors: inp.Errors | None = None,
    status: int = 200,
    conflict: Activity | None = None,
    focus_id: str | None = None,
):
    # The version the user started from travels with every re-render, so a save after a
    # validation round still detects a change made by someone else meanwhile.
    posted = to_int(request.form.get("version")) if request.method == "POST" else None
    version = posted if posted is not None else (activity.version if activity else None)
    return render_template(
        "activities/form.html",
        activity=activity,
        version=version,
        conflict=conflict,
        error_anchor=inp.error_anchor,
        **_fields_context(form, errors or {}, focus_id),
    ), status


def _submit(activity: Activity | None):
    form = inp.form_from_post(request.form)
    action = request.form.get("action", "")
    if action not in SAVE_ACTIONS:  # a row button without JavaScript: show the form again
        form = inp.apply_action(form, action)
        return _page(form, activity, focus_id=_focus_after(action, form))
    data, errors = inp.read_form(form)
    version = to_int(request.form.get("version"))
    try:
        saved = svc.save_activity(
            g.provider, activity, data, current_user, version, clock.now(), input_errors=errors
        )
    except svc.ActivityInvalid as err:
        return _page(form, activity, err.errors, 422)
    except svc.ActivityConflict as err:
        return _page(form, activity, status=409, conflict=err.current)
    except svc.ActivityRefused as err:
        flash(str(err), "error")
        return redirect(_after_refusal(activity), 303)
    verb = "created" if activity is None else "saved"
    flash(f"Activity {saved.provider_activity_id} {verb}.", "success")
    return redirect(url_for("activities.detail", activity_id=saved.id), 303)


def _after_refusal(activity: Activity | None) -> str:
    still_there = activity is not None and db.session.get(Activity, activity.id) is not None
    if still_there:
        return url_for("activities.detail", activity_id=activity.id)
    return url_for("activities.index")


@bp.route("/new", methods=["GET", "POST"])
@login_required
@provider_required(*EDITORS)
def new():
    if request.method == "GET":
        return _page(inp.ActivityForm(), None)
    return _submit(None)


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
@provider_required(*EDITORS)
def edit(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    if reason := svc.edit_refusal(activity):
        flash(reason, "error")
        return redirect(url_for("activities.detail", activity_id=activity.id), 303)
    if request.method == "GET":
        return _page(inp.form_of(activity), activity)
    return _submit(activity)


@bp.route("/form-fields", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def fields():
    """The field groups re-rendered for the values typed so far (htmx)."""
    action = request.form.get("action", "")
    form = inp.apply_action(inp.form_from_post(request.form), action)
    context = _fields_context(form, {}, _focus_after(action, form))
    return render_template("activities/_form_fields.html", swapped=True, **context)


@bp.route("/<int:activity_id>/delete", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def delete(activity_id: int):
    activity = db.get_or_404(Activity, activity_id)
    label = f"{activity.provider_activity_id} “{activity.title}”"
    try:
        svc.delete_activity(g.provider, activity, current_user, clock.now())
    except svc.ActivityRefused as err:
        flash(f"Not deleted: {err}", "error")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    flash(f"Draft {label} deleted.", "success")
    return redirect(url_for("activities.index"), 303)

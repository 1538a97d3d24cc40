"""Checklist step 5: contacts, edited inline (htmx) or with plain forms, and the review."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..domain.contacts import CONTACT_ROLES
from ..extensions import db
from ..models import Contact
from ..security import EDITORS, is_htmx, provider_required
from ..services import clock
from ..services import contacts as svc
from .params import to_int

bp = Blueprint("contacts", __name__, url_prefix="/contacts")


def _page(
    status: int = 200,
    editing: int | None = None,
    add_errors=None,
    add_values=None,
    edit_errors=None,
    edit_values=None,
):
    ctx = dict(
        edit_errors=edit_errors or {},
        edit_values=edit_values or {},
        overview=svc.overview(g.provider),
        roles=CONTACT_ROLES,
        editing=editing,
        add_errors=add_errors or {},
        add_values=add_values or {},
        can_edit=_can_edit(),
    )
    return render_template("contacts/index.html", **ctx), status


def _can_edit() -> bool:
    return g.membership is not None and g.membership.role in EDITORS


def _row(
    contact: Contact,
    mode: str = "view",
    errors=None,
    values=None,
    status: int = 200,
    conflict: bool = False,
):
    html = render_template(
        "contacts/_row.html",
        c=contact,
        mode=mode,
        errors=errors or {},
        values=values or {},
        roles=CONTACT_ROLES,
        can_edit=_can_edit(),
        conflict=conflict,
    )
    headers = {"HX-Trigger": "contacts-changed"} if status == 200 and mode == "view" else {}
    return html, status, headers


@bp.route("")
@login_required
@provider_required()
def index():
    edit = request.args.get("edit", "")
    return _page(editing=to_int(edit) if _can_edit() else None)


@bp.route("/review")
@login_required
@provider_required()
def review():
    return render_template(
        "contacts/_review.html", overview=svc.overview(g.provider), can_edit=_can_edit()
    )


@bp.route("/<int:contact_id>/row")
@login_required
@provider_required()
def row(contact_id: int):
    return _row(db.get_or_404(Contact, contact_id))[:2]


@bp.route("/<int:contact_id>/edit")
@login_required
@provider_required(*EDITORS)
def edit(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    if not is_htmx():
        return redirect(url_for("contacts.index", edit=contact.id) + f"#contact-{contact.id}")
    return _row(contact, mode="edit")[:2]


@bp.route("/<int:contact_id>", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def update(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    version = request.form.get("version", "")
    try:
        svc.update_contact(
            g.provider,
            contact,
            request.form,
            to_int(version) or -1,
            current_user,
            clock.now(),
        )
    except svc.ContactInvalid as err:
        if not is_htmx():
            flash("Fix the highlighted fields.", "error")
            return _page(422, editing=contact.id, edit_errors=err.errors, edit_values=request.form)
        return _row(contact, "edit", err.errors, request.form, status=422)
    except svc.ContactConflict as err:
        if not is_htmx():
            flash("Someone else changed this contact; here is what is stored now.", "warning")
            return _page(409, editing=contact.id)
        return _row(err.current, "edit", status=409, values=request.form, conflict=True)
    if not is_htmx():
        flash("Contact saved.", "success")
        return redirect(url_for("contacts.index"))
    return _row(contact)


@bp.route("", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def add():
    try:
        svc.add_contact(g.provider, request.form, current_user, clock.now())
    except svc.ContactInvalid as err:
        return _page(422, add_errors=err.errors, add_values=svc.clean(request.form))
    flash("Contact added.", "success")
    return redirect(url_for("contacts.index"))


@bp.route("/<int:contact_id>/delete", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def delete(contact_id: int):
    contact = db.get_or_404(Contact, contact_id)
    try:
        svc.delete_contact(g.provider, contact, current_user, clock.now())
    except svc.ContactRefused as err:
        flash(str(err), "error")
    else:
        flash("Contact removed.", "success")
    return redirect(url_for("contacts.index"))


@bp.route("/confirm", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def confirm():
    try:
        svc.confirm_current(g.provider, current_user, clock.now())
    except svc.ContactRefused as err:
        flash(str(err), "error")
    else:
        flash("Thank you: the contacts are confirmed as current.", "success")
    if request.form.get("next") == "dashboard":
        return redirect(url_for("dashboard.index"))
    return redirect(url_for("contacts.index"))

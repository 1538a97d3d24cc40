"""Checklist step 5: contacts edited inline, validated, conflicts caught, review recorded."""

import lxml.html
import time_machine
from sqlalchemy import select

from pars_app.extensions import db
from pars_app.models import AuditEvent, Contact, ContactReview
from tests.factories import csrf_token, login, make_provider, make_user, utc

IN_CYCLE = utc(2026, 2, 10, 18)
HX = {"HX-Request": "true"}


def _setup(app, role="admin", roles=("primary", "billing", "ceo")):
    with app.app_context():
        p = make_provider()
        make_user("a@example.org", p, role=role)
        ids = []
        for r in roles:
            c = Contact(
                provider_id=p.id,
                role=r,
                name=f"{r} person",
                email=f"{r}@x.org",
                phone="(312) 555-0100",
            )
            db.session.add(c)
            db.session.flush()
            ids.append(c.id)
        db.session.commit()
        return ids


def _form(client, **values):
    base = dict(
        role="primary",
        name="Dana Morgan",
        title="Director",
        email="dana@x.org",
        phone="312 555 0199",
        version="1",
    )
    base.update(values)
    base["csrf_token"] = csrf_token(client, "/contacts")
    return base


def test_inline_edit_saves_and_returns_the_row(app, client):
    primary, *_ = _setup(app)
    login(client, "a@example.org")
    edit = client.get(f"/contacts/{primary}/edit", headers=HX)
    assert edit.status_code == 200
    assert lxml.html.fromstring(edit.data).get("id") == f"contact-{primary}"
    r = client.post(f"/contacts/{primary}", data=_form(client), headers=HX)
    assert r.status_code == 200
    assert r.headers["HX-Trigger"] == "contacts-changed"
    assert "Dana Morgan" in r.get_data(as_text=True)
    with app.app_context():
        c = db.session.get(Contact, primary)
        assert (c.name, c.version) == ("Dana Morgan", 2)
        assert db.session.scalar(select(ContactReview.changed)) is True
        assert "contact.updated" in db.session.scalars(select(AuditEvent.action)).all()


def test_invalid_values_come_back_with_messages_and_nothing_is_saved(app, client):
    primary, *_ = _setup(app)
    login(client, "a@example.org")
    r = client.post(
        f"/contacts/{primary}", headers=HX, data=_form(client, email="nope", phone="12", name="")
    )
    assert r.status_code == 422
    errors = [e.text_content() for e in lxml.html.fromstring(r.data).cssselect(".error")]
    assert any("name" in e for e in errors)
    assert any("name@example.org" in e for e in errors)
    assert any("7 to 20 digits" in e for e in errors)
    with app.app_context():
        assert db.session.get(Contact, primary).name == "primary person"


def test_a_stale_edit_gets_a_conflict_and_overwrites_nothing(app, client):
    primary, *_ = _setup(app)
    login(client, "a@example.org")
    client.post(f"/contacts/{primary}", data=_form(client, name="First Save"), headers=HX)
    r = client.post(f"/contacts/{primary}", data=_form(client, name="Stale Save"), headers=HX)
    assert r.status_code == 409
    assert "Changed by a@example.org" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, primary).name == "First Save"


def test_without_htmx_the_same_actions_work_as_plain_forms(app, client):
    primary, *_ = _setup(app)
    login(client, "a@example.org")
    assert client.get(f"/contacts/{primary}/edit").status_code == 302
    page = client.get(f"/contacts?edit={primary}").get_data(as_text=True)
    assert f'id="contact-form-{primary}"' in page
    bad = client.post(f"/contacts/{primary}", data=_form(client, email="x"))
    assert bad.status_code == 422 and "name@example.org" in bad.get_data(as_text=True)
    ok = client.post(f"/contacts/{primary}", data=_form(client), follow_redirects=True)
    assert "Contact saved." in ok.get_data(as_text=True)


def test_add_and_remove_other_contacts_but_not_required_ones(app, client):
    primary, *_ = _setup(app)
    login(client, "a@example.org")
    r = client.post(
        "/contacts",
        data=_form(client, role="other", name="Pat Lee", email="p@x.org"),
        follow_redirects=True,
    )
    assert "Contact added." in r.get_data(as_text=True)
    dup = client.post("/contacts", data=_form(client, role="primary"))
    assert dup.status_code == 422 and "already a Primary Contact" in dup.get_data(as_text=True)
    with app.app_context():
        other = db.session.scalar(select(Contact).where(Contact.role == "other"))
        other_id = other.id
    token = csrf_token(client, "/contacts")
    r = client.post(
        f"/contacts/{primary}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "cannot be removed" in r.get_data(as_text=True)
    client.post(f"/contacts/{other_id}/delete", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Contact, other_id) is None
        assert db.session.get(Contact, primary) is not None


@time_machine.travel(IN_CYCLE, tick=False)
def test_confirming_completes_the_checklist_step(app, client):
    _setup(app)
    login(client, "a@example.org")
    token = csrf_token(client, "/contacts")
    r = client.post("/contacts/confirm", data={"csrf_token": token}, follow_redirects=True)
    assert "confirmed as current" in r.get_data(as_text=True)
    dash = lxml.html.fromstring(client.get("/?year=2025").data)
    step = dash.cssselect("#step-contacts")[0]
    assert "step--done" in step.get("class")
    assert "a@example.org" in step.text_content()


def test_confirming_needs_every_required_role(app, client):
    _setup(app, roles=("primary",))
    login(client, "a@example.org")
    token = csrf_token(client, "/contacts")
    r = client.post("/contacts/confirm", data={"csrf_token": token}, follow_redirects=True)
    assert "Add the Billing Contact and the CEO" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ContactReview)) is None


def test_reviewer_reads_but_cannot_change(app, client):
    primary, *_ = _setup(app, role="reviewer")
    login(client, "a@example.org")
    page = client.get("/contacts").get_data(as_text=True)
    assert "primary person" in page and "Confirm contacts are current" not in page
    assert client.post(f"/contacts/{primary}", data=_form(client), headers=HX).status_code == 403
    assert client.get(f"/contacts/{primary}/edit", headers=HX).status_code == 403


def test_another_providers_contact_is_not_found(app, client):
    _setup(app)
    with app.app_context():
        other = make_provider()
        c = Contact(
            provider_id=other.id, role="primary", name="Secret", email="s@x.org", phone="3125550100"
        )
        db.session.add(c)
        db.session.commit()
        cid = c.id
    login(client, "a@example.org")
    assert client.get(f"/contacts/{cid}/row", headers=HX).status_code == 404
    assert client.post(f"/contacts/{cid}", data=_form(client), headers=HX).status_code == 404
    assert "Secret" not in client.get("/contacts").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, cid).name == "Secret"

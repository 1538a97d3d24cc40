"""Checklist step 1: reading and accepting the annual Provider Agreement."""

import lxml.html
import time_machine
from sqlalchemy import select

from pars_app.extensions import db
from pars_app.models import AgreementAcceptance, AuditEvent
from tests.factories import csrf_token, login, make_agreement, make_provider, make_user, utc

IN_CYCLE = utc(2026, 2, 10, 18)


def _setup(app, role="admin", versions=1):
    with app.app_context():
        p = make_provider()
        make_user("a@example.org", p, role=role)
        texts = [make_agreement(p.accreditor, 2025, version=v) for v in range(1, versions + 1)]
        db.session.commit()
        return p.id, [t.id for t in texts]


def _accept(client, text_id, confirm="yes"):
    token = csrf_token(client, "/agreement/2025")
    data = {"csrf_token": token, "text_id": str(text_id)}
    if confirm:
        data["confirm"] = confirm
    return client.post("/agreement/2025", data=data, follow_redirects=True)


@time_machine.travel(IN_CYCLE, tick=False)
def test_accepting_marks_the_step_done_and_is_audited(app, client):
    _, (tid,) = _setup(app)
    login(client, "a@example.org")
    page = lxml.html.fromstring(client.get("/?year=2025").data)
    link = page.cssselect("#step-agreement a.step__action")[0].get("href")
    assert link == "/agreement/2025"
    r = _accept(client, tid)
    assert r.status_code == 200
    doc = lxml.html.fromstring(r.data)
    assert "done" in doc.cssselect("#step-agreement")[0].get("class")
    assert "a@example.org" in doc.cssselect("#step-agreement")[0].text_content()
    with app.app_context():
        assert db.session.scalar(select(AgreementAcceptance.accepted_by_id)) is not None
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert "agreement.accepted" in actions
    shown = lxml.html.fromstring(client.get("/agreement/2025").data)
    assert "Accepted on" in shown.cssselect("#agreement-status")[0].text_content()
    assert not shown.cssselect("#accept-form")


@time_machine.travel(IN_CYCLE, tick=False)
def test_without_the_tick_nothing_is_recorded(app, client):
    _, (tid,) = _setup(app)
    login(client, "a@example.org")
    r = _accept(client, tid, confirm=None)
    assert "Tick the box" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AgreementAcceptance)) is None


@time_machine.travel(IN_CYCLE, tick=False)
def test_a_stale_version_is_refused_and_a_new_version_asks_again(app, client):
    _, (v1, v2) = _setup(app, versions=2)
    login(client, "a@example.org")
    r = _accept(client, v1)
    assert "A newer version (version 2) was published" in r.get_data(as_text=True)
    _accept(client, v2)
    with app.app_context():
        assert db.session.scalars(select(AgreementAcceptance.agreement_text_id)).all() == [v2]


@time_machine.travel(utc(2025, 11, 20, 18), tick=False)
def test_not_open_before_january_first(app, client):
    _, (tid,) = _setup(app)
    login(client, "a@example.org")
    page = client.get("/agreement/2025").get_data(as_text=True)
    assert "Opens" in page and 'id="accept-form"' not in page
    r = _accept(client, tid)
    assert "cannot be accepted yet" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AgreementAcceptance)) is None


@time_machine.travel(IN_CYCLE, tick=False)
def test_reviewer_reads_but_cannot_accept(app, client):
    _, (tid,) = _setup(app, role="reviewer")
    login(client, "a@example.org")
    page = client.get("/agreement/2025").get_data(as_text=True)
    assert "Only provider admins and staff" in page
    token = csrf_token(client, "/agreement/2025")
    r = client.post("/agreement/2025", data={"csrf_token": token, "text_id": tid, "confirm": "yes"})
    assert r.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(AgreementAcceptance)) is None


@time_machine.travel(IN_CYCLE, tick=False)
def test_another_providers_agreement_text_cannot_be_accepted(app, client):
    _setup(app)
    with app.app_context():
        other = make_provider()  # a different accreditor with its own text
        foreign = make_agreement(other.accreditor, 2025)
        db.session.commit()
        foreign_id = foreign.id
    login(client, "a@example.org")
    r = _accept(client, foreign_id)
    assert "A newer version" in r.get_data(as_text=True) or "published" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AgreementAcceptance)) is None


def test_year_out_of_range_is_404(app, client):
    _setup(app)
    login(client, "a@example.org")
    assert client.get("/agreement/1800").status_code == 404

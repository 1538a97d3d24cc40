"""Tenant isolation: no user ever reaches another provider's rows, whatever the route.

The route tests walk `app.url_map`, so a route added later is covered without touching this
file — and a route whose id argument this file does not know makes the test fail loudly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import pytest
from flask_login import login_user
from sqlalchemy import delete, func, select, update
from werkzeug.routing import IntegerConverter, Rule

from pars_app.extensions import db
from pars_app.models import (
    Activity,
    AuditEvent,
    Contact,
    ImportJob,
    LearnerSnapshot,
    ProgramSummary,
    Provider,
    User,
)
from pars_app.services import data_version
from tests.factories import (
    csrf_token,
    login,
    make_accreditor,
    make_activity,
    make_contact,
    make_enduring,
    make_import_job,
    make_provider,
    make_snapshot,
    make_summary,
    make_user,
)
from tests.web.html import by_id, parse, text

# Route arguments that name a provider-owned row, and the model each one points at.
ID_ARGS: dict[str, type] = {
    "activity_id": Activity,
    "contact_id": Contact,
    "import_id": ImportJob,
    "job_id": ImportJob,
    "snapshot_id": LearnerSnapshot,
    "summary_id": ProgramSummary,
    "provider_id": Provider,  # the accreditor console's provider routes
    "operation_id": AuditEvent,  # a bulk close (its audit event), undone by id
}
# Route arguments that are not row ids, with the value used to build a URL.
PLAIN_ARGS: dict[str, int | str] = {"year": 2025, "step": "activities"}
# Routes anyone may open without signing in.
# The published XSD is public on purpose (docs/decisions.md: Batch files).
PUBLIC_ENDPOINTS = {"static", "auth.login", "health.health", "exports.activities_xsd"}
# Routes for accreditor staff only: a provider user gets 404 even for its own provider.
ACCREDITOR_ONLY = ("accreditor.",)
METHODS = ("GET", "POST")


@dataclass
class World:
    a_email: str
    a_ids: dict[type, int]
    b_ids: dict[type, int]
    a_provider: int
    b_provider: int


def _rows_for(provider) -> dict[type, int]:
    activity = make_activity(provider, title=f"Activity of {provider.code}")
    em = make_enduring(provider, date(2025, 1, 1), date(2026, 12, 31), title=f"EM {provider.code}")
    return {
        Activity: activity.id,
        Contact: make_contact(provider, name=f"Contact of {provider.code}").id,
        ImportJob: make_import_job(provider).id,
        LearnerSnapshot: make_snapshot(em, 2025).id,
        ProgramSummary: make_summary(provider, 2025).id,
        Provider: provider.id,
        AuditEvent: _bulk_close_event(provider, activity),
    }


def _bulk_close_event(provider, activity) -> int:
    """A bulk close of the provider's activity: what Undo names by id."""
    event = AuditEvent(
        action="activities.bulk_closed",
        provider_id=provider.id,
        via="bulk",
        details=json.dumps({"ids": [activity.id]}),
    )
    db.session.add(event)
    db.session.flush()
    return event.id


@pytest.fixture
def world(app) -> World:
    """Provider A (signed in as its admin) and provider B under another accreditor."""
    with app.app_context():
        a = make_provider("PROV-A")
        b = make_provider("PROV-B")
        make_user("admin-a@example.org", a, role="admin")
        make_user("admin-b@example.org", b, role="admin")
        world = World("admin-a@example.org", _rows_for(a), _rows_for(b), a.id, b.id)
        db.session.commit()
    return world


def _rules(app) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _id_args(rule: Rule) -> list[str]:
    """The rule's arguments that identify a row; unknown arguments fail the test."""
    ids = []
    for name, converter in rule._converters.items():
        if name in ID_ARGS:
            ids.append(name)
        elif name in PLAIN_ARGS or rule.endpoint == "static":
            continue
        elif isinstance(converter, IntegerConverter) or name == "id" or name.endswith("_id"):
            pytest.fail(
                f"route {rule.rule} ({rule.endpoint}) takes {name!r}, which this test cannot "
                "map to a model: add it to ID_ARGS (or PLAIN_ARGS) in "
                "tests/security/test_tenancy.py"
            )
    return ids


def _url(app, rule: Rule, ids: dict[type, int]) -> str:
    values = {}
    for name in rule.arguments:
        if name in ID_ARGS:
            values[name] = ids[ID_ARGS[name]]
        elif name in PLAIN_ARGS:
            values[name] = PLAIN_ARGS[name]
        else:
            pytest.fail(f"route {rule.rule} takes {name!r}: no value known to build its URL")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _methods(rule: Rule) -> list[str]:
    return [m for m in METHODS if m in rule.methods]


def _b_snapshot(app, world: World) -> dict:
    """Everything of B a request could change, to compare before and after."""
    with app.app_context():
        activity = db.session.get(Activity, world.b_ids[Activity])
        contact = db.session.get(Contact, world.b_ids[Contact])
        counts = {
            model.__name__: db.session.scalar(
                select(func.count()).select_from(model).where(model.provider_id == world.b_provider)
            )
            for model in (Activity, Contact, ImportJob, LearnerSnapshot, ProgramSummary)
        }
        return {
            "activity": (activity.title, activity.version, activity.closed_at),
            "contact": (contact.name, contact.email, contact.version),
            "counts": counts,
        }


# --- Walking the routes ------------------------------------------------------------------------


def test_the_route_walk_covers_the_id_routes(app):
    """Guard the guard: the walk must find the routes we know take ids."""
    with_ids = {r.endpoint for r in _rules(app) if _id_args(r)}
    assert "activities.detail" in with_ids
    assert len(with_ids) >= 1


def test_every_id_route_answers_404_for_another_providers_row(app, client, world):
    login(client, world.a_email)
    token = csrf_token(client, "/")
    before = _b_snapshot(app, world)
    checked = []
    for rule in _rules(app):
        if not _id_args(rule):
            continue
        other_url = _url(app, rule, world.b_ids)
        own_url = _url(app, rule, world.a_ids)
        for method in _methods(rule):
            for headers in ({}, {"HX-Request": "true"}):
                if method == "GET":
                    resp = client.get(other_url, headers=headers)
                else:
                    resp = client.post(
                        other_url,
                        data={"csrf_token": token, "name": "Hijacked", "version": "1"},
                        headers={**headers, "X-CSRFToken": token},
                    )
                assert resp.status_code == 404, (
                    f"{method} {other_url} ({rule.endpoint}) as a user of A gave "
                    f"{resp.status_code}, not 404"
                )
                body = resp.get_data(as_text=True)
                assert "of PROV-B" not in body, f"{method} {other_url} shows B's data"
            checked.append((method, rule.endpoint))
        if "GET" in rule.methods and not rule.endpoint.startswith(ACCREDITOR_ONLY):
            # Control: the same route with A's own row is reachable, so the 404 above means
            # "not yours", not "this route is broken".
            own = client.get(own_url)
            assert own.status_code in (200, 302), f"GET {own_url} gave {own.status_code}"
    assert ("GET", "activities.detail") in checked
    assert _b_snapshot(app, world) == before, "a request of A changed B's data"


def test_every_route_needs_sign_in(app, client, world):
    for rule in _rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        _id_args(rule)
        url = _url(app, rule, world.a_ids)
        for method in _methods(rule):
            for htmx in (False, True):
                headers = {"HX-Request": "true"} if htmx else {}
                if method == "GET":
                    resp = client.get(url, headers=headers)
                else:
                    # A token of this anonymous session, so the POST reaches the sign-in check
                    # instead of CSRF's 400 (fetched anew: /logout clears the session).
                    token = csrf_token(client, "/login")
                    resp = client.post(
                        url, data={"csrf_token": token}, headers={**headers, "X-CSRFToken": token}
                    )
                where = f"{method} {url} ({rule.endpoint}, htmx={htmx})"
                assert resp.status_code != 200, f"{where} answered 200 without sign-in"
                if resp.status_code == 401:
                    assert htmx, f"{where}: 401 for a plain request"
                    assert urlsplit(resp.headers["HX-Redirect"]).path == "/login", where
                else:
                    assert resp.status_code == 302, f"{where} gave {resp.status_code}"
                    assert urlsplit(resp.headers["Location"]).path == "/login", where


def test_public_routes_answer_without_sign_in(app, client):
    assert client.get("/login").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/static/js/app.js").status_code == 200


# --- Who sees which providers ------------------------------------------------------------------


@pytest.fixture
def accreditors(app):
    with app.app_context():
        national = make_accreditor("NAT", national=True)
        state = make_accreditor("STATE")
        other_state = make_accreditor("OTHERST")
        names = {}
        for code, acc in (
            ("ST-1", state),
            ("ST-2", state),
            ("NAT-1", national),
            ("OT-1", other_state),
        ):
            p = make_provider(code, acc)
            p.name = f"Provider named {code}"
            names[code] = p.name
        make_user("state-staff@example.org", accreditor=state)
        make_user("national-staff@example.org", accreditor=national)
        db.session.commit()
    return names


def _provider_names_on_home(client) -> set[str]:
    resp = client.get("/", follow_redirects=True)  # accreditor staff land on /accreditor/
    assert resp.status_code == 200
    doc = parse(resp)
    return {text(tr.xpath("./td")[0]) for tr in doc.xpath("//table//tbody/tr") if tr.xpath("./td")}


def test_state_accreditor_staff_see_only_their_providers(app, client, accreditors):
    login(client, "state-staff@example.org")
    seen = _provider_names_on_home(client)
    assert seen == {"Provider named ST-1 ST-1", "Provider named ST-2 ST-2"}
    body = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "NAT-1" not in body and "OT-1" not in body


def test_national_accreditor_staff_see_every_provider(app, client, accreditors):
    login(client, "national-staff@example.org")
    seen = _provider_names_on_home(client)
    assert seen == {f"Provider named {code} {code}" for code in accreditors}


def test_accreditor_staff_cannot_open_provider_pages(app, client, accreditors):
    with app.app_context():
        p = db.session.scalar(select(Provider).where(Provider.code == "ST-1"))
        activity_id = make_activity(p).id
        db.session.commit()
    login(client, "state-staff@example.org")
    # No provider is chosen for accreditor staff: provider pages are not there for them.
    assert client.get(f"/activities/{activity_id}").status_code == 404
    assert client.get("/activities").status_code == 404


def test_reviewer_reads_the_dashboard_and_list_but_cannot_change(app, client):
    with app.app_context():
        p = make_provider("REV")
        make_user("reviewer@example.org", p, role="reviewer")
        make_activity(p, title="Reviewed course")
        db.session.commit()
    login(client, "reviewer@example.org")
    dashboard = client.get("/?year=2025")
    assert dashboard.status_code == 200
    assert by_id(parse(dashboard), "checklist") is not None
    listing = client.get("/activities?year=2025")
    assert listing.status_code == 200
    assert "Reviewed course" in listing.get_data(as_text=True)
    token = csrf_token(client, "/")
    resp = client.post("/agreement/2025", data={"csrf_token": token, "confirm": "yes"})
    assert resp.status_code == 403


# --- Scoping below the views -------------------------------------------------------------------


def _act_as(app, email: str):
    """Inside a test_request_context: sign `email` in and run the app's before_request."""
    user = db.session.scalar(select(User).where(User.email == email))
    login_user(user)
    app.preprocess_request()


def test_direct_get_of_another_providers_row_returns_none(app, world):
    with app.test_request_context("/"):
        _act_as(app, world.a_email)
        assert db.session.get(Activity, world.b_ids[Activity]) is None
        assert db.session.get(Contact, world.b_ids[Contact]) is None
        assert db.session.get(LearnerSnapshot, world.b_ids[LearnerSnapshot]) is None
        assert db.session.get(ProgramSummary, world.b_ids[ProgramSummary]) is None
        assert db.session.get(ImportJob, world.b_ids[ImportJob]) is None
        # Control: A's own rows are there.
        assert db.session.get(Activity, world.a_ids[Activity]) is not None
        everything = db.session.scalars(select(Activity)).all()
        assert {a.provider_id for a in everything} == {world.a_provider}
        # Even an explicit filter on B finds nothing.
        assert not db.session.scalars(
            select(Activity).where(Activity.provider_id == world.b_provider)
        ).all()


def test_anonymous_request_sees_no_tenant_rows(app, world):
    with app.test_request_context("/"):
        app.preprocess_request()
        assert db.session.get(Activity, world.a_ids[Activity]) is None
        assert db.session.scalars(select(Activity)).all() == []


def test_orm_update_and_delete_never_touch_another_provider(app, world):
    with app.test_request_context("/"):
        _act_as(app, world.a_email)
        db.session.execute(update(Activity).values(title="Renamed by A"))
        result = db.session.execute(
            update(Activity).where(Activity.id == world.b_ids[Activity]).values(title="Hit")
        )
        assert result.rowcount == 0
        db.session.execute(delete(Contact))
        data_version.touch(world.a_provider)  # as a service's bulk UPDATE must
        db.session.commit()
    with app.app_context():
        b_titles = db.session.scalars(
            select(Activity.title).where(Activity.provider_id == world.b_provider)
        ).all()
        a_titles = db.session.scalars(
            select(Activity.title).where(Activity.provider_id == world.a_provider)
        ).all()
        assert b_titles and "Renamed by A" not in b_titles and "Hit" not in b_titles
        assert set(a_titles) == {"Renamed by A"}
        remaining = db.session.scalars(select(Contact.provider_id)).all()
        assert remaining == [world.b_provider]


def test_state_accreditor_scope_in_a_request(app, accreditors):
    with app.app_context():
        ids = {}
        for code in ("ST-1", "OT-1"):
            p = db.session.scalar(select(Provider).where(Provider.code == code))
            ids[code] = make_activity(p, title=f"Course {code}").id
        db.session.commit()
    with app.test_request_context("/"):
        _act_as(app, "state-staff@example.org")
        assert db.session.get(Activity, ids["ST-1"]) is not None
        assert db.session.get(Activity, ids["OT-1"]) is None
        db.session.execute(update(Activity).values(title="Touched"))
        st_1 = db.session.scalar(select(Provider.id).where(Provider.code == "ST-1"))
        data_version.touch(st_1)  # as a service's bulk UPDATE must
        db.session.commit()
    with app.app_context():
        assert db.session.get(Activity, ids["ST-1"]).title == "Touched"
        assert db.session.get(Activity, ids["OT-1"]).title == "Course OT-1"


def test_trusted_code_outside_a_request_is_not_scoped(app, world):
    with app.app_context():
        assert db.session.get(Activity, world.b_ids[Activity]) is not None
        assert len(db.session.scalars(select(Activity)).all()) == 4

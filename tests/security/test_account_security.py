"""Account security that tests/web/test_auth.py and tests/security/test_headers.py leave out:
session expiry (also of a copied cookie), no long-lived cookie, a sign-in refusal that reads
the same byte for byte whoever the email belongs to, the 500 page (headers, no details, nothing
half-saved), the 429 page, and no secrets in the logs or the audit trail.

Already covered elsewhere: lockout and its unlock (test_auth), the same message for unknown
users (test_auth), password change signing out other sessions (test_auth), secure cookie flags
in ProdConfig (test_headers), headers on 200/302/400/401/404/405/413 (test_headers) and on every
answer of the route matrix and the form fuzzing.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from sqlalchemy import select

from pars_app import create_app
from pars_app.extensions import db
from pars_app.models import AuditEvent, Contact, Provider, User
from tests.factories import PASSWORD, csrf_token, login, make_provider, make_user
from tests.security.test_headers import _assert_defensive_headers
from tests.web.html import by_id, parse, text

EMAIL = "secure@example.org"
NEW_PASSWORD = "a brand new long secret"
WRONG_PASSWORD = "hunter2-wrong-guess"
START = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def user(app) -> int:
    with app.app_context():
        p = make_provider("SEC")
        make_user(EMAIL, p, role="admin")
        db.session.commit()
        return p.id


def _signed_in(client) -> bool:
    resp = client.get("/")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"
    return False


# --- Session expiry ---------------------------------------------------------------------------


def test_an_idle_session_expires_after_the_configured_lifetime(app, user):
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    assert lifetime == timedelta(hours=12)
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        assert login(client, EMAIL).status_code == 302
    # Each request renews the session: a coordinator working all day is not thrown out.
    later = START + lifetime - timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert _signed_in(client)
    with time_machine.travel(later + lifetime - timedelta(minutes=1), tick=False):
        assert _signed_in(client)
    # Left idle for longer than the lifetime: signed out.
    with time_machine.travel(later + 2 * lifetime + timedelta(minutes=1), tick=False):
        assert not _signed_in(client)
        assert client.get("/activities").status_code == 302


def test_a_copied_session_cookie_is_refused_by_the_server_once_expired(app, user):
    """The browser forgetting the cookie is not enough: a copy replayed later is refused."""
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        assert login(client, EMAIL).status_code == 302
        stolen = client.get_cookie("session").value
    thief = app.test_client()
    with time_machine.travel(START + lifetime - timedelta(minutes=1), tick=False):
        thief.set_cookie("session", stolen)
        assert _signed_in(thief), "control: the copy works while the session is alive"
    replay = app.test_client()
    with time_machine.travel(START + lifetime + timedelta(minutes=1), tick=False):
        replay.set_cookie("session", stolen)  # no expiry: only the server can refuse it
        assert not _signed_in(replay)
        htmx = replay.get("/activities", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert urlsplit(htmx.headers["HX-Redirect"]).path == "/login"


def test_sign_in_sets_only_the_session_cookie_and_it_ends_with_the_lifetime(app, user):
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        token = csrf_token(client)
        resp = client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token}
        )
    assert resp.status_code == 302
    cookies = resp.headers.getlist("Set-Cookie")
    names = {c.split("=", 1)[0] for c in cookies}
    assert names == {"session"}, f"sign-in set {names}: no remember-me cookie outlives a session"
    expires = re.search(r"Expires=([^;]+)", cookies[0]).group(1)
    when = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert when <= START + app.config["PERMANENT_SESSION_LIFETIME"]


# --- The same refusal for every wrong sign-in --------------------------------------------------

_TOKEN = re.compile(r'(name="csrf_token"[^>]*value="|name="csrf-token" content=")[^"]+"')


def _refusal_page(client, email: str, password: str):
    token = csrf_token(client)
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    body = _TOKEN.sub(r'\1TOKEN"', resp.get_data(as_text=True)).replace(email, "EMAIL")
    headers = {k: v for k, v in resp.headers.items() if k not in ("Set-Cookie", "Content-Length")}
    return resp.status_code, headers, body


def test_unknown_email_wrong_password_and_locked_account_get_the_same_page(app, user):
    """Not only the message: status, headers and the whole page are the same, so nothing tells
    an attacker which emails have accounts or which are locked."""
    client = app.test_client()
    unknown = _refusal_page(client, "nobody-here@example.org", WRONG_PASSWORD)
    wrong = _refusal_page(client, EMAIL, WRONG_PASSWORD)
    assert unknown[0] == wrong[0] == 401
    assert unknown == wrong
    for _ in range(app.config["PARS_LOCKOUT_THRESHOLD"]):
        _refusal_page(client, EMAIL, WRONG_PASSWORD)
    locked = _refusal_page(client, EMAIL, PASSWORD)  # the right password, on a locked account
    assert locked == wrong
    assert text(by_id(parse(locked[2]), "login-error")).startswith("That email and password")


# --- The 500 page -------------------------------------------------------------------------------

SECRET_DETAIL = "internal detail 7f3a: table users, column password_hash"


@pytest.fixture
def failing_route(app):
    """A view that writes, then fails: the real error handler answers it (no mock involved)."""

    def explode():
        provider = db.session.scalars(select(Provider)).first()
        db.session.add(Contact(provider_id=provider.id, role="other", name="Half-saved"))
        db.session.flush()
        raise RuntimeError(SECRET_DETAIL)

    app.add_url_rule("/test-only/explode", "test_explode", explode, methods=["GET", "POST"])
    return "/test-only/explode"


def test_a_500_has_the_headers_no_details_and_saves_nothing(app, user, failing_route, caplog):
    client = app.test_client()
    login(client, EMAIL)
    for headers in ({}, {"HX-Request": "true"}):
        with caplog.at_level(logging.ERROR):
            resp = client.get(failing_route, headers=headers)
        assert resp.status_code == 500
        _assert_defensive_headers(resp)
        assert "no-store" in resp.headers.get("Cache-Control", "")
        body = resp.get_data(as_text=True)
        assert "Something went wrong on our side" in body
        for leak in (SECRET_DETAIL, "Traceback", "RuntimeError", "explode"):
            assert leak not in body, f"the 500 page shows {leak!r}"
    # The operators still get the details, in the log.
    assert SECRET_DETAIL in caplog.text and "Traceback" in caplog.text
    # "Nothing was half-saved", as the page says.
    with app.app_context():
        assert db.session.scalars(select(Contact).where(Contact.name == "Half-saved")).all() == []


def test_a_500_for_an_anonymous_visitor_has_the_headers_too(app, user, failing_route):
    resp = app.test_client().get(failing_route)
    assert resp.status_code == 500
    _assert_defensive_headers(resp)


# --- The 429 page -------------------------------------------------------------------------------


@pytest.fixture
def limited_app(monkeypatch):
    """The test config with the sign-in rate limit on (the suite turns it off elsewhere)."""
    monkeypatch.setenv("PARS_ENV", "test")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "RATELIMIT_ENABLED": True,
            "PARS_LOGIN_RATE": "3 per minute",
        }
    )
    with app.app_context():
        db.create_all()
        make_user(EMAIL, make_provider("RATE"))
        db.session.commit()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def test_too_many_sign_ins_get_429_with_the_headers_and_a_message(limited_app):
    client = limited_app.test_client()
    with time_machine.travel(START, tick=False):
        token = csrf_token(client)
        data = {"email": EMAIL, "password": WRONG_PASSWORD, "csrf_token": token}
        codes = [client.post("/login", data=data).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        resp = client.post("/login", data={**data, "password": PASSWORD})
        assert resp.status_code == 429, "the right password does not get past the rate limit"
        _assert_defensive_headers(resp)
        assert text(by_id(parse(resp), "error-heading")) == "Too many attempts"
    with time_machine.travel(START + timedelta(minutes=2), tick=False):
        assert client.post("/login", data={**data, "password": PASSWORD}).status_code == 302


# --- No secrets in the logs ---------------------------------------------------------------------


def _secrets(app, client) -> set[str]:
    found = {PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, app.secret_key}
    cookie = client.get_cookie("session")
    if cookie is not None:
        found.add(cookie.value)
    with app.app_context():
        for password_hash, session_token in db.session.execute(
            select(User.password_hash, User.session_token)
        ):
            found |= {password_hash, session_token}
    return found


def test_no_password_secret_key_or_session_cookie_reaches_the_logs(
    app, user, failing_route, caplog
):
    seen: set[str] = set()
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        login(client, "nobody-here@example.org", WRONG_PASSWORD)
        login(client, EMAIL, WRONG_PASSWORD)
        assert login(client, EMAIL).status_code == 302
        seen |= _secrets(app, client)
        token = csrf_token(client, "/account/password")
        form = {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        bad = client.post(
            "/account/password", data={**form, "current": WRONG_PASSWORD, "csrf_token": token}
        )
        assert bad.status_code == 422
        changed = client.post("/account/password", data={**form, "csrf_token": token})
        assert changed.status_code == 302
        seen |= _secrets(app, client)
        # An unexpected failure while a password is in the request: logged, but not the form.
        client.post(failing_route, data={"password": PASSWORD, "csrf_token": token})
        seen |= _secrets(app, client)
        client.post("/logout", data={"csrf_token": token})
    assert "unhandled error on POST /test-only/explode" in caplog.text, "the log was captured"
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in seen:
        assert secret not in logged, "a password, hash, session token or key reached the log"


def test_the_audit_trail_of_account_events_holds_no_secrets(app, user):
    client = app.test_client()
    login(client, EMAIL, WRONG_PASSWORD)
    login(client, EMAIL)
    token = csrf_token(client, "/account/password")
    client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    secrets_now = _secrets(app, client)
    with app.app_context():
        events = db.session.scalars(select(AuditEvent)).all()
        actions = {e.action for e in events}
        assert {"account.login", "account.password_changed"} <= actions
        for event in events:
            row = " ".join(str(getattr(event, c.key)) for c in AuditEvent.__table__.columns)
            for secret in secrets_now:
                assert secret not in row, f"audit event {event.action} holds a secret"

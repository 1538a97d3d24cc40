"""Sign in, sign out, lockout and password change, as a user meets them in the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import time_machine

from pars_app.extensions import db
from pars_app.services.accounts import GENERIC_LOGIN_ERROR
from tests.factories import PASSWORD, csrf_token, login, make_provider, make_user
from tests.web.html import by_class, by_id, parse, text

EMAIL = "coordinator@example.org"
NEW_PASSWORD = "a much longer new secret"


@pytest.fixture
def user(app):
    with app.app_context():
        make_user(EMAIL, make_provider())
        db.session.commit()
    return EMAIL


def _login_error(resp) -> str:
    error = by_id(parse(resp), "login-error")
    assert error is not None, "the sign-in page shows no error message"
    return text(error)


def _post_login(client, email: str, password: str, next_: str | None = None):
    url = "/login" if next_ is None else "/login?next=" + quote(next_, safe="")
    return client.post(
        url, data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )


def _is_signed_in(client) -> bool:
    resp = client.get("/")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == "/login"
    return False


# --- Sign in -----------------------------------------------------------------------------------


def test_sign_in_goes_to_the_dashboard_and_shows_who_is_signed_in(app, client, user):
    resp = _post_login(client, EMAIL, PASSWORD)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert EMAIL in text(by_class(parse(page), "user-menu__who")[0])


def test_sign_in_follows_a_same_site_next_path(app, client, user):
    resp = _post_login(client, EMAIL, PASSWORD, next_="/activities?year=2025&view=ended_open")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/activities?year=2025&view=ended_open"


OFF_SITE = [
    "//evil.example",
    "//evil.example/activities",
    "https://evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "evil.example",
]


def test_sign_in_never_redirects_off_site(app, user):
    for next_ in OFF_SITE:
        client = app.test_client()
        resp = _post_login(client, EMAIL, PASSWORD, next_=next_)
        assert resp.status_code == 302, next_
        location = resp.headers["Location"]
        # What a browser would make of it: backslashes count as slashes, tabs are dropped.
        normalised = location.replace("\\", "/").replace("\t", "")
        parts = urlsplit(normalised)
        assert parts.scheme in ("", "http", "https"), (next_, location)
        assert parts.netloc in ("", "localhost"), (next_, location)
        assert not normalised.startswith("//"), (next_, location)
        if next_ in ("//evil.example", "https://evil.example"):
            assert location == "/"


def test_wrong_password_shows_the_error_with_401(app, client, user):
    resp = _post_login(client, EMAIL, PASSWORD + "x")
    assert resp.status_code == 401
    assert _login_error(resp) == GENERIC_LOGIN_ERROR
    # The email typed stays in the form, the password does not.
    doc = parse(resp)
    assert by_id(doc, "email").get("value") == EMAIL
    assert not by_id(doc, "password").get("value")
    assert not _is_signed_in(client)


def test_unknown_email_and_wrong_password_read_the_same(app, client, user):
    unknown = _post_login(client, "nobody@example.org", PASSWORD)
    wrong = _post_login(client, EMAIL, "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert _login_error(unknown) == _login_error(wrong)
    assert "do not match" in _login_error(unknown)


def test_email_is_matched_case_insensitively(app, client, user):
    resp = _post_login(client, "Coordinator@EXAMPLE.org", PASSWORD)
    assert resp.status_code == 302
    assert _is_signed_in(client)


def test_empty_form_asks_for_both_fields(app, client, user):
    resp = client.post(
        "/login", data={"email": "", "password": "", "csrf_token": csrf_token(client)}
    )
    assert resp.status_code == 401
    assert _login_error(resp) == "Enter your email address and password."


def test_signed_in_user_visiting_login_goes_to_the_dashboard(app, client, user):
    login(client, EMAIL)
    resp = client.get("/login")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


# --- Lockout -----------------------------------------------------------------------------------


def test_lockout_after_threshold_failures_then_unlocks_after_the_lock_time(app, user):
    threshold = app.config["PARS_LOCKOUT_THRESHOLD"]
    minutes = app.config["PARS_LOCKOUT_MINUTES"]
    assert threshold == 5
    start = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)
    client = app.test_client()
    with time_machine.travel(start, tick=False):
        for _ in range(threshold):
            resp = _post_login(client, EMAIL, "wrong password")
            assert resp.status_code == 401
            assert _login_error(resp) == GENERIC_LOGIN_ERROR
        # Locked: the right password is refused, with the very same words.
        resp = _post_login(client, EMAIL, PASSWORD)
        assert resp.status_code == 401
        assert _login_error(resp) == GENERIC_LOGIN_ERROR
        assert not _is_signed_in(client)
    with time_machine.travel(start + timedelta(minutes=minutes - 1), tick=False):
        resp = _post_login(client, EMAIL, PASSWORD)
        assert resp.status_code == 401, "still locked one minute before the lock ends"
    with time_machine.travel(start + timedelta(minutes=minutes, seconds=1), tick=False):
        resp = _post_login(client, EMAIL, PASSWORD)
        assert resp.status_code == 302
        assert _is_signed_in(client)


def test_failures_below_the_threshold_do_not_lock_and_a_success_resets_them(app, client, user):
    threshold = app.config["PARS_LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):
        assert _post_login(client, EMAIL, "wrong password").status_code == 401
    assert _post_login(client, EMAIL, PASSWORD).status_code == 302
    other = app.test_client()
    # The count started again after the success: threshold - 1 more failures still do not lock.
    for _ in range(threshold - 1):
        assert _post_login(other, EMAIL, "wrong password").status_code == 401
    assert _post_login(other, EMAIL, PASSWORD).status_code == 302


def test_failures_on_an_unknown_email_lock_nobody(app, client, user):
    for _ in range(app.config["PARS_LOCKOUT_THRESHOLD"] + 1):
        assert _post_login(client, "nobody@example.org", "x").status_code == 401
    assert _post_login(client, EMAIL, PASSWORD).status_code == 302


# --- Sign out ----------------------------------------------------------------------------------


def test_logout_with_csrf_signs_out(app, client, user):
    login(client, EMAIL)
    token = csrf_token(client, "/")
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == "/login"
    page = client.get("/login")
    assert "You are signed out." in page.get_data(as_text=True)
    assert not _is_signed_in(client)


def test_logout_without_csrf_is_refused_and_keeps_the_session(app, client, user):
    login(client, EMAIL)
    resp = client.post("/logout")
    assert resp.status_code == 400
    assert _is_signed_in(client)


def test_logout_by_get_is_not_allowed(app, client, user):
    login(client, EMAIL)
    resp = client.get("/logout")
    assert resp.status_code == 405
    assert _is_signed_in(client)


def test_the_page_offers_logout_as_a_form_with_a_token(app, client, user):
    login(client, EMAIL)
    doc = parse(client.get("/"))
    forms = doc.xpath('//form[@action="/logout"]')
    assert forms and forms[0].get("method").lower() == "post"
    assert forms[0].xpath('.//input[@name="csrf_token"]')[0].get("value")


# --- Password change ---------------------------------------------------------------------------


def _change_password(client, current: str, new: str, confirm: str | None = None):
    token = csrf_token(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "current": current,
            "new": new,
            "confirm": new if confirm is None else confirm,
            "csrf_token": token,
        },
    )


def _pw_error(resp) -> str:
    found = by_id(parse(resp), "pw-error")
    assert found is not None, "no error shown on the password page"
    return text(found)


def test_password_page_needs_sign_in(app, client, user):
    resp = client.get("/account/password")
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == "/login"


def test_wrong_current_password_is_refused_with_422(app, client, user):
    login(client, EMAIL)
    resp = _change_password(client, "not my password", NEW_PASSWORD)
    assert resp.status_code == 422
    assert _pw_error(resp) == "Your current password is not right."
    # Nothing changed: the old password still signs in.
    assert _post_login(app.test_client(), EMAIL, PASSWORD).status_code == 302


def test_short_new_password_is_refused(app, client, user):
    login(client, EMAIL)
    resp = _change_password(client, PASSWORD, "short")
    assert resp.status_code == 422
    assert _pw_error(resp) == "Use at least 10 characters."


def test_mismatched_new_passwords_are_refused(app, client, user):
    login(client, EMAIL)
    resp = _change_password(client, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert resp.status_code == 422
    assert _pw_error(resp) == "The two new passwords are not the same."


def test_password_change_keeps_this_session_and_signs_out_the_others(app, user):
    mine, other = app.test_client(), app.test_client()
    assert login(mine, EMAIL).status_code == 302
    assert login(other, EMAIL).status_code == 302
    assert _is_signed_in(other)

    resp = _change_password(mine, PASSWORD, NEW_PASSWORD)
    assert resp.status_code == 302
    page = mine.get("/")
    assert page.status_code == 200, "this session must stay signed in"
    assert "Password changed. Other sessions have been signed out." in page.get_data(as_text=True)
    assert mine.get("/activities").status_code == 200

    assert not _is_signed_in(other), "a session opened before the change must be signed out"
    # The old password no longer works, the new one does.
    fresh = app.test_client()
    assert _post_login(fresh, EMAIL, PASSWORD).status_code == 401
    assert _post_login(fresh, EMAIL, NEW_PASSWORD).status_code == 302


# --- htmx without a session --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/activities?year=2025", "/activities/1"])
def test_htmx_request_without_session_gets_401_and_hx_redirect(app, client, path):
    resp = client.get(path, headers={"HX-Request": "true"})
    assert resp.status_code == 401
    target = urlsplit(resp.headers["HX-Redirect"])
    assert target.path == "/login"
    body = resp.get_data(as_text=True)
    assert "Sign in" not in body and "<form" not in body, "login page sent into a fragment"


def test_plain_request_without_session_redirects_to_login_with_next(app, client):
    resp = client.get("/activities?year=2025")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/activities?year=2025"]

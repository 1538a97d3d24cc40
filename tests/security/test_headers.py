"""Defensive headers, CSRF, cookie flags, body size limit, health check and HTML escaping."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pytest

from pars_app import create_app
from pars_app.extensions import db
from tests.factories import CSRF_META, csrf_token, login, make_activity, make_provider, make_user
from tests.web.html import by_id, parse, rows, text

XSS = "<script>alert(1)</script>"
CSRF_MESSAGE = "Your form expired or came from elsewhere. Reload the page and try again."


def _csp(resp) -> dict[str, list[str]]:
    raw = resp.headers.get("Content-Security-Policy")
    assert raw, f"no CSP on a {resp.status_code} response"
    out = {}
    for part in raw.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _assert_defensive_headers(resp) -> None:
    csp = _csp(resp)
    assert csp.get("script-src") == ["'self'"], csp.get("script-src")
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "default-src" in csp
    assert csp.get("frame-ancestors") == ["'none'"]
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    assert resp.headers.get("X-Frame-Options") == "DENY"
    assert resp.headers.get("Referrer-Policy") in (
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "no-referrer",
    )


@pytest.fixture
def signed_in(app, client):
    with app.app_context():
        p = make_provider("HDR")
        make_user("hdr@example.org", p)
        activity = make_activity(p, title="Header course")
        db.session.commit()
        activity_id = activity.id
    login(client, "hdr@example.org")
    return activity_id


# --- Headers on every kind of response ---------------------------------------------------------


def test_headers_on_200_302_404_400_405_and_401(app, client):
    ok = client.get("/login")
    assert ok.status_code == 200
    redirect = client.get("/")
    assert redirect.status_code == 302
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    bad = client.post("/login", data={"email": "a@example.org", "password": "x"})
    assert bad.status_code == 400
    not_allowed = client.get("/logout")
    assert not_allowed.status_code == 405
    htmx_anon = client.get("/activities", headers={"HX-Request": "true"})
    assert htmx_anon.status_code == 401
    health = client.get("/health")
    assert health.status_code == 200
    for resp in (ok, redirect, missing, bad, not_allowed, htmx_anon, health):
        _assert_defensive_headers(resp)


def test_headers_on_signed_in_pages_and_fragments(app, client, signed_in):
    for url, headers in (
        ("/", {}),
        ("/activities", {}),
        ("/activities", {"HX-Request": "true"}),
        (f"/activities/{signed_in}", {}),
        ("/checklist/2025/print", {}),
        ("/activities/999999", {}),
    ):
        resp = client.get(url, headers=headers)
        assert resp.status_code in (200, 404), url
        _assert_defensive_headers(resp)
        # Compliance records must not stay in a shared browser's cache.
        assert "no-store" in resp.headers.get("Cache-Control", ""), url


def test_pages_carry_no_inline_script_or_event_handler(app, client, signed_in):
    """CSP script-src 'self' would block them: every behaviour must live in app.js."""
    pages = [app.test_client().get("/login")]  # signed out
    pages += [client.get(u) for u in ("/", "/activities", f"/activities/{signed_in}")]
    pages.append(client.get("/checklist/2025/print"))
    for resp in pages:
        assert resp.status_code == 200
        doc = parse(resp)
        assert not doc.xpath("//script[not(@src)]"), resp.request.path
        handlers = doc.xpath("//@*[starts-with(name(), 'on') or starts-with(name(), 'hx-on')]")
        assert not handlers, (resp.request.path, [h.attrname for h in handlers])
        for src in doc.xpath("//script/@src"):
            assert src.startswith("/static/"), src


# --- CSRF --------------------------------------------------------------------------------------


def test_login_post_without_csrf_is_400_with_a_readable_message(app, client):
    with app.app_context():
        make_user("csrf@example.org", make_provider())
        db.session.commit()
    from tests.factories import PASSWORD

    resp = client.post("/login", data={"email": "csrf@example.org", "password": PASSWORD})
    assert resp.status_code == 400
    assert CSRF_MESSAGE in text(parse(resp).xpath("//main")[0])
    # And no session was opened.
    assert client.get("/").status_code == 302


def test_login_post_with_a_forged_token_is_400(app, client):
    resp = client.post(
        "/login", data={"email": "x@example.org", "password": "x", "csrf_token": "forged"}
    )
    assert resp.status_code == 400
    assert CSRF_MESSAGE in resp.get_data(as_text=True)


def test_csrf_failure_in_htmx_gets_a_flash_fragment(app, client, signed_in):
    resp = client.post("/logout", headers={"HX-Request": "true"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "<html" not in body.lower()
    fragment = parse(body)
    assert fragment.get("id") == "flash"
    assert CSRF_MESSAGE in text(fragment)


def test_csrf_token_in_the_header_is_accepted(app, client, signed_in):
    token = csrf_token(client, "/")
    resp = client.post("/logout", headers={"X-CSRFToken": token})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302  # signed out


# --- Cookies in production ---------------------------------------------------------------------


def _prod_app(monkeypatch):
    monkeypatch.setenv("PARS_ENV", "prod")
    app = create_app(
        {
            "SECRET_KEY": "a-production-like-secret",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
    return app


def _set_cookies(resp) -> list[str]:
    return resp.headers.getlist("Set-Cookie")


def test_prod_config_sets_secure_httponly_samesite_cookies(monkeypatch):
    app = _prod_app(monkeypatch)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        make_user("prod@example.org", make_provider())
        db.session.commit()
    client = app.test_client()
    site = "https://pars.example.org"
    first = client.get("/login", base_url=site)
    assert first.headers.get("Strict-Transport-Security", "").startswith("max-age=")
    cookies = _set_cookies(first)
    assert cookies, "the sign-in page sets no session cookie (CSRF needs one)"
    token = CSRF_META.search(first.get_data(as_text=True)).group(1)
    from tests.factories import PASSWORD

    signed = client.post(
        "/login",
        data={"email": "prod@example.org", "password": PASSWORD, "csrf_token": token},
        base_url=site,
        headers={"Referer": f"{site}/login"},  # Flask-WTF checks it over HTTPS
    )
    assert signed.status_code == 302
    cookies += _set_cookies(signed)
    for cookie in cookies:
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert "secure" in attrs, cookie
        assert "httponly" in attrs, cookie
        assert "samesite=lax" in attrs, cookie
    with app.app_context():
        db.engine.dispose()


def test_test_config_cookies_are_httponly_but_not_secure(app, client):
    cookie = _set_cookies(client.get("/login"))[0].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in [a.strip() for a in cookie.split(";")]


def test_prod_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.setenv("PARS_ENV", "prod")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


# --- Request size ------------------------------------------------------------------------------


def test_a_30_mb_post_to_login_is_refused_with_413(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024
    body = b"email=a%40example.org&password=" + b"x" * (30 * 1024 * 1024)
    resp = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 413
    assert "That upload is too large" in resp.get_data(as_text=True)
    _assert_defensive_headers(resp)


def test_a_30_mb_multipart_upload_is_refused_with_413(app, client, signed_in):
    from io import BytesIO

    token = csrf_token(client, "/")
    resp = client.post(
        "/login",
        data={"csrf_token": token, "file": (BytesIO(b"x" * (30 * 1024 * 1024)), "big.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413


# --- Health ------------------------------------------------------------------------------------


def test_health_returns_json_ok(app, client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.get_json()["status"] == "ok"


def test_health_errors_are_json_too(app, client):
    resp = client.post("/health")
    assert resp.status_code == 405
    assert resp.mimetype == "application/json"


# --- Escaping ----------------------------------------------------------------------------------


def _assert_escaped(resp, needle: str = XSS) -> None:
    body = resp.get_data(as_text=True)
    assert needle not in body, "raw markup from data reached the page"
    doc = parse(resp)
    assert not doc.xpath("//script[not(@src)]")
    assert not doc.xpath("//img[@onerror]")


def test_activity_title_is_escaped_in_list_and_detail(app, client):
    with app.app_context():
        p = make_provider("XSS")
        make_user("xss@example.org", p)
        a = make_activity(
            p,
            title=XSS,
            provider_activity_id="<b>id</b>",
            description='"><img src=x onerror=alert(1)>',
            start_date=date(2025, 4, 1),
            end_date=date(2025, 4, 30),
        )
        db.session.commit()
        activity_id = a.id
    login(client, "xss@example.org")

    listing = client.get("/activities")
    _assert_escaped(listing)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.get_data(as_text=True)
    cells = rows(parse(listing))[0].xpath("./td")
    assert text(cells[1]) == XSS  # shown to the user as the literal text
    assert text(cells[0]) == "<b>id</b>"

    fragment = client.get("/activities", headers={"HX-Request": "true"})
    _assert_escaped(fragment)

    detail = client.get(f"/activities/{activity_id}")
    assert detail.status_code == 200
    _assert_escaped(detail)
    _assert_escaped(detail, '"><img src=x onerror=alert(1)>')
    doc = parse(detail)
    assert text(doc.xpath("//h1")[0]) == XSS
    assert XSS in text(doc.xpath("//title")[0])


def test_provider_name_is_escaped_in_the_header_and_print(app, client):
    with app.app_context():
        p = make_provider("NAME")
        p.name = '<img src=x onerror="alert(1)">Clinic'
        make_user("name@example.org", p)
        db.session.commit()
    login(client, "name@example.org")
    for url in ("/", "/activities", "/checklist/2025/print"):
        resp = client.get(url)
        assert resp.status_code == 200
        _assert_escaped(resp, '<img src=x onerror="alert(1)">')


def test_reflected_query_values_are_escaped(app, client, signed_in):
    query = urlencode({"q": XSS, "format": XSS, "view": '"><svg onload=alert(1)>'})
    listing = client.get("/activities?" + query)
    assert listing.status_code == 200
    _assert_escaped(listing)
    assert not parse(listing).xpath("//svg")
    assert by_id(parse(listing), "q").get("value") == XSS
    dashboard = client.get("/?" + urlencode({"year": "<script>x</script>"}))
    assert dashboard.status_code == 200
    assert "<script>x</s" not in dashboard.get_data(as_text=True)
    assert not parse(dashboard).xpath("//script[not(@src)]")

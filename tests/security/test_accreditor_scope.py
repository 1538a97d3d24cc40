"""Accreditor staff read the providers they accredit and change nothing of theirs (except an
unlock); a state society never sees another accreditor's providers; ACCME sees them all.

The POST walk covers every route in `app.url_map`, so a route added later is checked too.
"""

from __future__ import annotations

from io import BytesIO

import openpyxl
import pytest
from werkzeug.routing import Rule

from pars_app.extensions import db
from pars_app.models import AuditEvent, YearLock
from pars_app.web.accreditor import VIEWING_KEY
from tests.factories import csrf_token, login, make_accreditor, make_provider, make_user, utc
from tests.security.test_tenancy import ID_ARGS, PLAIN_ARGS, _rows_for
from tests.web.html import by_id, parse, text

# Where accreditor staff may legitimately post: their own console, and their own account.
ALLOWED_PREFIXES = ("accreditor.", "auth.", "static", "health.")
FORM = {"name": "Hijacked", "title": "Hijacked", "version": "1", "confirm": "yes", "year": "2025"}


@pytest.fixture
def world(app) -> dict:
    with app.app_context():
        state = make_accreditor("STATE")
        other = make_accreditor("OTHER")
        national = make_accreditor("NAT", national=True)
        mine = make_provider("MINE", state)
        mine.name = "Mine Medical"
        theirs = make_provider("THEIRS", other)
        theirs.name = "Theirs Hospital"
        make_user("state@example.org", accreditor=state)
        make_user("accme@example.org", accreditor=national)
        ids = {"mine": _rows_for(mine), "theirs": _rows_for(theirs)}
        for p in (mine, theirs):
            db.session.add(YearLock(provider_id=p.id, year=2025, locked_at=utc(2026, 2, 1)))
            db.session.add(AuditEvent(action=f"activity.created.{p.code}", provider_id=p.id))
        db.session.commit()
        return {"ids": ids, "mine": mine.id, "theirs": theirs.id}


def _dump(app) -> dict:
    """Every row of every table: the "no change" a walk must leave behind."""
    with app.app_context():
        return {
            t.name: sorted((tuple(r) for r in db.session.execute(t.select())), key=repr)
            for t in db.metadata.sorted_tables
        }


def _url(app, rule: Rule, ids: dict) -> str:
    values = {}
    for name in rule.arguments:
        if name in ID_ARGS:
            values[name] = ids[ID_ARGS[name]]
        else:
            assert name in PLAIN_ARGS, f"{rule.rule}: add {name!r} to test_tenancy's ID_ARGS"
            values[name] = PLAIN_ARGS[name]
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _provider_post_rules(app) -> list[Rule]:
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if "POST" in r.methods and not r.endpoint.startswith(ALLOWED_PREFIXES)
        ),
        key=lambda r: r.rule,
    )


@pytest.mark.parametrize("viewing", [False, True], ids=["console", "reading-the-provider"])
def test_accreditor_staff_cannot_change_provider_data_by_any_route(app, client, world, viewing):
    login(client, "state@example.org")
    if viewing:
        assert client.get(f"/accreditor/providers/{world['mine']}").status_code == 302
    # Not from /accreditor/: opening the console stops reading the provider.
    token = csrf_token(client, "/account/password")
    assert ("Mine Medical" in client.get("/account/password").get_data(as_text=True)) is viewing
    before = _dump(app)
    checked = []
    for rule in _provider_post_rules(app):
        url = _url(app, rule, world["ids"]["mine"])  # a provider they DO oversee
        for headers in ({}, {"HX-Request": "true"}):
            resp = client.post(
                url,
                data={**FORM, "csrf_token": token},
                headers={**headers, "X-CSRFToken": token},
            )
            assert resp.status_code in (403, 404), (
                f"POST {url} ({rule.endpoint}) as accreditor staff gave {resp.status_code}"
            )
        checked.append(rule.endpoint)
    assert {"contacts.confirm", "agreement.accept", "activity_form.new"} <= set(checked)
    assert _dump(app) == before, "a POST of accreditor staff changed provider data"


def _provider_routes(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/accreditor/providers/<")]


def test_state_society_gets_404_for_another_accreditors_provider_on_every_route(app, client, world):
    login(client, "state@example.org")
    token = csrf_token(client, "/accreditor/")
    rules = _provider_routes(app)
    assert {r.endpoint for r in rules} >= {"accreditor.provider", "accreditor.unlock"}
    before = _dump(app)
    for rule in rules:
        theirs = _url(app, rule, world["ids"]["theirs"])
        mine = _url(app, rule, world["ids"]["mine"])
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            data = {"csrf_token": token, "year": "2025", "reason": "Because"}
            resp = client.open(theirs, method=method, data=data if method == "POST" else None)
            assert resp.status_code == 404, f"{method} {theirs} gave {resp.status_code}"
            assert "Theirs Hospital" not in resp.get_data(as_text=True)
        if "GET" in rule.methods:
            assert client.get(mine).status_code == 302  # control: its own provider opens
    assert _dump(app) == before


def test_state_society_console_pages_show_only_its_providers(app, client, world):
    login(client, "state@example.org")
    for url in ("/accreditor/?year=2025", "/accreditor/agreements?year=2025", "/accreditor/audit"):
        body = client.get(url).get_data(as_text=True)
        assert "MINE" in body and "THEIRS" not in body and "Theirs Hospital" not in body, url
    for url in ("/accreditor/providers.xlsx?year=2025", "/accreditor/audit.xlsx"):
        ws = openpyxl.load_workbook(BytesIO(client.get(url).data)).active
        cells = {str(c.value) for row in ws.iter_rows() for c in row}
        assert "MINE" in cells and "THEIRS" not in cells, url


def test_a_stale_or_forged_viewing_key_is_ignored(app, client, world):
    login(client, "state@example.org")
    with client.session_transaction() as sess:
        sess[VIEWING_KEY] = world["theirs"]
    assert client.get("/activities").status_code == 404
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"] == "/accreditor/"
    with client.session_transaction() as sess:
        assert VIEWING_KEY not in sess  # dropped, not kept around


def test_accme_staff_see_and_open_every_provider(app, client, world):
    login(client, "accme@example.org")
    overview = parse(client.get("/accreditor/?year=2025"))
    names = {text(td) for td in overview.xpath("//table[@id='providers']/tbody/tr/td[1]")}
    assert names == {"Mine Medical MINE", "Theirs Hospital THEIRS"}
    for key, name in (("mine", "Mine Medical"), ("theirs", "Theirs Hospital")):
        assert client.get(f"/accreditor/providers/{world[key]}?year=2025").status_code == 302
        dash = parse(client.get("/?year=2025"))
        assert name in text(by_id(dash, "viewing-banner"))
        assert by_id(dash, "unlock") is not None  # ACCME may unlock any provider's year
    log = client.get("/accreditor/audit").get_data(as_text=True)
    assert "activity.created.MINE" in log and "activity.created.THEIRS" in log


def test_every_provider_page_read_by_the_accreditor_offers_no_change(app, client, world):
    """Walk every GET page with the provider's own ids: no form, button or htmx call that
    changes provider data, so nothing invites a change the server would refuse."""
    login(client, "state@example.org")
    assert client.get(f"/accreditor/providers/{world['mine']}").status_code == 302
    seen = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint.startswith(ALLOWED_PREFIXES):
            continue
        url = _url(app, rule, world["ids"]["mine"])
        resp = client.get(url)
        if resp.status_code != 200 or "html" not in resp.content_type:
            continue
        doc = parse(resp)
        posts = [f.get("action") for f in doc.xpath("//form[@method='post' or @method='POST']")]
        # Sign-out, and the accreditor's own act (unlocking a submitted year), are fine.
        changes = [a for a in posts if a != "/logout" and not a.startswith("/accreditor/")]
        assert changes == [], f"{url} ({rule.endpoint}) offers {changes}"
        writes = doc.xpath("//*[@hx-post or @hx-put or @hx-patch or @hx-delete]")
        assert writes == [], f"{url} ({rule.endpoint}) has htmx writes"
        seen.append(rule.endpoint)
    assert {"dashboard.index", "activities.index", "activities.detail", "contacts.index"} <= set(
        seen
    )

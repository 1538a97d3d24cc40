"""The accreditor console as staff use it: overview, filters, export, read-only provider view,
unlocks, deadlines, agreement versions and the audit logs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from io import BytesIO

import openpyxl
import pytest
import time_machine
from sqlalchemy import select

from pars_app.extensions import db
from pars_app.models import AuditEvent, Contact, Provider, ReportingDeadline, YearLock
from tests.factories import (
    accept_agreement,
    csrf_token,
    login,
    make_accreditor,
    make_activity,
    make_agreement,
    make_contact,
    make_contact_review,
    make_enduring,
    make_provider,
    make_summary,
    make_user,
    utc,
)
from tests.web.html import by_id, parse, text

NOW = utc(2026, 4, 10, 15)  # ACCME's 2025 deadline (March 31, 2026) has passed
HX = {"HX-Request": "true"}


@dataclass
class World:
    late: int  # LATE: ended activities open, a missing count; nothing else done
    done: int  # DONE: every 2025 step done, year locked
    other: int  # OTHER: under another accreditor the staff do not oversee
    late_activity: int
    other_activity: int


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        acc = make_accreditor("ACC")
        acc.name = "Example Medical Society"
        elsewhere = make_accreditor("ELSE")
        late = make_provider("LATE", acc)
        late.name = "Lateral Health"
        done = make_provider("DONE", acc)
        done.name = "Donegal Clinic"
        other = make_provider("OTHER", elsewhere)
        other.name = "Otherwise Hospital"
        make_user("staff@acc.org", accreditor=acc)
        make_user("admin@late.org", late, role="admin")
        make_user("staff@late.org", late, role="staff")
        done_admin = make_user("admin@done.org", done, role="admin")
        a = make_activity(late, title="Late course", end_date=date(2025, 6, 1))
        make_activity(late, end_date=date(2025, 7, 1))
        make_enduring(late, date(2025, 1, 1), date(2026, 12, 31))
        make_contact(late)
        text_2025 = make_agreement(acc, 2025)
        make_agreement(elsewhere, 2025)
        accept_agreement(done, text_2025, done_admin, utc(2026, 1, 5, 15))
        make_activity(done, end_date=date(2025, 5, 1), closed_at=utc(2025, 6, 1))
        make_summary(done, 2025, submitted_at=utc(2026, 2, 1, 15))
        db.session.add(YearLock(provider_id=done.id, year=2025, locked_at=utc(2026, 2, 1, 15)))
        make_contact_review(done, utc(2026, 1, 6, 15), done_admin)
        o = make_activity(other, title="Other course")
        db.session.commit()
        return World(late.id, done.id, other.id, a.id, o.id)


def _rows(doc) -> dict[str, list[str]]:
    table = by_id(doc, "providers")
    assert table is not None, "no providers table"
    out = {}
    for tr in table.xpath(".//tbody/tr"):
        cells = [text(td) for td in tr.xpath("./td")]
        out[cells[0].rsplit(" ", 1)[1]] = cells
    return out


# --- Landing and overview ----------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_staff_land_on_the_overview_of_their_providers(app, client, world):
    login(client, "staff@acc.org")
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/accreditor/"
    doc = parse(client.get("/accreditor/"))
    assert text(doc.xpath("//h1")[0]) == "Providers — reporting year 2025"
    nav = [text(a) for a in doc.xpath("//nav[@aria-label='Main']//ul//a")]
    assert nav == ["Providers", "Deadlines", "Agreements", "Audit log"]
    rows = _rows(doc)
    assert set(rows) == {"LATE", "DONE"}  # OTHER's accreditor is someone else
    late, done = rows["LATE"], rows["DONE"]
    assert late[0] == "Lateral Health LATE"
    # Agreement, activities, enduring, summary, contacts; then steps done, deadline, last change.
    assert late[1:6] == ["To do", "To do 2 not closed", "To do 1 missing", "To do", "To do"]
    assert late[6] == "0 / 5"
    assert late[7] == "03/31/2026 Late 10 days past"
    assert done[1:7] == ["✓Done", "✓Done", "✓Done", "✓Done", "✓Done", "5 / 5"]
    assert done[7] == "03/31/2026 Complete Locked"
    assert text(by_id(doc, "result-count")) == "1\u20132 of 2 providers"


@time_machine.travel(NOW, tick=False)
def test_filters_come_back_as_a_fragment_with_the_url_to_push(app, client, world):
    login(client, "staff@acc.org")
    resp = client.get("/accreditor/?year=2025&state=late", headers=HX)
    assert resp.status_code == 200
    assert "HX-Request" in resp.headers["Vary"]
    assert resp.headers["HX-Push-Url"] == "/accreditor/?year=2025&state=late"
    doc = parse(resp)
    assert doc.get("id") == "providers-table"
    assert set(_rows(doc)) == {"LATE"}
    assert set(_rows(parse(client.get("/accreditor/?year=2025&state=done")))) == {"DONE"}
    assert set(_rows(parse(client.get("/accreditor/?year=2025&step=enduring")))) == {"LATE"}
    assert set(_rows(parse(client.get("/accreditor/?year=2025&q=donegal")))) == {"DONE"}
    sorted_rows = _rows(parse(client.get("/accreditor/?year=2025&sort=done&dir=desc")))
    assert list(sorted_rows) == ["DONE", "LATE"]
    odd = parse(client.get("/accreditor/?year=1999&state=bogus"))
    assert "Ignored state" in text(odd) and set(_rows(odd)) == {"LATE", "DONE"}


@time_machine.travel(NOW, tick=False)
def test_export_is_the_filtered_table_with_safe_cells(app, client, world):
    with app.app_context():
        db.session.get(Provider, world.late).name = "=HYPERLINK(1)"
        db.session.commit()
    login(client, "staff@acc.org")
    doc = parse(client.get("/accreditor/?year=2025&state=late"))
    href = by_id(doc, "export-providers").get("href")
    assert href == "/accreditor/providers.xlsx?year=2025&state=late"
    resp = client.get(href)
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="providers-2025.xlsx"'
    ws = openpyxl.load_workbook(BytesIO(resp.data)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][:5] == ["Provider code", "Provider", "Accreditor", "Year", "Steps done"]
    assert len(rows) == 2
    assert rows[1][:5] == ["LATE", "'=HYPERLINK(1)", "ACC", 2025, 0]
    assert rows[1][7:9] == [2, 1]  # ended and not closed; enduring missing counts
    assert rows[1][13] == "Yes"


# --- Read-only provider view -------------------------------------------------------------------


def _post_forms(doc) -> list[str]:
    return [f.get("action") for f in doc.xpath("//form[@method='post']")]


@time_machine.travel(NOW, tick=False)
def test_provider_view_is_the_providers_own_pages_read_only(app, client, world):
    login(client, "staff@acc.org")
    opened = client.get(f"/accreditor/providers/{world.late}?year=2025")
    assert opened.status_code == 302 and opened.headers["Location"] == "/?year=2025"
    dash = parse(client.get("/?year=2025"))
    banner = text(by_id(dash, "viewing-banner"))
    assert "Viewing Lateral Health (LATE) as Example Medical Society — read only" in banner
    assert by_id(dash, "checklist") is not None
    assert _post_forms(dash) == ["/logout"]  # nothing to change; not locked, so no unlock
    assert by_id(dash, "unlock") is None
    listing = client.get("/activities?year=2025")
    assert "Late course" in listing.get_data(as_text=True)
    assert by_id(parse(listing), "new-activity") is None
    detail = parse(client.get(f"/activities/{world.late_activity}"))
    assert by_id(detail, "edit-activity") is None and _post_forms(detail) == ["/logout"]
    contacts = parse(client.get("/contacts"))
    assert _post_forms(contacts) == ["/logout"]
    token = csrf_token(client, "/contacts")
    refused = client.post("/contacts/confirm", data={"csrf_token": token})
    assert refused.status_code == 403
    # Another provider of the same accreditor is not reachable under this provider's banner.
    with app.app_context():
        done_activity = make_activity(db.session.get(Provider, world.done))
        db.session.commit()
        done_activity_id = done_activity.id
    assert client.get(f"/activities/{done_activity_id}").status_code == 404
    back = by_id(dash, "back-to-providers").get("href")
    assert back == "/accreditor/?year=2025"
    assert client.get(back).status_code == 200
    assert client.get("/activities").status_code == 404  # back to the console: no provider


@time_machine.travel(NOW, tick=False)
def test_other_accreditors_provider_is_404(app, client, world):
    login(client, "staff@acc.org")
    assert client.get(f"/accreditor/providers/{world.other}").status_code == 404
    assert client.get("/").headers["Location"] == "/accreditor/"


# --- Unlock ------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_unlock_with_a_reason_and_the_provider_sees_who_and_why(app, client, world):
    login(client, "staff@acc.org")
    client.get(f"/accreditor/providers/{world.done}?year=2025")
    dash = parse(client.get("/?year=2025"))
    assert "2025 is locked" in text(by_id(dash, "year-lock"))
    form = by_id(dash, "unlock").xpath(".//form")[0]
    assert form.get("action") == f"/accreditor/providers/{world.done}/unlock"
    token = csrf_token(client, "/?year=2025")
    url = f"/accreditor/providers/{world.done}/unlock"
    blank = client.post(url, data={"csrf_token": token, "year": "2025", "reason": "  "})
    assert blank.status_code == 302
    page = parse(client.get("/?year=2025"))
    assert "Give the reason" in text(by_id(page, "flash"))
    assert by_id(page, "unlock") is not None  # still locked
    done = client.post(
        url,
        data={"csrf_token": token, "year": "2025", "reason": "Two activities need new counts"},
        follow_redirects=True,
    )
    page = parse(done)
    assert "Donegal Clinic's 2025 report is unlocked" in text(by_id(page, "flash"))
    assert by_id(page, "unlock") is None
    notice = text(by_id(page, "year-unlocked"))
    who = r"2025 was unlocked by User \d+ \(staff@acc\.org\)"
    assert re.match(who + r" on Fri Apr 10, 2026, 10:00 AM CDT\.", notice)
    assert "“Two activities need new counts”" in notice
    with app.app_context():
        lock = db.session.scalar(select(YearLock))
        assert lock.unlocked_at == NOW and lock.unlock_reason == "Two activities need new counts"
    # The provider's own admin sees the same notice on its dashboard.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/accreditor/")})
    login(client, "admin@done.org")
    own = parse(client.get("/?year=2025"))
    notice = text(by_id(own, "year-unlocked"))
    assert "was unlocked by" in notice and "Two activities need new counts" in notice
    assert by_id(own, "viewing-banner") is None and by_id(own, "unlock") is None


@time_machine.travel(NOW, tick=False)
def test_provider_users_cannot_unlock(app, client, world):
    with app.app_context():
        db.session.add(YearLock(provider_id=world.late, year=2025, locked_at=utc(2026, 2, 1)))
        db.session.commit()
    login(client, "admin@late.org")
    token = csrf_token(client, "/")
    resp = client.post(
        f"/accreditor/providers/{world.late}/unlock",
        data={"csrf_token": token, "year": "2025", "reason": "mine"},
    )
    assert resp.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(YearLock.unlocked_at)) is None


# --- Deadlines and agreements ------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_new_deadline_is_what_providers_see_next(app, client, world):
    login(client, "staff@acc.org")
    page = parse(client.get("/accreditor/deadlines?year=2026"))
    row = text(by_id(page, "deadline-2026"))
    assert "Wednesday, March 31, 2027, 11:59 p.m. Central" in row and "ACCME's rule" in row
    assert by_id(page, "due").get("value") == "2027-03-31"
    token = csrf_token(client, "/accreditor/deadlines")
    bad = client.post(
        "/accreditor/deadlines", data={"csrf_token": token, "year": "2026", "due": "2028-01-01"}
    )
    assert bad.status_code == 422
    doc = parse(bad)
    assert "must be a date in 2027" in text(by_id(doc, "due-error"))
    assert "Give the reason" in text(by_id(doc, "reason-error"))
    ok = client.post(
        "/accreditor/deadlines",
        data={"csrf_token": token, "year": "2026", "due": "2027-03-12", "reason": "Board"},
        follow_redirects=True,
    )
    assert "Friday, March 12, 2027" in text(by_id(parse(ok), "deadline-2026"))
    with app.app_context():
        assert db.session.scalar(select(ReportingDeadline.reason)) == "Board"
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin@late.org")
    dash = parse(client.get("/?year=2026"))
    assert "Fri Mar 12, 2027" in text(by_id(dash, "deadline"))


@time_machine.travel(NOW, tick=False)
def test_publishing_a_version_asks_every_provider_again(app, client, world):
    login(client, "staff@acc.org")
    page = parse(client.get("/accreditor/agreements?year=2025"))
    assert text(page.xpath("//h1")[0]) == "Provider Agreement — 2025 cycle"
    assert by_id(page, "publish-form").get("action") == "/accreditor/agreements?year=2025"
    assert by_id(page, "year").xpath("./option[@selected]")[0].get("value") == "2025"
    assert "1 of 2 providers accepted version 1" in text(by_id(page, "acceptance-count"))
    assert "Version 1 Current" in text(by_id(page, f"acceptance-{world.done}"))
    assert "Not accepted" in text(by_id(page, f"acceptance-{world.late}"))
    token = csrf_token(client, "/accreditor/agreements?year=2025")
    empty = client.post(
        "/accreditor/agreements?year=2025", data={"csrf_token": token, "title": "", "body": ""}
    )
    assert empty.status_code == 422
    resp = client.post(
        "/accreditor/agreements?year=2025",
        data={"csrf_token": token, "year": "2025", "title": "Agreement v2", "body": "New terms"},
        follow_redirects=True,
    )
    page = parse(resp)
    assert "Version 2 of the 2025 agreement is published" in text(by_id(page, "flash"))
    assert "Version 1 Older: asked again" in text(by_id(page, f"acceptance-{world.done}"))
    assert "0 of 2 providers accepted version 2" in text(by_id(page, "acceptance-count"))
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin@done.org")
    dash = parse(client.get("/?year=2025"))
    assert "step--todo" in by_id(dash, "step-agreement").get("class")


# --- Audit logs --------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_accreditor_audit_log_filters_and_exports(app, client, world):
    with app.app_context():
        for pid, action in ((world.late, "activity.created"), (world.other, "activity.closed")):
            db.session.add(AuditEvent(action=action, provider_id=pid, at=utc(2026, 4, 1)))
        db.session.commit()
    login(client, "staff@acc.org")
    doc = parse(client.get("/accreditor/audit"))
    shown = [text(tr) for tr in doc.xpath("//table[@id='audit-events']/tbody/tr")]
    assert len(shown) == 1 and "LATE" in shown[0] and "activity.created" in shown[0]
    frag = client.get("/accreditor/audit?action=account", headers=HX)
    assert parse(frag).get("id") == "audit-table"
    assert frag.headers["HX-Push-Url"] == "/accreditor/audit?action=account"
    assert "No event matches" in text(parse(frag))
    export = client.get("/accreditor/audit.xlsx?provider=late")
    ws = openpyxl.load_workbook(BytesIO(export.data)).active
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[0][0] == "When (Central)" and [v[2] for v in values[1:]] == ["LATE"]


@time_machine.travel(NOW, tick=False)
def test_provider_admin_reads_only_its_own_log(app, client, world):
    login(client, "admin@late.org")
    token = csrf_token(client, "/contacts")
    contact_id = None
    with app.app_context():
        contact_id = db.session.scalar(select(Contact.id).where(Contact.provider_id == world.late))
        db.session.add(AuditEvent(action="activity.closed", provider_id=world.other))
        db.session.commit()
    client.post(
        f"/contacts/{contact_id}",
        data={
            "csrf_token": token,
            "role": "primary",
            "name": "Pat Renamed",
            "email": "pat@example.org",
            "phone": "(312) 555-0100",
            "title": "",
            "version": "1",
        },
    )
    doc = parse(client.get("/audit"))
    nav = [text(a) for a in doc.xpath("//nav[@aria-label='Main']//ul//a")]
    assert "Audit log" in nav
    rows = [text(tr) for tr in doc.xpath("//table[@id='audit-events']/tbody/tr")]
    assert len(rows) == 1 and "admin@late.org" in rows[0] and "contact" in rows[0]
    assert by_id(doc, "a-provider") is None  # one provider: no provider filter
    assert client.get("/audit.xlsx").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_staff_and_accreditors_reading_a_provider_cannot_open_its_admin_log(app, client, world):
    login(client, "staff@late.org")
    assert client.get("/audit").status_code == 403
    nav = [text(a) for a in parse(client.get("/")).xpath("//nav[@aria-label='Main']//ul//a")]
    assert "Audit log" not in nav
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "staff@acc.org")
    client.get(f"/accreditor/providers/{world.late}")
    assert client.get("/audit").status_code == 403
    assert client.get("/accreditor/audit").status_code == 200

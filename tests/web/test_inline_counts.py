"""Inline learner counts in the list and on the detail page: open, save, refuse, conflict."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select, update

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, Provider, User, YearLock
from pars_app.services import learner_counts
from tests.factories import (
    csrf_token,
    login,
    make_activity,
    make_enduring,
    make_provider,
    make_user,
    utc,
)
from tests.web.html import by_id, parse, rows, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EMAIL = "counts@example.org"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    """One activity per case the counts cell distinguishes, for a signed-in-able admin."""
    with app.app_context():
        p = make_provider("CNT")
        make_user(EMAIL, p)
        make_user("reviewer@example.org", p, role="reviewer")
        made = {
            "open": make_activity(p, title="Open journal", provider_activity_id="C-1"),
            "missing": make_activity(
                p, title="Counts missing", provider_activity_id="C-2",
                physician_learners=None, other_learners=None,
            ),
            "rss": make_activity(
                p, title="Grand Rounds", provider_activity_id="C-3", format="RSS",
                delivery="in_person", venue="Hall", city="Chicago", state="IL", country="USA",
            ),
            "closed": make_activity(
                p, title="Closed one", provider_activity_id="C-4", closed_at=utc(2025, 5, 1)
            ),
            "locked": make_activity(
                p, title="Locked year", provider_activity_id="C-5",
                start_date=date(2024, 3, 1), end_date=date(2024, 3, 31),
            ),
            "em": make_enduring(
                p, date(2025, 1, 1), date(2026, 12, 31), title="Module", provider_activity_id="C-6"
            ),
        }  # fmt: skip
        db.session.add(YearLock(provider_id=p.id, year=2024, locked_at=utc(2025, 2, 1)))
        other = make_provider("ELSE")
        made["theirs"] = make_activity(other, title="Not ours")
        db.session.commit()
        return {key: a.id for key, a in made.items()}


def _signed_in(client, email: str = EMAIL):
    login(client, email)
    return csrf_token(client, "/activities")


def _post(client, token, activity_id, physicians, others, version=1, place="row", hx=True):
    data = dict(
        physicians=physicians, others=others, version=version, place=place, csrf_token=token
    )
    return client.post(f"/activities/{activity_id}/counts", data=data, headers=HX if hx else {})


def _stored(app, activity_id: int) -> Activity:
    with app.app_context():
        a = db.session.get(Activity, activity_id)
        db.session.expunge(a)
        return a


def _events(app, action: str = learner_counts.ACTION) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        for e in found:
            db.session.expunge(e)
        return list(found)


# --- Opening and saving --------------------------------------------------------------------


def test_edit_opens_both_inputs_in_one_fragment_focused_on_the_clicked_count(app, client, ids):
    _signed_in(client)
    resp = client.get(f"/activities/{ids['open']}/counts/edit?place=row&field=others", headers=HX)
    assert resp.status_code == 200
    cell = parse(resp)
    assert cell.tag == "td" and cell.get("id") == f"counts-{ids['open']}"
    assert cell.get("colspan") == "2"
    inputs = {i.get("name"): i for i in cell.xpath(".//input[not(@type='hidden')]")}
    assert inputs["physicians"].get("value") == "10" and inputs["others"].get("value") == "2"
    focus = {name: "data-autofocus" in i.attrib for name, i in inputs.items()}
    assert focus == {"physicians": False, "others": True}
    labels = [text(lbl) for lbl in cell.xpath(".//label")]
    assert labels == ["Physician learners of C-1", "Other learners of C-1"]
    hidden = {i.get("name"): i.get("value") for i in cell.xpath(".//input[@type='hidden']")}
    assert hidden["version"] == "1" and hidden["place"] == "row"
    assert "Enter saves, Esc cancels." in text(cell)
    # Cancel re-fetches the stored counts (what Esc follows).
    cancel = cell.xpath(".//a[@data-cancel]")[0]
    view = parse(client.get(cancel.get("hx-get"), headers=HX))
    assert view.get("id") == f"counts-{ids['open']}" and "data-editing" not in view.attrib
    assert [text(a) for a in view.xpath(".//a[@data-field]")] == [
        "Physician learners of C-1: 10 (edit)",
        "Other learners of C-1: 2 (edit)",
    ]


def test_enter_saves_both_counts_audited_with_before_and_after(app, client, ids):
    token = _signed_in(client)
    resp = _post(client, token, ids["open"], "1,040", "0")
    assert resp.status_code == 200
    doc = parse(f"<table><tr>{resp.get_data(as_text=True)}</tr></table>")
    cell = by_id(doc, f"counts-{ids['open']}")
    assert "data-saved" in cell.attrib
    physicians = cell.xpath(".//a[@data-field='physicians']")[0]
    assert text(physicians) == "Physician learners of C-1: 1,040 (edit)"
    announce = json.loads(resp.headers["HX-Trigger"])["announce"]
    assert announce == "Saved the learner counts of C-1: 1,040 physicians, 0 other learners."
    a = _stored(app, ids["open"])
    assert (a.physician_learners, a.other_learners, a.version) == (1040, 0, 2)
    assert a.updated_at == NOW
    (event,) = _events(app)
    assert (event.via, event.entity_type, event.entity_id) == ("inline", "Activity", a.id)
    assert json.loads(event.details)["changes"] == {
        "physician_learners": [10, 1040],
        "other_learners": [2, 0],
    }


def test_a_save_refreshes_the_status_and_sends_the_row_status_out_of_band(app, client, ids):
    token = _signed_in(client)
    before = _stored(app, ids["missing"])
    assert (before.completeness, before.problem_count) == ("active", 2)
    resp = _post(client, token, ids["missing"], "25", "3")
    assert resp.status_code == 200
    doc = parse(f"<table><tr>{resp.get_data(as_text=True)}</tr></table>")
    status = by_id(doc, f"status-{ids['missing']}")
    assert status.get("hx-swap-oob") == "true"
    assert text(status) == "Ready to Close"  # no longer "2 to fix"
    after = _stored(app, ids["missing"])
    assert (after.completeness, after.problem_count) == ("closable", 0)


def test_unchanged_counts_write_nothing(app, client, ids):
    token = _signed_in(client)
    assert _post(client, token, ids["open"], "10", "2").status_code == 200
    assert _stored(app, ids["open"]).version == 1
    assert _events(app) == []


def test_blank_means_not_given(app, client, ids):
    token = _signed_in(client)
    assert _post(client, token, ids["open"], "", "2").status_code == 200
    a = _stored(app, ids["open"])
    assert a.physician_learners is None and a.completeness == "active"


@pytest.mark.parametrize(
    ("physicians", "message"),
    [
        ("-3", "Enter 0 or more, not a negative number."),
        ("twelve", "Enter a whole number."),
        ("1000000001", "That number is too large."),
        ("1.5", "Enter a whole number."),
    ],
)
def test_bad_values_return_the_cell_with_a_message_and_422(app, client, ids, physicians, message):
    token = _signed_in(client)
    resp = _post(client, token, ids["open"], physicians, "4")
    assert resp.status_code == 422
    cell = parse(resp)
    assert cell.get("id") == f"counts-{ids['open']}" and "data-editing" in cell.attrib
    field = cell.xpath(".//input[@name='physicians']")[0]
    assert field.get("aria-invalid") == "true" and field.get("value") == physicians
    assert "data-autofocus" in field.attrib
    error = by_id(cell, f"counts-{ids['open']}-physicians-error")
    assert text(error) == message
    assert error.get("id") in field.get("aria-describedby")
    assert cell.xpath(".//input[@name='others']")[0].get("value") == "4"  # what was typed
    a = _stored(app, ids["open"])
    assert (a.physician_learners, a.other_learners, a.version) == (10, 2, 1)


def test_the_largest_count_is_accepted(app, client, ids):
    token = _signed_in(client)
    assert _post(client, token, ids["open"], "1,000,000,000", "0").status_code == 200
    assert _stored(app, ids["open"]).physician_learners == 10**9


def test_a_stale_edit_gets_a_conflict_and_overwrites_nothing(app, client, ids):
    token = _signed_in(client)
    assert _post(client, token, ids["open"], "50", "5", version=1).status_code == 200
    resp = _post(client, token, ids["open"], "99", "9", version=1)  # opened before that save
    assert resp.status_code == 409
    cell = parse(resp)
    message = text(cell.xpath(".//*[@role='alert']")[0])
    assert message.startswith(f"Changed by {EMAIL} at Sun Feb 15, 2026, 12:00 PM CST — reload.")
    assert "you typed 99 / 9, which was not saved" in message
    # The inputs show what is stored now, with its version: saving again is deliberate.
    assert cell.xpath(".//input[@name='physicians']")[0].get("value") == "50"
    assert cell.xpath(".//input[@name='version']")[0].get("value") == "2"
    a = _stored(app, ids["open"])
    assert (a.physician_learners, a.other_learners, a.version) == (50, 5, 2)


def test_a_concurrent_write_caught_at_commit_is_a_conflict(app, ids):
    """Someone commits between our version check and our UPDATE: StaleDataError → conflict."""
    with app.app_context():
        a = db.session.get(Activity, ids["open"])
        provider = db.session.get(Provider, a.provider_id)
        me = db.session.scalar(select(User).where(User.email == EMAIL))
        # Another session's committed write, which this session's copy has not seen.
        with db.engine.begin() as conn:
            conn.execute(
                update(Activity.__table__)
                .where(Activity.__table__.c.id == a.id)
                .values(version=2, physician_learners=77, updated_by_id=me.id)
            )
        with pytest.raises(learner_counts.CountsConflict) as caught:
            learner_counts.update_counts(
                provider, a, {"physicians": "5", "others": "1"}, 1, me, NOW
            )
        assert caught.value.by == EMAIL
        db.session.expire_all()
        stored = db.session.get(Activity, ids["open"])
        assert (stored.physician_learners, stored.version) == (77, 2)
        assert db.session.scalar(select(AuditEvent.id)) is None


# --- Read-only cells -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("closed", "Closed: reopen it to change its learner counts."),
        ("locked", "The 2024 report is submitted and locked: its learner counts are read-only."),
        ("em", "An enduring material's totals come from its December 31 counts: enter them there."),
    ],
)
def test_read_only_cells_say_why_and_the_server_refuses(app, client, ids, key, reason):
    token = _signed_in(client)
    doc = parse(client.get("/activities?year=" + ("2024" if key == "locked" else "2025")))
    cell = by_id(doc, f"counts-{ids[key]}")
    assert cell.xpath(".//a") == []
    assert {s.get("title") for s in cell.xpath(".//span[@title]")} == {reason}
    before = _stored(app, ids[key])
    resp = _post(client, token, ids[key], "5", "5", version=before.version)
    assert resp.status_code == 422
    assert text(parse(resp).xpath(".//*[@role='alert']")[0]) == reason
    edit = parse(client.get(f"/activities/{ids[key]}/counts/edit", headers=HX))
    assert edit.xpath(".//input") == []  # not editable: shown as stored, with the reason
    after = _stored(app, ids[key])
    assert (after.physician_learners, after.version) == (before.physician_learners, before.version)
    assert _events(app) == []


def test_the_list_makes_open_counts_clickable_and_offers_the_rss_hint(app, client, ids):
    _signed_in(client)
    doc = parse(client.get("/activities?year=2025"))
    cell = by_id(doc, f"counts-{ids['rss']}")
    link = cell.xpath(".//a[@data-field='physicians']")[0]
    assert link.get("hx-get").startswith(f"/activities/{ids['rss']}/counts/edit?")
    assert link.get("href") == f"/activities/{ids['rss']}?counts=edit#counts-{ids['rss']}"
    edit = parse(client.get(link.get("hx-get"), headers=HX))
    hint = text(by_id(edit, f"counts-{ids['rss']}-help"))
    assert "counts each learner once per session attended" in hint
    assert "1,040" in hint
    plain = parse(client.get(f"/activities/{ids['open']}/counts/edit", headers=HX))
    assert "once per session" not in text(plain)


def test_a_reviewer_sees_counts_but_cannot_edit_them(app, client, ids):
    token = _signed_in(client, "reviewer@example.org")
    doc = parse(client.get("/activities?year=2025"))
    assert doc.xpath("//a[contains(@class, 'count-link')]") == []
    assert doc.xpath("//form[@id='bulk']") == [] and doc.xpath("//input[@name='ids']") == []
    assert len(rows(doc)) == 5
    assert client.get(f"/activities/{ids['open']}/counts/edit", headers=HX).status_code == 403
    assert _post(client, token, ids["open"], "1", "1").status_code == 403
    assert _stored(app, ids["open"]).physician_learners == 10


def test_another_providers_activity_is_404(app, client, ids):
    token = _signed_in(client)
    assert client.get(f"/activities/{ids['theirs']}/counts/edit", headers=HX).status_code == 404
    assert _post(client, token, ids["theirs"], "1", "1").status_code == 404


# --- Detail page ---------------------------------------------------------------------------


def test_detail_save_updates_the_close_block_out_of_band(app, client, ids):
    token = _signed_in(client)
    page = parse(client.get(f"/activities/{ids['missing']}"))
    assert by_id(page, "close-activity") is None  # learners missing: no Close button yet
    cell = by_id(page, f"counts-{ids['missing']}")
    assert [text(dt) for dt in cell.xpath(".//dt")] == ["Physician learners", "Other learners"]
    edit = parse(client.get(f"/activities/{ids['missing']}/counts/edit?place=detail", headers=HX))
    assert [text(lbl) for lbl in edit.xpath(".//label")] == ["Physician learners", "Other learners"]
    resp = _post(client, token, ids["missing"], "12", "0", place="detail")
    assert resp.status_code == 200
    doc = parse(f"<div>{resp.get_data(as_text=True)}</div>")
    assert text(by_id(doc, f"counts-{ids['missing']}").xpath(".//p[@role='status']")[0]) == (
        "Learner counts saved."
    )
    block = by_id(doc, "close-block")
    assert block.get("hx-swap-oob") == "true"
    assert by_id(block, "close-activity") is not None
    assert text(by_id(block, "close-title")) == "Ready to close"


def test_without_javascript_the_detail_page_edits_the_counts(app, client, ids):
    token = _signed_in(client)
    resp = client.get(f"/activities/{ids['open']}/counts/edit")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/activities/{ids['open']}?counts=edit#counts-{ids['open']}"
    page = parse(client.get(f"/activities/{ids['open']}?counts=edit"))
    form = by_id(page, f"counts-{ids['open']}-form")
    assert (
        form.get("method") == "post" and form.get("action") == f"/activities/{ids['open']}/counts"
    )
    bad = _post(client, token, ids["open"], "x", "1", place="detail", hx=False)
    assert bad.status_code == 422
    assert text(by_id(parse(bad), f"counts-{ids['open']}-physicians-error")) == (
        "Enter a whole number."
    )
    ok = _post(client, token, ids["open"], "30", "1", place="detail", hx=False)
    assert ok.status_code == 303
    shown = parse(client.get(ok.headers["Location"]))
    assert "Learner counts of C-1 saved." in text(by_id(shown, "flash"))
    assert _stored(app, ids["open"]).physician_learners == 30

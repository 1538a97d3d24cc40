"""Creating, editing and deleting activities through the form (and its htmx field groups)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, YearLock
from tests.factories import csrf_token, login, make_activity, make_provider, make_user
from tests.web.html import by_class, by_id, parse, text

# Sunday February 15, 2026: activities of 2025 have ended.
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EDITOR = "editor@example.org"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    """Provider EDIT (an admin, a reviewer, a few activities) and provider ELSE."""
    with app.app_context():
        p = make_provider("EDIT")
        make_user(EDITOR, p, role="admin")
        make_user("reviewer@example.org", p, role="reviewer")
        out = {
            "provider": p.id,
            "complete": make_activity(p, title="Complete journal", provider_activity_id="J-1").id,
            "draft": make_activity(p, complete=False, title="Draft idea").id,
            "closed": make_activity(p, title="Closed one", closed_at=NOW).id,
        }
        other = make_provider("ELSE")
        out["other"] = make_activity(other, title="Other provider course").id
        make_activity(other, provider_activity_id="2025-0005")  # must not count for EDIT
        db.session.commit()
    return out


# A course with every field of spec §5, as the browser would post it.
COMPLETE_COURSE: dict[str, str] = {
    "provider_activity_id": "",
    "accme_activity_id": "202512345",
    "title": "Cardiology Update 2025",
    "format": "C",
    "delivery": "hybrid",
    "start_date": "2025-05-01",
    "end_date": "2025-05-02",
    "venue": "Lakeside Conference Center",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "credits": "6.5",
    "description": "Heart failure guidelines with case discussion.",
    "providership": "joint",
    "joint_providers": "Lakeside Nursing Association\nMidwest Heart Society",
    "passport_listed": "yes",
    "passport_fee": "no",
    "passport_registration": "open",
    "passport_url": "https://cme.example.org/cardio-2025",
    "commercial_support": "yes",
    "supporter_count": "2",
    "supporter-0-name": "Northwind Pharmaceuticals",
    "supporter-0-kind": "monetary",
    "supporter-0-amount": "12,500.50",
    "supporter-1-name": "Contoso Medical",
    "supporter-1-kind": "in_kind",
    "supporter-1-nature": "other",
    "supporter-1-other": "Simulation mannequins",
    "outcome_competence": "yes",
    "outcome_patient_health": "yes",
    "physician_learners": "1,040",
    "other_learners": "0",
    "moc_count": "1",
    "moc-0-board": "ABIM",
    "moc-0-credit_types": "MK, PS",
    "moc-0-points": "6",
    "moc-0-practice_areas": "Cardiology\nInternal Medicine",
    "action": "save",
}


def _complete_course(**changes: str) -> dict[str, str]:
    return {**COMPLETE_COURSE, **changes}


def _post(client, url: str, form: dict[str, str], headers=None):
    data = {**form, "csrf_token": csrf_token(client, "/activities")}
    return client.post(url, data=data, headers=headers or {})


def _count(app, **where) -> int:
    with app.app_context():
        query = select(func.count(Activity.id)).where(
            *[getattr(Activity, k) == v for k, v in where.items()]
        )
        return db.session.scalar(query)


def _errors(doc, key: str) -> str:
    return text(by_id(doc, f"f-{key}-error"))


def _value(doc, name: str) -> str | None:
    found = doc.xpath(f'//*[@name="{name}"]')
    if not found:
        return None
    el = found[0]
    if el.tag == "select":
        chosen = el.xpath("./option[@selected]")
        return chosen[0].get("value") if chosen else ""
    return el.text or "" if el.tag == "textarea" else el.get("value")


# --- Create ----------------------------------------------------------------------------------


def test_create_with_every_field_and_read_it_back(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, "/activities/new", _complete_course())
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"])
    doc = parse(page)
    assert text(doc.xpath("//h1")[0]) == "Cardiology Update 2025"
    assert "Activity 2025-0001 created." in text(by_id(doc, "flash"))
    # Ended in 2025, complete: it can be closed.
    assert "Ready to Close" in text(doc.xpath("//*[contains(@class, 'badge')]")[0])
    assert text(by_id(doc, "close-title")) == "Ready to close"
    facts = text(doc.xpath("//dl[contains(@class, 'facts')]")[0])
    for shown in (
        "2025-0001",
        "202512345",
        "Hybrid",
        "Lakeside Conference Center, Chicago, IL, USA",
        "6.50",
        "Joint: Lakeside Nursing Association, Midwest Heart Society",
        "no fee, open to all",
        "Northwind Pharmaceuticals: $12,500.50",
        "Contoso Medical: in-kind (Simulation mannequins)",
        "Learner competence, Patient health",
        "1,040",
        "ABIM: 6.00 points (MK, PS)",
    ):
        assert shown in facts
    with app.app_context():
        a = db.session.scalar(select(Activity).where(Activity.title == "Cardiology Update 2025"))
        assert a.credits == Decimal("6.50") and a.other_learners == 0
        assert a.moc_registrations[0].practice_areas == "Cardiology\nInternal Medicine"
        assert (a.completeness, a.created_by_id, a.version) == ("closable", a.updated_by_id, 1)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "activity.created"))
        assert (event.entity_id, event.provider_id) == (a.id, ids["provider"])
        assert json.loads(event.details)["changes"]["title"] == [None, "Cardiology Update 2025"]


def test_an_incomplete_draft_saves_and_lists_what_is_missing(app, client, ids):
    login(client, EDITOR)
    form = {"title": "Grand rounds", "format": "RSS", "start_date": "2026-01-05"}
    resp = _post(client, "/activities/new", {**form, "end_date": "2026-12-14"})
    assert resp.status_code == 303
    doc = parse(client.get(resp.headers["Location"]))
    assert "Draft" in text(doc.xpath("//*[contains(@class, 'badge')]")[0])
    missing = [li.get("data-field") for li in doc.xpath("//ul[@class='problems']/li")]
    assert {"venue", "credits", "providership", "passport_listed", "outcomes"} <= set(missing)


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"start_date": "2025-13-45"}, "start_date", "is not a real date"),
        ({"end_date": "2025-04-30"}, "end_date", "on or after the start date (05/01/2025)"),
        (
            {"format": "EM", "delivery": "internet", "end_date": "2028-05-01"},
            "end_date",
            "runs at most 3 years: end by 04/30/2028",
        ),
        ({"credits": "abc"}, "credits", "Enter the credits as a number such as 1.5"),
        ({"physician_learners": "-5"}, "physician_learners", "not a negative number"),
        ({"country": "XYZ"}, "country", "3-letter ISO code"),
        ({"state": "ZZ"}, "state", "2-letter USPS code"),
        ({"state": "Illinois"}, "state", "2-letter USPS code"),
        ({"supporter-1-amount": "100"}, "supporter-1-amount", "without a dollar value"),
        ({"title": "  "}, "title", "Enter the activity title"),
    ],
)
def test_bad_values_come_back_next_to_their_field_with_everything_kept(
    app, client, ids, changes, key, message
):
    login(client, EDITOR)
    form = _complete_course(**changes)
    resp = _post(client, "/activities/new", form)
    assert resp.status_code == 422
    doc = parse(resp)
    assert message in _errors(doc, key)
    assert message in text(by_id(doc, "error-summary"))
    field = by_id(doc, f"f-{key}")
    assert field.get("aria-invalid") == "true"
    for name in ("accme_activity_id", "description", "supporter-0-name", "moc-0-points", key):
        assert _value(doc, name) == form[name], name
    assert _count(app, provider_id=ids["provider"]) == 3  # nothing saved


def test_a_page_with_errors_still_shows_the_typed_html_escaped(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, "/activities/new", _complete_course(title="<b>x</b>", credits="abc"))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in body and "<b>x</b>" not in body


def test_html_in_the_title_is_escaped_on_the_activity_page(app, client, ids):
    login(client, EDITOR)
    title = '<script>alert("x")</script>'
    resp = _post(client, "/activities/new", _complete_course(title=title))
    body = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(" in body
    assert "<script>alert(" not in body


# --- Provider Activity ID ------------------------------------------------------------------


def test_generated_ids_are_the_next_free_number_of_the_provider(app, client, ids):
    login(client, EDITOR)
    first = _post(client, "/activities/new", _complete_course())
    second = _post(client, "/activities/new", _complete_course(accme_activity_id=""))
    with app.app_context():
        made = db.session.scalars(
            select(Activity.provider_activity_id)
            .where(Activity.provider_id == ids["provider"], Activity.title.startswith("Cardio"))
            .order_by(Activity.id)
        ).all()
    # ELSE's 2025-0005 is another provider's: it does not push EDIT's numbering.
    assert made == ["2025-0001", "2025-0002"]
    assert first.status_code == second.status_code == 303


def test_a_given_id_must_be_unique_within_the_provider(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, "/activities/new", _complete_course(provider_activity_id="J-1"))
    assert resp.status_code == 422
    assert "already has the ID “J-1”" in _errors(parse(resp), "provider_activity_id")
    # Another provider's IDs are not a clash.
    ok = _post(client, "/activities/new", _complete_course(provider_activity_id="2025-0005"))
    assert ok.status_code == 303


# --- The adaptive field groups ---------------------------------------------------------------


def _fields(client, **form):
    resp = _post(client, "/activities/form-fields", form, headers=HX)
    assert resp.status_code == 200
    doc = parse(resp)
    assert doc.get("id") == "activity-fields"
    return doc


def _options(doc, name: str) -> list[str]:
    return [o.get("value") for o in doc.xpath(f'//select[@name="{name}"]/option') if o.get("value")]


def test_location_shows_only_when_learners_gather(app, client, ids):
    login(client, EDITOR)
    assert by_id(_fields(client, format="C", delivery="in_person"), "location-group") is not None
    assert by_id(_fields(client, format="C", delivery="hybrid"), "location-group") is not None
    assert by_id(_fields(client, format="RSS"), "location-group") is not None
    streamed = _fields(client, format="C", delivery="live_stream", venue="Hall A")
    assert by_id(streamed, "location-group") is None
    # What was typed travels hidden, so switching back restores it.
    assert streamed.xpath('//input[@type="hidden"][@name="venue"]/@value') == ["Hall A"]
    assert by_id(_fields(client, format="EM", delivery="internet"), "location-group") is None


def test_delivery_choices_follow_the_format(app, client, ids):
    login(client, EDITOR)
    live = ["in_person", "live_stream", "hybrid"]
    assert _options(_fields(client, format="C"), "delivery") == live
    assert _options(_fields(client, format="RSS"), "delivery") == live
    assert _options(_fields(client, format="EM"), "delivery") == ["internet", "print"]
    assert _fields(client, format="JN").xpath('//select[@name="delivery"]') == []
    assert _fields(client).xpath('//select[@name="delivery"]') == []


def test_passport_details_joint_providers_and_supporters_follow_their_answers(app, client, ids):
    login(client, EDITOR)
    listed = _fields(client, passport_listed="yes")
    assert by_id(listed, "f-passport_url") is not None
    assert by_id(_fields(client, passport_listed="no"), "f-passport_url") is None
    assert by_id(_fields(client, providership="joint"), "f-joint_providers") is not None
    assert by_id(_fields(client, providership="direct"), "f-joint_providers") is None
    supported = _fields(client, commercial_support="yes")
    assert by_id(supported, "supporter-0") is not None  # a first row, ready to fill
    assert by_id(_fields(client, commercial_support="no"), "supporter-0") is None


def test_supporter_rows_are_added_and_removed_inline(app, client, ids):
    login(client, EDITOR)
    rows = dict(commercial_support="yes", supporter_count="2")
    rows |= {"supporter-0-name": "First", "supporter-1-name": "Second"}
    added = _fields(client, **rows, action="add_supporter")
    assert [_value(added, f"supporter-{i}-name") for i in range(3)] == ["First", "Second", ""]
    assert by_id(added, "f-supporter-2-name").get("autofocus") is not None
    removed = _fields(client, **rows, action="remove_supporter:0")
    assert _value(removed, "supporter-0-name") == "Second"
    assert by_id(removed, "supporter-1") is None
    in_kind = _fields(client, **rows, **{"supporter-0-kind": "in_kind"})
    assert by_id(in_kind, "f-supporter-0-amount") is None
    assert by_id(in_kind, "f-supporter-0-nature") is not None


def test_moc_blocks_are_added_per_board(app, client, ids):
    login(client, EDITOR)
    doc = _fields(client, moc_count="1", **{"moc-0-board": "ABIM"}, action="add_moc")
    assert _value(doc, "moc-0-board") == "ABIM"
    assert _value(doc, "moc-1-board") == ""
    assert _options(doc, "moc-1-board")[:2] == ["ABA", "ABIM"]


def test_row_buttons_work_without_javascript(app, client, ids):
    login(client, EDITOR)
    form = _complete_course(action="add_supporter")
    resp = _post(client, "/activities/new", form)
    assert resp.status_code == 200
    doc = parse(resp)
    assert by_id(doc, "supporter-2") is not None and by_id(doc, "activity-form") is not None
    assert _value(doc, "title") == "Cardiology Update 2025"
    assert _count(app, provider_id=ids["provider"]) == 3


def test_first_submit_button_of_the_form_saves(app, client, ids):
    """Enter in a text field presses the form's first submit button: it must be Save."""
    login(client, EDITOR)
    doc = parse(client.get("/activities/new"))
    first = by_id(doc, "activity-form").xpath(".//button[@type='submit']")[0]
    assert (first.get("name"), first.get("value")) == ("action", "save")


# --- Edit ------------------------------------------------------------------------------------


def test_edit_shows_the_stored_values_and_saves_changes_audited(app, client, ids):
    login(client, EDITOR)
    doc = parse(client.get(f"/activities/{ids['complete']}/edit"))
    assert _value(doc, "title") == "Complete journal"
    assert _value(doc, "credits") == "1.50"
    form = {el.get("name"): el.get("value") or "" for el in doc.xpath("//form//input")}
    form |= {"format": "JN", "providership": "direct", "passport_listed": "no"}
    form |= {"commercial_support": "no", "title": "Renamed journal", "description": "New."}
    resp = _post(client, f"/activities/{ids['complete']}/edit", form)
    assert resp.status_code == 303
    assert "Activity J-1 saved." in text(
        by_id(parse(client.get(resp.headers["Location"])), "flash")
    )
    with app.app_context():
        a = db.session.get(Activity, ids["complete"])
        assert (a.title, a.description, a.version) == ("Renamed journal", "New.", 2)
        details = json.loads(
            db.session.scalar(
                select(AuditEvent.details).where(AuditEvent.action == "activity.updated")
            )
        )
        assert details["changes"]["title"] == ["Complete journal", "Renamed journal"]
        assert "credits" not in details["changes"]


def _edit_form(client, activity_id: int) -> dict[str, str]:
    doc = parse(client.get(f"/activities/{activity_id}/edit"))
    form = {el.get("name"): el.get("value") or "" for el in doc.xpath("//form//input")}
    form |= {el.get("name"): _value(doc, el.get("name")) for el in doc.xpath("//form//select")}
    form |= {el.get("name"): el.text or "" for el in doc.xpath("//form//textarea")}
    form.pop("action", None)
    return form


def test_a_stale_edit_gets_a_conflict_and_overwrites_nothing(app, client, ids):
    login(client, EDITOR)
    url = f"/activities/{ids['complete']}/edit"
    form = _edit_form(client, ids["complete"])
    assert _post(client, url, {**form, "title": "First save"}).status_code == 303
    stale = _post(client, url, {**form, "title": "Stale save"})
    assert stale.status_code == 409
    doc = parse(stale)
    notice = text(by_id(doc, "conflict"))
    assert notice.startswith(f"Changed by {EDITOR} at") and "reload" in notice
    assert _value(doc, "title") == "Stale save"  # what they typed, to copy from
    with app.app_context():
        assert db.session.get(Activity, ids["complete"]).title == "First save"


def test_validation_rounds_keep_the_version_the_user_started_from(app, client, ids):
    login(client, EDITOR)
    url = f"/activities/{ids['complete']}/edit"
    form = _edit_form(client, ids["complete"])
    bad = _post(client, url, {**form, "credits": "abc"})
    assert bad.status_code == 422
    with app.app_context():  # someone else saves meanwhile
        db.session.get(Activity, ids["complete"]).title = "Saved elsewhere"
        db.session.commit()
    retry = {**form, "version": _value(parse(bad), "version"), "credits": "2"}
    assert _post(client, url, retry).status_code == 409


def test_the_accme_id_is_read_only_once_set(app, client, ids):
    with app.app_context():
        db.session.get(Activity, ids["complete"]).accme_activity_id = 555
        db.session.commit()
    login(client, EDITOR)
    url = f"/activities/{ids['complete']}/edit"
    doc = parse(client.get(url))
    assert doc.xpath('//input[@name="accme_activity_id"]') == []
    assert "555" in text(by_id(doc, "f-accme_activity_id"))
    form = _edit_form(client, ids["complete"])
    resp = _post(client, url, {**form, "accme_activity_id": "999"})
    assert resp.status_code == 422
    assert "cannot be changed" in _errors(parse(resp), "accme_activity_id")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_closed_activity_cannot_be_edited(app, client, ids, method):
    login(client, EDITOR)
    url = f"/activities/{ids['closed']}/edit"
    resp = client.get(url) if method == "GET" else _post(client, url, {"title": "Changed"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/activities/{ids['closed']}")
    page = parse(client.get(resp.headers["Location"]))
    assert "reopen it first" in text(by_id(page, "flash"))
    assert by_id(page, "edit-activity") is None
    with app.app_context():
        assert db.session.get(Activity, ids["closed"]).title == "Closed one"


def test_a_locked_year_is_read_only(app, client, ids):
    with app.app_context():
        db.session.add(YearLock(provider_id=ids["provider"], year=2025))
        db.session.commit()
    login(client, EDITOR)
    url = f"/activities/{ids['complete']}/edit"
    refused = client.get(url)
    assert refused.status_code == 303
    page = parse(client.get(refused.headers["Location"]))
    assert "The 2025 report is submitted and locked" in text(by_id(page, "flash"))
    assert "locked" in text(by_id(page, "read-only-reason"))
    assert by_id(page, "edit-activity") is None
    post = _post(client, url, {"title": "Changed", "version": "1"})
    assert post.status_code == 303
    # Nor can a new activity be put into the locked year.
    created = _post(client, "/activities/new", _complete_course())
    assert created.status_code == 422
    assert "The 2025 report is submitted and locked" in _errors(parse(created), "end_date")
    with app.app_context():
        assert db.session.get(Activity, ids["complete"]).title == "Complete journal"


# --- Delete ----------------------------------------------------------------------------------


def test_a_draft_can_be_deleted_and_it_is_audited(app, client, ids):
    login(client, EDITOR)
    page = parse(client.get(f"/activities/{ids['draft']}"))
    form = by_id(page, "delete-activity").getparent()
    assert "Draft idea" in form.get("data-confirm")
    resp = _post(client, f"/activities/{ids['draft']}/delete", {})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/activities")
    assert "deleted" in text(by_id(parse(client.get("/activities")), "flash"))
    with app.app_context():
        assert db.session.get(Activity, ids["draft"]) is None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "activity.deleted"))
        assert event.entity_id == ids["draft"]
        assert json.loads(event.details)["deleted"]["title"] == "Draft idea"


@pytest.mark.parametrize(("which", "reason"), [("complete", "Only Drafts"), ("closed", "Closed")])
def test_anything_but_a_draft_is_not_deleted(app, client, ids, which, reason):
    login(client, EDITOR)
    assert by_id(parse(client.get(f"/activities/{ids[which]}")), "delete-activity") is None
    resp = _post(client, f"/activities/{ids[which]}/delete", {})
    assert resp.status_code == 303
    flash = text(by_id(parse(client.get(resp.headers["Location"])), "flash"))
    assert "Not deleted" in flash and reason in flash
    with app.app_context():
        assert db.session.get(Activity, ids[which]) is not None


# --- Who may ---------------------------------------------------------------------------------


def test_reviewers_get_403_and_see_no_buttons(app, client, ids):
    login(client, "reviewer@example.org")
    token = csrf_token(client, "/activities")
    assert client.get("/activities/new").status_code == 403
    assert client.get(f"/activities/{ids['draft']}/edit").status_code == 403
    for url in (
        "/activities/new",
        f"/activities/{ids['draft']}/edit",
        f"/activities/{ids['draft']}/delete",
        "/activities/form-fields",
    ):
        assert client.post(url, data={"csrf_token": token, "title": "x"}).status_code == 403
    assert by_id(parse(client.get("/activities")), "new-activity") is None
    detail = parse(client.get(f"/activities/{ids['draft']}"))
    assert by_id(detail, "edit-activity") is None and by_id(detail, "delete-activity") is None
    assert _count(app, provider_id=ids["provider"]) == 3


def test_editors_see_new_and_edit_buttons(app, client, ids):
    login(client, EDITOR)
    new = by_id(parse(client.get("/activities")), "new-activity")
    assert new.get("href") == "/activities/new"
    detail = parse(client.get(f"/activities/{ids['complete']}"))
    assert by_id(detail, "edit-activity").get("href") == f"/activities/{ids['complete']}/edit"


def test_another_providers_activity_is_not_found(app, client, ids):
    login(client, EDITOR)
    url = f"/activities/{ids['other']}"
    assert client.get(url + "/edit").status_code == 404
    assert _post(client, url + "/edit", _complete_course(version="1")).status_code == 404
    assert _post(client, url + "/delete", {}).status_code == 404
    with app.app_context():
        assert db.session.get(Activity, ids["other"]).title == "Other provider course"


def test_pages_have_no_inline_script_or_style(app, client, ids):
    login(client, EDITOR)
    for url in ("/activities/new", f"/activities/{ids['complete']}/edit"):
        doc = parse(client.get(url))
        assert doc.xpath("//script[not(@src)]") == []
        assert doc.xpath("//*[@style]") == []
        assert not [a for el in doc.iter() for a in el.attrib if a.startswith("hx-on")]
    assert by_class(parse(client.get("/activities/new")), "activity-fields")


def test_blank_dates_are_asked_for(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, "/activities/new", {"title": "T", "format": "JN"})
    assert resp.status_code == 422
    doc = parse(resp)
    assert "Enter the start date" in _errors(doc, "start_date")
    assert "Enter the end date" in _errors(doc, "end_date")

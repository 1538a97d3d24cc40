"""Help where the work is: a guide per checklist step (its own page and a disclosure on the
dashboard, from the same words), and the counting rules beside the learner-count fields."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from pars_app.extensions import db
from tests.factories import (
    csrf_token,
    login,
    make_accreditor,
    make_activity,
    make_enduring,
    make_provider,
    make_user,
    utc,
)
from tests.web.html import by_class, by_id, parse, text

FEB_15 = utc(2026, 2, 15, 18)
STEPS = ("agreement", "activities", "enduring", "summary", "contacts")


@pytest.fixture(autouse=True)
def _in_cycle():
    with time_machine.travel(FEB_15, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    with app.app_context():
        p = make_provider("HELP")
        make_user("help@example.org", p)
        em = make_enduring(p, date(2025, 2, 1), date(2027, 1, 31))
        rss = make_activity(p, format="RSS", delivery="in_person")
        make_user("staff@acc.org", accreditor=make_accreditor("ACC-H"))
        db.session.commit()
        return {"em": em.id, "rss": rss.id}


def _hrefs(el) -> list[str]:
    return [a.get("href") for a in el.xpath(".//a")]


@pytest.mark.parametrize("step", STEPS)
def test_each_step_has_a_guide_saying_what_why_and_how(app, client, ids, step):
    login(client, "help@example.org")
    resp = client.get(f"/help/{step}?year=2025")
    assert resp.status_code == 200
    doc = parse(resp)
    guide = by_id(doc, f"help-{step}")
    headings = [text(h) for h in guide.xpath(".//h2")]
    assert headings[0] == "What this step means"
    assert "The rule behind it" in headings and "How to do it here" in headings
    # Written for the year being closed out: the dates are that cycle's.
    assert "2025" in text(guide)
    # Every way of doing it is named, even when the answer is "not needed".
    ways = [text(h) for h in guide.xpath(".//h3")]
    assert ways[0] == "One at a time" or ways[0].startswith("One at a time")
    assert any("batch file" in w for w in ways)


def test_the_activities_guide_gives_the_rule_the_counting_and_the_batch_file_pages(
    app, client, ids
):
    login(client, "help@example.org")
    guide = by_id(parse(client.get("/help/activities?year=2025")), "help-activities")
    words = text(guide)
    assert "close every activity that ended in 2025" in words
    assert "20 physicians at each of 52 weekly sessions = 1,040 physicians" in words
    assert "each registrant once for the whole event" in words
    assert "cumulative totals" in words
    links = _hrefs(guide)
    assert "/activities?year=2025&view=ended_open" in links
    assert "/imports/new" in links
    assert "/templates/activities.xlsx" in links
    assert "/activities/new" in links


def test_the_enduring_guide_leads_to_the_missing_counts_and_the_import(app, client, ids):
    login(client, "help@example.org")
    guide = by_id(parse(client.get("/help/enduring?year=2025")), "help-enduring")
    assert "as of December 31, 2025" in text(guide)
    assert "/enduring/2025?missing=1" in _hrefs(guide)
    assert "/imports/new" in _hrefs(guide)


def test_the_summary_guide_says_submitting_locks_the_year(app, client, ids):
    login(client, "help@example.org")
    guide = text(by_id(parse(client.get("/help/summary?year=2025")), "help-summary"))
    assert "Submitting locks 2025" in guide
    assert "Commercial support is not typed" in guide
    assert "opens on January 1, 2026" in guide


def test_guides_page_lists_the_five_steps_and_the_deadline_rule(app, client, ids):
    login(client, "help@example.org")
    doc = parse(client.get("/help/?year=2025"))
    steps = by_class(doc, "help-steps")[0]
    assert [a.get("href") for a in steps.xpath(".//a")] == [f"/help/{s}?year=2025" for s in STEPS]
    assert "March 31, 2026, 11:59 p.m. US Central time" in text(by_id(doc, "help-index"))


def test_unknown_step_is_404_and_guides_need_a_sign_in(app, client, ids):
    assert client.get("/help/activities").status_code == 302
    login(client, "help@example.org")
    assert client.get("/help/ledger").status_code == 404


def test_accreditor_staff_can_read_the_guides(app, client, ids):
    login(client, "staff@acc.org")
    resp = client.get("/help/contacts")
    assert resp.status_code == 200
    assert "Confirm contacts are current" in text(by_id(parse(resp), "help-contacts"))


def test_each_dashboard_step_carries_its_guide_in_a_disclosure(app, client, ids):
    login(client, "help@example.org")
    dash = parse(client.get("/?year=2025"))
    for step in STEPS:
        details = by_id(dash, f"help-{step}")
        assert details is not None and details.tag == "details"
        assert details.getparent().getparent().get("id") == f"step-{step}"
        assert text(details.xpath("./summary")[0]).startswith("How to do this step")
        full = [a for a in details.xpath(".//a") if "full guide" in text(a)]
        assert [a.get("href") for a in full] == [f"/help/{step}?year=2025"]
        # The same words as the guide's page: one source for both.
        page = parse(client.get(f"/help/{step}?year=2025"))
        lede = text(by_class(page, "help__lede")[0])
        assert lede and lede in text(details)
    # The step's own action stays its first link, before the guide.
    first = by_id(dash, "step-activities").xpath(".//a")[0]
    assert first.get("class") == "step__action"
    assert first.get("href") == "/activities?year=2025&view=ended_open"


def _fields(client, **form):
    data = {**form, "csrf_token": csrf_token(client, "/activities")}
    resp = client.post("/activities/form-fields", data=data, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    return parse(resp)


@pytest.mark.parametrize(
    ("fmt", "rule"),
    [
        ("RSS", "once per session attended: 20 physicians at 52 weekly sessions = 1,040"),
        ("C", "counts each registrant once for the whole event"),
        ("EM", "Cumulative totals: everyone since the material first became available"),
        ("ISL", "All learners go into this one activity"),
    ],
)
def test_the_learner_fields_say_how_to_count_for_the_chosen_format(app, client, ids, fmt, rule):
    login(client, "help@example.org")
    doc = _fields(client, format=fmt, title="X")
    group = by_id(doc, "learners-group")
    hint = by_id(doc, "learners-hint")
    assert group.get("aria-describedby") == "learners-hint"
    assert rule in text(hint)
    assert "Physicians include residents" in text(hint)
    assert hint.xpath(".//a")[0].get("href") == "/help/activities#counting"


def test_the_edit_form_of_a_series_shows_the_series_rule(app, client, ids):
    login(client, "help@example.org")
    doc = parse(client.get(f"/activities/{ids['rss']}/edit"))
    assert "once per session attended" in text(by_id(doc, "learners-hint"))


def test_the_enduring_counts_page_says_counts_are_cumulative(app, client, ids):
    login(client, "help@example.org")
    doc = parse(client.get("/enduring/2025"))
    rule = by_id(doc, "enduring-rule")
    assert "Cumulative totals" in text(rule)
    assert "make 200 as of December 31, 2025" in text(rule)
    assert "/help/enduring?year=2025" in _hrefs(rule)
    assert by_id(doc, f"snapshot-{ids['em']}") is not None  # the fields it governs are here

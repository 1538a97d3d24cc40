"""Continuing series copied for the next period, and each activity's history of changes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, MocRegistration, YearLock
from tests.factories import (
    csrf_token,
    login,
    make_activity,
    make_enduring,
    make_provider,
    make_user,
)
from tests.web.html import by_class, by_id, parse, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EDITOR = "editor@example.org"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    with app.app_context():
        p = make_provider("SER")
        make_user(EDITOR, p, role="staff")
        make_user("reviewer@example.org", p, role="reviewer")
        course = make_activity(
            p,
            provider_activity_id="GR-2025",
            title="Internal Medicine Grand Rounds",
            format="RSS",
            delivery="hybrid",
            venue="Lakeside Hall",
            city="Chicago",
            state="IL",
            country="USA",
            start_date=date(2025, 1, 1),
            end_date=date(2025, 12, 31),
            credits=Decimal("48.00"),
            providership="joint",
            joint_providers=["Lakeside Nursing Association"],
            commercial_support=True,
            supporters=[dict(name="Northwind", kind="monetary", amount_cents=250000)],
            accme_activity_id=202500001,
            physician_learners=1040,
            other_learners=60,
            closed_at=NOW,
        )
        course.moc_registrations.append(
            MocRegistration(
                board="ABIM", credit_types="MK", points=Decimal("10"), practice_areas="IM"
            )
        )
        journal = make_activity(p, format="JN", title="Journal CME")
        other = make_provider("ELSE")
        foreign = make_activity(other, format="C", title="Other provider course")
        db.session.commit()
        return dict(provider=p.id, course=course.id, journal=journal.id, foreign=foreign.id)


def _copy(client, activity_id: int):
    token = csrf_token(client, f"/activities/{activity_id}")
    return client.post(f"/activities/{activity_id}/copy-next", data={"csrf_token": token})


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Activity.id)))


# --- Copy for the next 12-month period ----------------------------------------------------------


def test_a_series_is_copied_for_its_next_period_with_counts_blank(app, client, ids):
    login(client, EDITOR)
    detail = parse(client.get(f"/activities/{ids['course']}"))
    assert text(by_id(detail, "copy-next")) == "Copy for the next 12-month period"
    resp = _copy(client, ids["course"])
    assert resp.status_code == 303
    with app.app_context():
        copy = db.session.scalar(
            select(Activity).where(Activity.id != ids["course"]).order_by(Activity.id.desc())
        )
        source = db.session.get(Activity, ids["course"])
        assert resp.headers["Location"].endswith(f"/activities/{copy.id}/edit")
        assert (copy.start_date, copy.end_date) == (date(2026, 1, 1), date(2026, 12, 31))
        assert copy.provider_activity_id == "2026-0001"
        for name in ("title", "format", "delivery", "venue", "city", "state", "country"):
            assert getattr(copy, name) == getattr(source, name), name
        assert (copy.credits, copy.providership, copy.commercial_support) == (
            Decimal("48.00"),
            "joint",
            True,
        )
        assert [j.name for j in copy.joint_providers] == ["Lakeside Nursing Association"]
        assert [(s.name, s.amount_cents) for s in copy.supporters] == [("Northwind", 250000)]
        assert [(m.board, m.points) for m in copy.moc_registrations] == [("ABIM", Decimal("10"))]
        assert (copy.physician_learners, copy.other_learners) == (None, None)
        assert copy.closed_at is None and copy.accme_activity_id is None
        assert copy.completeness == "active"  # everything but the learners: not closable
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "activity.copied"))
        assert (event.entity_type, event.entity_id) == ("Activity", copy.id)
        assert json.loads(event.details)["source_id"] == ids["course"]
    edit = parse(client.get(resp.headers["Location"]))
    assert "Copied GR-2025 to 2026-0001 for 01/01/2026 to 12/31/2026" in text(by_id(edit, "flash"))
    # The source is untouched.
    with app.app_context():
        assert db.session.get(Activity, ids["course"]).physician_learners == 1040


def test_a_longer_period_is_capped_at_twelve_months(app, client, ids):
    with app.app_context():
        a = db.session.get(Activity, ids["course"])
        # 366 days in a leap year: the next one may only run 365.
        a.start_date, a.end_date = date(2024, 1, 1), date(2024, 12, 31)
        db.session.commit()
    login(client, EDITOR)
    _copy(client, ids["course"])
    with app.app_context():
        copy = db.session.scalar(select(Activity).order_by(Activity.id.desc()))
        assert (copy.start_date, copy.end_date) == (date(2025, 1, 1), date(2025, 12, 31))
        assert copy.provider_activity_id == "2025-0001"


def test_only_series_are_copied_and_only_by_editors(app, client, ids):
    login(client, EDITOR)
    before = _count(app)
    assert by_id(parse(client.get(f"/activities/{ids['journal']}")), "copy-next") is None
    resp = _copy(client, ids["journal"])
    assert resp.status_code == 303
    page = parse(client.get(resp.headers["Location"]))
    assert "not a continuing series" in text(by_id(page, "flash"))
    assert _copy(client, ids["foreign"]).status_code == 404
    assert _count(app) == before
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "reviewer@example.org")
    assert by_id(parse(client.get(f"/activities/{ids['course']}")), "copy-next") is None
    assert _copy(client, ids["course"]).status_code == 403
    assert _count(app) == before


def test_no_copy_into_a_locked_year(app, client, ids):
    with app.app_context():
        db.session.add(YearLock(provider_id=ids["provider"], year=2026))
        db.session.commit()
    login(client, EDITOR)
    before = _count(app)
    resp = _copy(client, ids["course"])
    page = parse(client.get(resp.headers["Location"]))
    assert "2026 report is submitted and locked" in text(by_id(page, "flash"))
    assert _count(app) == before


# --- History ------------------------------------------------------------------------------------


COURSE_FORM = {
    "provider_activity_id": "HX-1",
    "title": "Sepsis Update",
    "format": "C",
    "delivery": "live_stream",
    "start_date": "2025-05-01",
    "end_date": "2025-05-01",
    "credits": "2",
    "description": "Recognition and early treatment.",
    "providership": "direct",
    "passport_listed": "no",
    "commercial_support": "no",
    "outcome_competence": "yes",
    "action": "save",
}


def _save_form(client, url: str, **changes):
    data = {**COURSE_FORM, **changes, "csrf_token": csrf_token(client, "/activities")}
    resp = client.post(url, data=data)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    return resp


def _entries(doc) -> list:
    return by_class(by_id(doc, "history"), "history-entry", "li")


def test_history_shows_who_changed_what_when_and_how_newest_first(app, client, ids):
    login(client, EDITOR)
    created = _save_form(client, "/activities/new")
    activity_id = int(created.headers["Location"].rsplit("/", 1)[1])
    # An hour later (time only moves forward: a session is not valid before it began).
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        _save_form(
            client, f"/activities/{activity_id}/edit", title="Sepsis Update 2025", version="1"
        )
        detail = parse(client.get(f"/activities/{activity_id}"))
        link = by_id(detail, "activity-history-link")
        assert link.get("href") == f"/activities/{activity_id}/history"
        doc = parse(client.get(link.get("href")))
    assert text(by_id(doc, "result-count")) == "1–2 of 2 changes"  # noqa: RUF001
    edited, created_entry = _entries(doc)
    assert text(by_class(edited, "history-entry__title")[0]) == "Edited"
    meta = text(by_class(edited, "history-entry__meta")[0])
    assert f"by {EDITOR}" in meta and "via form" in meta and "Sun Feb 15, 2026, 1:00 PM CST" in meta
    (change,) = edited.xpath(".//table//tbody/tr")
    assert [text(c) for c in change.xpath("./*")] == [
        "Title",
        "Sepsis Update",
        "Sepsis Update 2025",
    ]
    assert text(by_class(created_entry, "history-entry__title")[0]) == "Created"
    created_rows = {
        text(r.xpath("./th")[0]): [text(c) for c in r.xpath("./td")]
        for r in created_entry.xpath(".//table//tbody/tr")
    }
    assert created_rows["Format"] == ["—", "Course (C)"]
    assert created_rows["Start date"] == ["—", "05/01/2025"]
    assert created_rows["Delivery method"] == ["—", "Live-streamed"]
    assert created_rows["Learner competence"] == ["—", "Yes"]


def test_history_includes_inline_counts_and_the_copy_source(app, client, ids):
    login(client, EDITOR)
    resp = _copy(client, ids["course"])
    copy_id = int(resp.headers["Location"].split("/")[-2])
    doc = parse(client.get(f"/activities/{copy_id}/history"))
    (entry,) = _entries(doc)
    assert (
        text(by_class(entry, "history-entry__title")[0]) == "Created as a copy for the next period"
    )
    source = entry.xpath(".//p[contains(@class, 'history-entry__source')]/a")[0]
    assert (source.get("href"), text(source)) == (f"/activities/{ids['course']}", "GR-2025")


def test_history_of_enduring_counts_shows_the_inline_path(app, client, ids):
    with app.app_context():
        from pars_app.models import Provider

        em = make_enduring(
            db.session.get(Provider, ids["provider"]), date(2024, 1, 1), date(2026, 12, 31)
        )
        db.session.commit()
        em_id = em.id
    login(client, EDITOR)
    token = csrf_token(client, "/enduring/2025")
    data = {"physicians": "1,200", "others": "30", "version": "0", "csrf_token": token}
    assert client.post(f"/enduring/2025/{em_id}", data=data, headers=HX).status_code == 200
    doc = parse(client.get(f"/activities/{em_id}/history"))
    (entry,) = _entries(doc)
    assert text(by_class(entry, "history-entry__title")[0]) == (
        "December 31, 2025 learner count recorded"
    )
    assert "via inline" in text(by_class(entry, "history-entry__meta")[0])
    rows = [[text(c) for c in r.xpath("./*")] for r in entry.xpath(".//tbody/tr")]
    assert rows == [
        ["Physicians (cumulative)", "—", "1,200"],
        ["Other learners (cumulative)", "—", "30"],
    ]


@pytest.mark.parametrize(
    ("via", "shown"),
    [("web", "form"), ("inline", "inline"), ("bulk", "bulk"), ("import", "import"), ("cli", "CLI")],
)
def test_each_path_is_named(app, client, ids, via, shown):
    with app.app_context():
        db.session.add(
            AuditEvent(
                action="activity.closed",
                provider_id=ids["provider"],
                entity_type="Activity",
                entity_id=ids["journal"],
                via=via,
                at=NOW,
            )
        )
        db.session.commit()
    login(client, EDITOR)
    (entry,) = _entries(parse(client.get(f"/activities/{ids['journal']}/history")))
    assert text(by_class(entry, "history-entry__title")[0]) == "Closed"
    assert f"via {shown}" in text(by_class(entry, "history-entry__meta")[0])


def test_history_is_paginated(app, client, ids):
    with app.app_context():
        for i in range(30):
            db.session.add(
                AuditEvent(
                    action="activity.updated",
                    provider_id=ids["provider"],
                    entity_type="Activity",
                    entity_id=ids["journal"],
                    at=NOW + timedelta(minutes=i),
                    details=json.dumps({"changes": {"title": [f"T{i}", f"T{i + 1}"]}}),
                )
            )
        db.session.commit()
    login(client, EDITOR)
    first = parse(client.get(f"/activities/{ids['journal']}/history"))
    assert len(_entries(first)) == 25
    newest = _entries(first)[0].xpath(".//tbody/tr/td")
    assert [text(td) for td in newest] == ["T29", "T30"]
    second = parse(client.get(f"/activities/{ids['journal']}/history?page=2"))
    assert len(_entries(second)) == 5
    assert text(by_id(second, "result-count")) == "26–30 of 30 changes"  # noqa: RUF001


def test_another_providers_history_is_not_found_and_never_mixed_in(app, client, ids):
    with app.app_context():
        other = db.session.get(Activity, ids["foreign"])
        # An event of the other provider that names our activity's id must not show.
        db.session.add(
            AuditEvent(
                action="activity.updated",
                provider_id=other.provider_id,
                entity_type="Activity",
                entity_id=ids["journal"],
                at=NOW,
                details=json.dumps({"changes": {"title": ["Secret", "Leak"]}}),
            )
        )
        db.session.commit()
    login(client, EDITOR)
    assert client.get(f"/activities/{ids['foreign']}/history").status_code == 404
    body = client.get(f"/activities/{ids['journal']}/history").get_data(as_text=True)
    assert "Secret" not in body and "No changes recorded" in body

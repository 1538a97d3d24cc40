"""Checklist step 3 in the browser's terms: the December 31 counts page and its inline rows."""

# The en dash of "1–3 of 3" is what users see.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import event, select

from pars_app.extensions import db
from pars_app.models import Activity, LearnerSnapshot, YearLock
from tests.factories import (
    csrf_token,
    login,
    make_enduring,
    make_provider,
    make_snapshot,
    make_user,
)
from tests.web.html import by_class, by_id, parse, result_count, rows, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EDITOR = "editor@example.org"
TABLE = "enduring-table"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    with app.app_context():
        p = make_provider("END")
        make_user(EDITOR, p, role="staff")
        make_user("reviewer@example.org", p, role="reviewer")
        ongoing = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31), provider_activity_id="EM-1")
        make_snapshot(ongoing, 2024, physicians=1200, others=40)
        counted = make_enduring(
            p, date(2025, 1, 1), date(2027, 12, 31), provider_activity_id="EM-2"
        )
        make_snapshot(counted, 2025, physicians=30, others=3)
        ending = make_enduring(
            p,
            date(2023, 7, 1),
            date(2025, 6, 30),
            provider_activity_id="EM-3",
            physician_learners=None,
            other_learners=None,
        )
        make_snapshot(ending, 2024, physicians=80, others=8)
        other = make_provider("ELSE")
        foreign = make_enduring(other, date(2025, 1, 1), date(2025, 12, 31), title="Not yours")
        db.session.commit()
        return dict(
            provider=p.id,
            ongoing=ongoing.id,
            counted=counted.id,
            ending=ending.id,
            foreign=foreign.id,
        )


def _post(client, activity_id, physicians, others, version="0", headers=HX, year=2025, **extra):
    data = dict(
        physicians=physicians,
        others=others,
        version=version,
        csrf_token=csrf_token(client, f"/enduring/{year}"),
        **extra,
    )
    return client.post(f"/enduring/{year}/{activity_id}", data=data, headers=headers)


def _stored(app, activity_id, year=2025):
    with app.app_context():
        s = db.session.scalar(
            select(LearnerSnapshot).where(
                LearnerSnapshot.activity_id == activity_id, LearnerSnapshot.year == year
            )
        )
        return (s.physicians, s.others, s.version) if s else None


def _cells(row) -> list[str]:
    return [text(td) for td in row.xpath("./td")]


def test_the_page_lists_the_years_materials_with_previous_counts_and_increase(app, client, ids):
    login(client, EDITOR)
    doc = parse(client.get("/enduring/2025"))
    assert text(doc.xpath("//h1")[0]) == "Enduring materials: learners as of December 31, 2025"
    assert result_count(doc) == "1–3 of 3"
    assert "2 of 3 enduring materials available in 2025 still need a count" in text(
        by_id(doc, "enduring-summary")
    )
    found = {r.get("id"): r for r in rows(doc, TABLE)}
    assert set(found) == {f"snapshot-{ids[k]}" for k in ("ongoing", "counted", "ending")}
    ongoing = _cells(found[f"snapshot-{ids['ongoing']}"])
    assert ongoing[0] == "EM-1"
    assert ongoing[2] == "06/01/2024 – 05/31/2026"
    assert ongoing[3] == "1,200 / 40 12/31/2024"
    counted = found[f"snapshot-{ids['counted']}"]
    assert _cells(counted)[3] == "First year"
    assert _cells(counted)[6] == "+30 / +3"  # first year: the whole total is this year's
    inputs = counted.xpath(".//input[@name='physicians']")
    assert inputs[0].get("value") == "30"
    # The link leads to the activity.
    link = found[f"snapshot-{ids['ongoing']}"].xpath("./td[1]/a")[0]
    assert link.get("href") == f"/activities/{ids['ongoing']}"
    assert "Not yours" not in client.get("/enduring/2025").get_data(as_text=True)


def test_missing_only_lists_what_the_checklist_counts(app, client, ids):
    login(client, EDITOR)
    doc = parse(client.get("/enduring/2025?missing=1"))
    assert {r.get("id") for r in rows(doc, TABLE)} == {
        f"snapshot-{ids['ongoing']}",
        f"snapshot-{ids['ending']}",
    }
    assert by_id(doc, "missing-only").get("checked") is not None
    assert parse(client.get("/?year=2025")).xpath(
        "//li[@id='step-enduring']//a[@href='/enduring/2025?missing=1']"
    )


def test_an_inline_save_returns_the_row_and_records_the_snapshot(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, ids["ongoing"], "1,500", "52")
    assert resp.status_code == 200
    row = parse(resp)
    assert row.get("id") == f"snapshot-{ids['ongoing']}"
    assert _cells(row)[6] == "+300 / +12"
    assert row.xpath(".//input[@name='version']")[0].get("value") == "1"
    trigger = json.loads(resp.headers["HX-Trigger"])
    assert "enduring-changed" in trigger and "EM-1" in trigger["announce"]
    assert _stored(app, ids["ongoing"]) == (1500, 52, 1)
    summary = parse(client.get("/enduring/2025/summary"))
    assert "1 of 3 enduring materials available in 2025 still needs" in text(summary)


def test_bad_values_come_back_with_a_message_and_422(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, ids["ongoing"], "12.5", "")
    assert resp.status_code == 422
    row = parse(resp)
    errors = [text(e) for e in by_class(row, "error")]
    assert errors == ["Enter a whole number.", "Enter the cumulative total (0 if none)."]
    # What was typed stays in the field.
    assert row.xpath(".//input[@name='physicians']")[0].get("value") == "12.5"
    assert row.xpath(".//input[@aria-invalid='true']")
    assert _stored(app, ids["ongoing"]) is None


def test_a_stale_save_gets_a_conflict_and_overwrites_nothing(app, client, ids):
    login(client, EDITOR)
    # The page was loaded before the 2025 count of EM-2 was saved (version 1 now).
    resp = _post(client, ids["counted"], "99", "9", version="0")
    assert resp.status_code == 409
    body = text(parse(resp))
    assert "Changed by" in body and "while you were editing" in body
    assert "you entered 99 / 9, which was not saved" in body
    assert _stored(app, ids["counted"]) == (30, 3, 1)
    ok = _post(client, ids["counted"], "99", "9", version="1")
    assert ok.status_code == 200
    conflict = _post(client, ids["counted"], "100", "9", version="1")
    assert conflict.status_code == 409
    assert f"Changed by {EDITOR} at Sun Feb 15, 2026, 12:00 PM CST" in text(parse(conflict))


def test_a_decrease_is_saved_with_a_warning(app, client, ids):
    login(client, EDITOR)
    resp = _post(client, ids["ongoing"], "1,100", "40")
    assert resp.status_code == 200
    warning = by_class(parse(resp), "row-warning")
    assert len(warning) == 1
    assert "Lower than the 1,200 physicians of December 31, 2024" in text(warning[0])
    assert _stored(app, ids["ongoing"]) == (1100, 40, 1)
    page = parse(client.get("/enduring/2025"))
    assert by_class(by_id(page, f"snapshot-{ids['ongoing']}"), "row-warning")


def test_the_last_years_count_is_copied_to_the_activity(app, client, ids):
    login(client, EDITOR)
    page = parse(client.get("/enduring/2025"))
    assert "this count becomes its final total" in text(by_id(page, f"snapshot-{ids['ending']}"))
    assert _post(client, ids["ending"], "95", "9").status_code == 200
    with app.app_context():
        a = db.session.get(Activity, ids["ending"])
        assert (a.physician_learners, a.other_learners, a.completeness) == (95, 9, "closable")
    detail = client.get(f"/activities/{ids['ending']}").get_data(as_text=True)
    assert "Ready to close" in detail or "Ready to Close" in detail


def test_a_locked_year_is_read_only_and_refused(app, client, ids):
    with app.app_context():
        db.session.add(YearLock(provider_id=ids["provider"], year=2025))
        db.session.commit()
    login(client, EDITOR)
    doc = parse(client.get("/enduring/2025"))
    assert "2025 report is submitted and locked" in text(by_id(doc, "read-only-reason"))
    assert not doc.xpath("//section[@id='enduring-table']//input[@name='physicians']")
    resp = _post(client, ids["ongoing"], "1500", "50")
    assert resp.status_code == 422
    assert "locked" in text(parse(resp))
    assert _stored(app, ids["ongoing"]) is None


def test_reviewers_read_but_cannot_save(app, client, ids):
    login(client, "reviewer@example.org")
    doc = parse(client.get("/enduring/2025"))
    assert not doc.xpath("//input[@name='physicians']")
    assert "Missing" in _cells(by_id(doc, f"snapshot-{ids['ongoing']}"))[4]
    assert _post(client, ids["ongoing"], "1", "1").status_code == 403


def test_cancel_puts_back_what_is_stored(app, client, ids):
    login(client, EDITOR)
    resp = client.get(f"/enduring/2025/{ids['counted']}/row", headers=HX)
    assert resp.status_code == 200
    row = parse(resp)
    assert row.get("id") == f"snapshot-{ids['counted']}"
    assert row.xpath(".//input[@name='physicians']")[0].get("value") == "30"


def test_without_htmx_the_row_form_still_works(app, client, ids):
    login(client, EDITOR)
    bad = _post(client, ids["ongoing"], "x", "1", headers={}, missing="1")
    assert bad.status_code == 422
    doc = parse(bad)
    assert by_id(doc, "enduring-table") is not None and by_class(doc, "error")
    ok = _post(client, ids["ongoing"], "1300", "41", headers={}, missing="1")
    assert ok.status_code == 303
    assert ok.headers["Location"].endswith(f"/enduring/2025?missing=1#snapshot-{ids['ongoing']}")
    assert _stored(app, ids["ongoing"]) == (1300, 41, 1)


def test_other_providers_materials_and_bad_years_are_not_found(app, client, ids):
    login(client, EDITOR)
    assert client.get(f"/enduring/2025/{ids['foreign']}/row").status_code == 404
    assert _post(client, ids["foreign"], "1", "1").status_code == 404
    assert client.get("/enduring/1800").status_code == 404
    # Not an enduring material of that year: its own page instead.
    resp = client.get(f"/enduring/2030/{ids['ongoing']}/row")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/activities/{ids['ongoing']}"
    )


def _statements(app, client, url: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_the_page_costs_the_same_queries_at_any_size(app, client, ids):
    login(client, EDITOR)
    url = "/enduring/2025"
    _statements(app, client, url)  # warm-up
    small = _statements(app, client, url)
    with app.app_context():
        from pars_app.models import Provider

        p = db.session.get(Provider, ids["provider"])
        for i in range(60):
            em = make_enduring(
                p, date(2024, 1, 1), date(2026, 12, 31), provider_activity_id=f"Z{i}"
            )
            make_snapshot(em, 2024, physicians=10)
            if i % 2:
                make_snapshot(em, 2025, physicians=5)  # a decrease: warnings cost nothing
        db.session.commit()
    large = _statements(app, client, url)
    assert len(rows(parse(client.get(url)), TABLE)) == 50
    assert len(large) == len(small), "\n\n".join(large)
    page2 = parse(client.get(url + "?page=2"))
    assert result_count(page2) == "51–63 of 63"

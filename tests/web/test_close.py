"""Closing one activity from its page, reopening it, and bulk close (with Undo) from the list."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, YearLock
from tests.factories import csrf_token, login, make_activity, make_provider, make_user, utc
from tests.web.html import by_id, parse, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EMAIL = "closer@example.org"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    with app.app_context():
        p = make_provider("CLS")
        make_user(EMAIL, p)
        make_user("reviewer@example.org", p, role="reviewer")
        made = {
            "ready": make_activity(p, title="Complete journal", provider_activity_id="K-1"),
            "ready2": make_activity(p, title="Complete too", provider_activity_id="K-2"),
            "gaps": make_activity(
                p, title="Gaps", provider_activity_id="K-3",
                outcome_competence=False, physician_learners=None,
            ),
            "running": make_activity(
                p, title="Running", provider_activity_id="K-4",
                start_date=date(2026, 2, 1), end_date=date(2026, 2, 28),
            ),
            "closed": make_activity(
                p, title="Closed before", provider_activity_id="K-5", closed_at=utc(2025, 5, 1)
            ),
            "locked": make_activity(
                p, title="In a locked year", provider_activity_id="K-6",
                start_date=date(2024, 3, 1), end_date=date(2024, 3, 31),
            ),
            "locked_closed": make_activity(
                p, title="Closed in a locked year", provider_activity_id="K-7",
                start_date=date(2024, 4, 1), end_date=date(2024, 4, 30), closed_at=utc(2024, 6, 1),
            ),
        }  # fmt: skip
        db.session.add(YearLock(provider_id=p.id, year=2024, locked_at=utc(2025, 2, 1)))
        other = make_provider("ELSE")
        made["theirs"] = make_activity(other, title="Not ours")
        db.session.commit()
        return {key: a.id for key, a in made.items()}


def _signed_in(client, email: str = EMAIL) -> str:
    login(client, email)
    return csrf_token(client, "/activities")


def _closed_at(app, activity_id: int):
    with app.app_context():
        return db.session.get(Activity, activity_id).closed_at


def _actions(app, prefix: str = "activit") -> list[tuple[str, str, int | None]]:
    with app.app_context():
        found = db.session.execute(
            select(AuditEvent.action, AuditEvent.via, AuditEvent.entity_id)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        ).all()
        return [tuple(r) for r in found]


# --- One activity ----------------------------------------------------------------------------


def test_close_from_the_detail_page(app, client, ids):
    token = _signed_in(client)
    page = parse(client.get(f"/activities/{ids['ready']}"))
    form = by_id(page, "close-activity").getparent()
    assert form.get("action") == f"/activities/{ids['ready']}/close"
    resp = client.post(form.get("action"), data={"csrf_token": token})
    assert resp.status_code == 303
    shown = parse(client.get(resp.headers["Location"]))
    assert "Activity K-1 closed." in text(by_id(shown, "flash"))
    banner = shown.xpath("//*[contains(@class, 'closed-banner')]")[0]
    assert text(banner).startswith("Closed") and EMAIL in text(banner)
    assert by_id(shown, "reopen-activity") is not None
    with app.app_context():
        a = db.session.get(Activity, ids["ready"])
        assert a.closed_at == NOW and a.closed_by.email == EMAIL and a.version == 2
    assert _actions(app) == [("activity.closed", "form", ids["ready"])]


def test_a_refused_close_names_each_missing_field(app, client, ids):
    token = _signed_in(client)
    page = parse(client.get(f"/activities/{ids['gaps']}"))
    assert by_id(page, "close-activity") is None  # not offered
    resp = client.post(f"/activities/{ids['gaps']}/close", data={"csrf_token": token})
    assert resp.status_code == 422
    refused = by_id(parse(resp), "close-refused")
    assert [text(li) for li in refused.xpath(".//li")] == [
        "Choose at least one outcome measured: learner competence, learner performance, "
        "patient health, community/population health.",
        "Enter the number of physician learners (0 if none).",
    ]
    assert _closed_at(app, ids["gaps"]) is None
    assert _actions(app) == []


def test_an_activity_that_has_not_ended_cannot_be_closed(app, client, ids):
    token = _signed_in(client)
    resp = client.post(f"/activities/{ids['running']}/close", data={"csrf_token": token})
    assert resp.status_code == 422
    assert [text(li) for li in by_id(parse(resp), "close-refused").xpath(".//li")] == [
        "The activity can be closed after it ends on 02/28/2026."
    ]
    assert _closed_at(app, ids["running"]) is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("closed", "This activity is already closed."),
        ("locked", "The 2024 report is submitted and locked: its activities stay as they are."),
    ],
)
def test_closed_or_locked_activities_are_refused(app, client, ids, key, reason):
    token = _signed_in(client)
    before = _closed_at(app, ids[key])
    resp = client.post(f"/activities/{ids[key]}/close", data={"csrf_token": token})
    assert resp.status_code == 422
    assert text(by_id(parse(resp), "close-refused").xpath(".//li")[0]) == reason
    assert _closed_at(app, ids[key]) == before


def test_reopen_until_the_year_is_locked(app, client, ids):
    token = _signed_in(client)
    resp = client.post(f"/activities/{ids['closed']}/reopen", data={"csrf_token": token})
    assert resp.status_code == 303
    assert _closed_at(app, ids["closed"]) is None
    assert _actions(app) == [("activity.reopened", "form", ids["closed"])]
    with app.app_context():
        assert db.session.get(Activity, ids["closed"]).closed_by_id is None

    page = parse(client.get(f"/activities/{ids['locked_closed']}"))
    assert by_id(page, "reopen-activity") is None
    assert "stays closed unless the year is unlocked" in text(page.xpath("//main")[0])
    resp = client.post(
        f"/activities/{ids['locked_closed']}/reopen",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Not reopened: The 2024 report is submitted and locked" in text(
        by_id(parse(resp), "flash")
    )
    assert _closed_at(app, ids["locked_closed"]) == utc(2024, 6, 1)


def test_readers_and_other_providers_cannot_close(app, client, ids):
    token = _signed_in(client, "reviewer@example.org")
    assert (
        client.post(f"/activities/{ids['ready']}/close", data={"csrf_token": token}).status_code
        == 403
    )
    page = parse(client.get(f"/activities/{ids['ready']}"))
    assert by_id(page, "close-activity") is None
    client.post("/logout", data={"csrf_token": token})
    token = _signed_in(client)
    assert (
        client.post(f"/activities/{ids['theirs']}/close", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(f"/activities/{ids['theirs']}/reopen", data={"csrf_token": token}).status_code
        == 404
    )


# --- Bulk ------------------------------------------------------------------------------------


def _bulk(client, token, hx=True, **form):
    return client.post(
        "/activities/bulk/close", data={"csrf_token": token, **form}, headers=HX if hx else {}
    )


def test_bulk_close_of_a_mixed_selection(app, client, ids):
    token = _signed_in(client)
    chosen = [ids[k] for k in ("ready", "ready2", "gaps", "running", "closed", "locked")]
    resp = _bulk(client, token, ids=[str(i) for i in chosen])
    assert resp.status_code == 200
    events = json.loads(resp.headers["HX-Trigger"])
    assert events == {
        "announce": "Closed 2 activities. 1 was closed already. 3 could not be closed.",
        "activities-changed": True,
    }
    result = parse(resp)
    assert result.get("id") == "bulk-result"
    assert text(result.xpath(".//*[contains(@class, 'bulk-result__summary')]")[0]) == (
        "Closed 2 activities. 1 was closed already. 3 could not be closed:"
    )
    refused = {
        text(li.xpath("./a")[0]): [text(r) for r in li.xpath(".//li")]
        for li in by_id(result, "bulk-refused").xpath("./li")
    }
    assert refused == {
        "K-3": [
            "Choose at least one outcome measured: learner competence, learner performance, "
            "patient health, community/population health.",
            "Enter the number of physician learners (0 if none).",
        ],
        "K-4": ["The activity can be closed after it ends on 02/28/2026."],
        "K-6": ["The 2024 report is submitted and locked: its activities stay as they are."],
    }
    links = by_id(result, "bulk-refused").xpath("./li/a/@href")
    assert f"/activities/{ids['gaps']}" in links
    assert [_closed_at(app, ids[k]) for k in ("ready", "ready2")] == [NOW, NOW]
    assert _closed_at(app, ids["gaps"]) is None and _closed_at(app, ids["locked"]) is None
    actions = _actions(app)
    assert sorted(actions[1:]) == [
        ("activity.closed", "bulk", ids["ready"]),
        ("activity.closed", "bulk", ids["ready2"]),
    ]
    with app.app_context():
        op = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "activities.bulk_closed")
        )
        details = json.loads(op.details)
        assert details["ids"] == sorted([ids["ready"], ids["ready2"]])
        assert (op.via, details["refused"], details["selection"]) == ("bulk", 3, "ids")
    assert by_id(result, "undo-bulk-close").getparent().get("action") == (
        f"/activities/bulk/{op.id}/undo"
    )


def _many(app, n: int, prefix: str, **fields) -> list[int]:
    with app.app_context():
        from pars_app.models import Provider

        p = db.session.scalar(select(Provider).where(Provider.code == "CLS"))
        made = [
            make_activity(
                p,
                title=f"Series {prefix}{i:02d}",
                provider_activity_id=f"{prefix}{i:02d}",
                **fields,
            )
            for i in range(n)
        ]
        db.session.commit()
        return [a.id for a in made]


def test_select_all_matching_sends_the_filter_and_closes_across_pages(app, client, ids):
    complete = _many(app, 60, "M-")
    incomplete = _many(app, 3, "N-", physician_learners=None)
    token = _signed_in(client)
    page = parse(client.get("/activities?q=series&per_page=25"))
    bar = by_id(page, "bulk-bar")
    assert bar.get("data-total") == "63"
    assert text(by_id(page, "select-matching")) == "Select all 63 matching this filter"
    hidden = {i.get("name"): i.get("value") for i in bar.xpath(".//input[@form='bulk']")}
    assert hidden == {"q": "series", "scope": ""}
    # The ticked ids of the page are ignored: the server re-runs the filter.
    resp = _bulk(client, token, q="series", scope="matching", ids=[str(complete[0])])
    assert resp.status_code == 200
    result = parse(resp)
    assert text(result.xpath(".//p")[0]) == "Closed 60 activities. 3 could not be closed:"
    refused = by_id(result, "bulk-refused").xpath("./li/a/@href")
    assert refused == [f"/activities/{i}" for i in incomplete]
    with app.app_context():
        closed = db.session.scalars(select(Activity.id).where(Activity.closed_at == NOW)).all()
        assert sorted(closed) == sorted(complete)
        op = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "activities.bulk_closed")
        )
        assert json.loads(op.details)["selection"] == {"q": "series"}
    assert _closed_at(app, ids["ready"]) is None  # not matched by the filter


def test_a_filter_that_cannot_be_read_is_never_widened(app, client, ids):
    token = _signed_in(client)
    resp = _bulk(client, token, scope="matching", year="twenty", q="complete")
    assert resp.status_code == 422
    assert "The filter could not be read" in text(parse(resp))
    assert "activities-changed" not in json.loads(resp.headers["HX-Trigger"])
    assert _closed_at(app, ids["ready"]) is None


def test_an_empty_selection_is_refused(app, client, ids):
    token = _signed_in(client)
    resp = _bulk(client, token)
    assert resp.status_code == 422
    assert text(parse(resp)) == "Select at least one activity to close."
    assert _bulk(client, token, ids=["abc"]).status_code == 422


def test_another_providers_ids_are_not_closed(app, client, ids):
    token = _signed_in(client)
    resp = _bulk(client, token, ids=[str(ids["theirs"])])
    assert resp.status_code == 200
    assert "Closed 0 activities." in text(parse(resp))
    assert _closed_at(app, ids["theirs"]) is None
    assert _actions(app) == []


def test_undo_reopens_exactly_those_activities_once(app, client, ids):
    token = _signed_in(client)
    resp = _bulk(client, token, ids=[str(ids["ready"]), str(ids["ready2"])])
    undo_url = by_id(parse(resp), "undo-bulk-close").getparent().get("hx-post")
    # Meanwhile K-2 is reopened and closed again by hand: that later close is not undone.
    later = datetime(2026, 2, 15, 18, 5, tzinfo=UTC)
    with time_machine.travel(later, tick=False):  # (the session cookie must not go back)
        client.post(f"/activities/{ids['ready2']}/reopen", data={"csrf_token": token})
        client.post(f"/activities/{ids['ready2']}/close", data={"csrf_token": token})
        undo = client.post(undo_url, data={"csrf_token": token}, headers=HX)
        again = client.post(undo_url, data={"csrf_token": token}, headers=HX)
    assert undo.status_code == 200
    assert json.loads(undo.headers["HX-Trigger"]) == {
        "announce": "Reopened 1 activity.",
        "activities-changed": True,
    }
    result = parse(undo)
    assert result.get("id") == "bulk-result"
    assert "Reopened 1 activity closed by that bulk close." in text(result)
    assert "1 was left as it is: reopened or closed again since." in text(result)
    assert _closed_at(app, ids["ready"]) is None
    assert _closed_at(app, ids["ready2"]) == later
    assert ("activity.reopened", "bulk", ids["ready"]) in _actions(app)
    assert again.status_code == 409
    assert text(parse(again)) == f"This bulk close was already undone by {EMAIL}."


def test_undo_of_another_providers_or_unknown_operation_is_404(app, client, ids):
    with app.app_context():
        other = db.session.get(Activity, ids["theirs"])
        event = AuditEvent(
            action="activities.bulk_closed", provider_id=other.provider_id,
            details=json.dumps({"ids": [other.id]}),
        )  # fmt: skip
        mine = AuditEvent(
            action="activity.created",
            provider_id=db.session.get(Activity, ids["ready"]).provider_id,
        )
        db.session.add_all([event, mine])
        db.session.commit()
        theirs_id, not_bulk_id = event.id, mine.id
    token = _signed_in(client)
    for op in (theirs_id, not_bulk_id, 999_999):
        resp = client.post(f"/activities/bulk/{op}/undo", data={"csrf_token": token}, headers=HX)
        assert resp.status_code == 404


def test_a_reviewer_cannot_bulk_close(app, client, ids):
    token = _signed_in(client, "reviewer@example.org")
    assert _bulk(client, token, ids=[str(ids["ready"])]).status_code == 403
    assert _closed_at(app, ids["ready"]) is None


def test_without_javascript_bulk_close_shows_the_list_with_the_result(app, client, ids):
    token = _signed_in(client)
    resp = _bulk(client, token, hx=False, ids=[str(ids["ready"]), str(ids["gaps"])], year="2025")
    assert resp.status_code == 200
    page = parse(resp)
    assert by_id(page, "activities-table") is not None
    assert "Closed 1 activity." in text(by_id(page, "bulk-result"))
    assert by_id(page, "undo-bulk-close") is not None

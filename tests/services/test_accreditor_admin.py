"""Accreditor acts: deadlines, agreement versions, year unlocks — each audited — and the
audit log's scopes and filters."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import event, func, select

from pars_app.domain.deadlines import CENTRAL, default_deadline
from pars_app.extensions import db
from pars_app.models import AuditEvent, ReportingDeadline, YearLock
from pars_app.services import agreement_admin, audit_log, cycle, deadlines_admin, unlocks
from pars_app.services.agreements import agreement_state
from pars_app.services.audit_log import AuditFilter, AuditScope
from pars_app.services.checklist import checklist_for
from tests.factories import (
    accept_agreement,
    make_accreditor,
    make_provider,
    make_user,
    utc,
)

NOW = utc(2026, 2, 10, 18)


@pytest.fixture
def world(ctx):
    state = make_accreditor("STATE")
    other = make_accreditor("OTHER")
    national = make_accreditor("NAT", national=True)
    p = make_provider("MINE", state)
    q = make_provider("THEIRS", other)
    staff = make_user("staff@state.org", accreditor=state)
    admin = make_user("admin@mine.org", p)
    db.session.commit()
    return dict(state=state, other=other, national=national, p=p, q=q, staff=staff, admin=admin)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- Deadlines ---------------------------------------------------------------------------------


def test_setting_a_deadline_applies_at_once_and_is_audited(world):
    state, p, staff = world["state"], world["p"], world["staff"]
    assert cycle.reporting_deadline(state.id, 2025) == default_deadline(2025)
    deadlines_admin.set_deadline(state, 2025, "2026-03-13", "  Board\nmeeting  ", staff, NOW)
    due = cycle.reporting_deadline(state.id, 2025)
    assert due.astimezone(CENTRAL).isoformat() == "2026-03-13T23:59:00-05:00"
    assert checklist_for(p, 2025, NOW).deadline == due  # the provider sees it now
    row = db.session.scalar(select(ReportingDeadline))
    assert (row.reason, row.set_by_id, row.set_at) == ("Board meeting", staff.id, NOW)
    (event,) = _events("deadline.set")
    assert (event.accreditor_id, event.user_id, event.provider_id) == (state.id, staff.id, None)
    details = json.loads(event.details)
    assert details["before"] == {
        "deadline": "Tuesday, March 31, 2026, 11:59 p.m. Central",
        "source": "ACCME rule",
    }
    assert details["after"]["deadline"] == "Friday, March 13, 2026, 11:59 p.m. Central"


def test_changing_a_deadline_updates_the_one_row_with_before_and_after(world):
    state, staff = world["state"], world["staff"]
    deadlines_admin.set_deadline(state, 2025, "03/13/2026", "Board meeting", staff, NOW)
    deadlines_admin.set_deadline(state, 2025, "2026-04-30", "Extension: storms", staff, NOW)
    assert db.session.scalar(select(func.count(ReportingDeadline.id))) == 1
    last = _events("deadline.set")[-1]
    details = json.loads(last.details)
    assert details["before"]["deadline"].startswith("Friday, March 13, 2026")
    assert details["after"]["deadline"].startswith("Thursday, April 30, 2026")
    assert (details["before"]["reason"], details["after"]["reason"]) == (
        "Board meeting",
        "Extension: storms",
    )
    # Another accreditor's providers keep ACCME's rule.
    assert cycle.reporting_deadline(world["other"].id, 2025) == default_deadline(2025)


@pytest.mark.parametrize(
    ("raw_date", "reason", "field", "message"),
    [
        ("", "x", "due", "Enter the deadline date."),
        ("31/03/2026", "x", "due", "not a real date"),
        ("March 13", "x", "due", "Enter a date as mm/dd/yyyy"),
        ("2025-12-31", "x", "due", "must be a date in 2026"),
        ("2027-01-01", "x", "due", "must be a date in 2026"),
        ("2026-03-13", "   ", "reason", "Give the reason"),
        ("2026-03-13", "x" * 501, "reason", "under 500"),
    ],
)
def test_deadline_refusals_name_the_field(world, raw_date, reason, field, message):
    with pytest.raises(deadlines_admin.DeadlineInvalid) as err:
        deadlines_admin.set_deadline(world["state"], 2025, raw_date, reason, world["staff"], NOW)
    assert message in err.value.errors[field]
    assert db.session.scalar(select(func.count(ReportingDeadline.id))) == 0
    assert _events("deadline.set") == []


def test_deadline_rows_show_the_rule_or_the_stored_date(world):
    state, staff = world["state"], world["staff"]
    deadlines_admin.set_deadline(state, 2025, "2026-03-13", "Board", staff, NOW)
    rows = {r.year: r for r in deadlines_admin.deadline_rows(state, [2024, 2025])}
    assert rows[2024].stored is None and rows[2024].due == rows[2024].rule
    assert rows[2025].due.date() == date(2026, 3, 13) and rows[2025].set_by == "staff@state.org"


# --- Agreement texts ---------------------------------------------------------------------------


def test_publishing_versions_and_who_accepted_which(world):
    state, p, staff, admin = world["state"], world["p"], world["staff"], world["admin"]
    v1 = agreement_admin.publish(state, 2025, " Agreement 2025 ", "Text one", staff, NOW)
    accept_agreement(p, v1, admin, utc(2026, 1, 20))
    db.session.commit()
    assert agreement_state(p, 2025, NOW).needs_acceptance is False
    v2 = agreement_admin.publish(state, 2025, "Agreement 2025", "Text two", staff, NOW)
    assert (v1.version, v2.version, v1.title) == (1, 2, "Agreement 2025")
    assert agreement_state(p, 2025, NOW).needs_acceptance is True  # a new version asks again
    page = agreement_admin.acceptances(state, 2025, v2, 1)
    assert (page.total, page.accepted_latest) == (1, 0)
    (row,) = page.rows
    assert (row.provider.code, row.version, row.accepted_by) == ("MINE", 1, "admin@mine.org")
    assert [t.version for t, _ in agreement_admin.versions(state, 2025)] == [2, 1]
    events = _events("agreement.published")
    assert [json.loads(e.details)["version"] for e in events] == [1, 2]
    assert {e.accreditor_id for e in events} == {state.id}


def test_publishing_refuses_blank_title_or_text(world):
    with pytest.raises(agreement_admin.AgreementInvalid) as err:
        agreement_admin.publish(world["state"], 2025, " ", "", world["staff"], NOW)
    assert set(err.value.errors) == {"title", "body"}
    assert agreement_admin.versions(world["state"], 2025) == []


# --- Unlocks -----------------------------------------------------------------------------------


def _lock(p, year=2025):
    lock = YearLock(provider_id=p.id, year=year, locked_at=utc(2026, 2, 1))
    db.session.add(lock)
    db.session.commit()
    return lock


def test_unlock_records_who_when_why_and_is_audited(world):
    state, p, staff = world["state"], world["p"], world["staff"]
    _lock(p)
    assert cycle.is_year_locked(p.id, 2025)
    lock = unlocks.unlock_year(state, p, 2025, " Fix two\n activities ", staff, NOW)
    assert not cycle.is_year_locked(p.id, 2025)
    assert (lock.unlocked_at, lock.unlocked_by_id, lock.unlock_reason) == (
        NOW,
        staff.id,
        "Fix two activities",
    )
    assert unlocks.latest_lock(p.id, 2025).id == lock.id
    assert unlocks.unlocked_by(lock).email == "staff@state.org"
    (event,) = _events("year.unlocked")
    assert (event.provider_id, event.accreditor_id, event.user_id) == (p.id, state.id, staff.id)
    assert json.loads(event.details)["reason"] == "Fix two activities"


@pytest.mark.parametrize("case", ["no reason", "not locked", "twice", "other accreditor"])
def test_unlock_refusals(world, case):
    state, p, staff = world["state"], world["p"], world["staff"]
    if case != "not locked":
        _lock(p)
    if case == "twice":
        unlocks.unlock_year(state, p, 2025, "first", staff, NOW)
    accreditor = world["other"] if case == "other accreditor" else state
    reason = "" if case == "no reason" else "why"
    with pytest.raises(unlocks.UnlockError):
        unlocks.unlock_year(accreditor, p, 2025, reason, staff, NOW)
    assert len(_events("year.unlocked")) == (1 if case == "twice" else 0)
    if case in ("no reason", "other accreditor"):
        assert cycle.is_year_locked(p.id, 2025)


def test_national_accreditor_may_unlock_any_provider(world):
    _lock(world["q"])
    unlocks.unlock_year(world["national"], world["q"], 2025, "ACCME review", world["staff"], NOW)
    assert not cycle.is_year_locked(world["q"].id, 2025)


# --- Audit log ---------------------------------------------------------------------------------


def _event(action, at, provider=None, accreditor=None, user=None, via="web"):
    db.session.add(
        AuditEvent(
            action=action,
            at=at,
            provider_id=provider.id if provider else None,
            accreditor_id=accreditor.id if accreditor else None,
            user_id=user.id if user else None,
            via=via,
        )
    )


@pytest.fixture
def log(world):
    w = world
    _event("activity.created", utc(2026, 1, 5, 15), provider=w["p"], user=w["admin"])
    _event("activity.closed", utc(2026, 1, 6, 15), provider=w["p"], user=w["admin"], via="import")
    _event("activity.created", utc(2026, 1, 7, 15), provider=w["q"])
    _event("deadline.set", utc(2026, 1, 8, 15), accreditor=w["state"], user=w["staff"])
    _event("deadline.set", utc(2026, 1, 9, 15), accreditor=w["other"])
    _event("account.login", utc(2026, 1, 9, 16), user=w["admin"])
    db.session.commit()
    return w


def _actions(scope, **kw):
    return [
        (r.event.action, r.provider_code)
        for r in audit_log.audit_page(scope, AuditFilter(**kw)).rows
    ]


def test_audit_scopes(log):
    w = log
    assert _actions(AuditScope.for_provider(w["p"].id)) == [
        ("activity.closed", "MINE"),
        ("activity.created", "MINE"),
    ]
    assert _actions(AuditScope.for_accreditor(w["state"])) == [
        ("deadline.set", None),
        ("activity.closed", "MINE"),
        ("activity.created", "MINE"),
    ]
    national = _actions(AuditScope.for_accreditor(w["national"]))
    assert ("activity.created", "THEIRS") in national
    assert ("deadline.set", None) not in national  # another accreditor's own acts
    assert ("account.login", None) not in national
    assert _actions(AuditScope()) == []


def test_audit_filters(log):
    scope = AuditScope.for_accreditor(log["national"])
    assert _actions(scope, provider="theirs") == [("activity.created", "THEIRS")]
    assert _actions(scope, user="ADMIN@") == [
        ("activity.closed", "MINE"),
        ("activity.created", "MINE"),
    ]
    assert _actions(scope, action="activity.clo") == [("activity.closed", "MINE")]
    assert _actions(scope, via="import") == [("activity.closed", "MINE")]
    # Dates are Central calendar days: Jan 6 09:00 Central is in, Jan 7 09:00 is out.
    days = dict(date_from=date(2026, 1, 6), date_to=date(2026, 1, 6))
    assert _actions(scope, **days) == [("activity.closed", "MINE")]
    assert _actions(scope, action="%") == []


def test_audit_page_is_two_queries_and_pages(world):
    for i in range(120):
        _event("activity.updated", utc(2026, 1, 1, 0, i % 60, i // 60), provider=world["p"])
    db.session.commit()
    scope = AuditScope.for_provider(world["p"].id)
    seen = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        page = audit_log.audit_page(scope, AuditFilter(page=3))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert (page.total, page.first, page.last, len(page.rows)) == (120, 101, 120, 20)
    assert len(seen) == 2
    assert len(list(audit_log.export_rows(scope, AuditFilter()))) == 120


def test_parse_filter_reads_and_ignores():
    f = audit_log.parse_filter({"from": "2026-01-05", "to": "nope", "via": "fax", "page": "2"})
    assert (f.date_from, f.date_to, f.via, f.page) == (date(2026, 1, 5), None, "", 2)
    assert len(f.ignored) == 2
    assert f.args() == {"from": "2026-01-05", "page": 2}

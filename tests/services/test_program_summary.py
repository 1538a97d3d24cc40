"""The Program Summary service: computed commercial support, drafts, submission and the lock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import event, select, update
from sqlalchemy.orm.attributes import set_committed_value

from pars_app.extensions import db
from pars_app.models import AuditEvent, ProgramSummary, YearLock
from pars_app.services import activity_edit, clock, cycle, data_version, unlocks
from pars_app.services import program_summary as svc
from tests.factories import (
    make_accreditor,
    make_activity,
    make_provider,
    make_summary,
    make_user,
)

FEB_15 = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
# ACCME's 2025 deadline: Tuesday March 31, 2026, 11:59 p.m. CDT = April 1, 04:59 UTC, and the
# whole of that minute is on time.
LAST_ON_TIME = datetime(2026, 4, 1, 4, 59, 59, 999_999, tzinfo=UTC)
FIRST_LATE = datetime(2026, 4, 1, 5, 0, 0, tzinfo=UTC)

FIGURES = {
    "period_start_month": "1",
    "advertising_exhibit": "12,500",
    "registration_fees": "80000.00",
    "government_grants": "0",
    "private_donations": "$2,000.50",
}
SUBMIT = {**FIGURES, "attest": "yes", "confirm": "yes"}


def _monetary(name: str, cents: int) -> dict:
    return {"name": name, "kind": "monetary", "amount_cents": cents}


def _in_kind(name: str) -> dict:
    return {"name": name, "kind": "in_kind", "in_kind_nature": "facilities_space"}


@pytest.fixture
def world(ctx):
    p = make_provider("SUM")
    user = make_user("coordinator@example.org", p)
    db.session.commit()
    return p, user


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- Commercial support -----------------------------------------------------------------------


def test_commercial_support_adds_up_the_activities_that_ended_in_the_year(world):
    p, _ = world
    supported = dict(commercial_support=True)
    # Ended in 2025: counted, whenever it started.
    make_activity(
        p,
        **supported,
        start_date=date(2024, 11, 1),
        end_date=date(2025, 2, 1),
        supporters=[_monetary("Acme Pharma", 1_000_000), _in_kind("Hall")],
    )
    make_activity(
        p,
        **supported,
        end_date=date(2025, 12, 31),
        start_date=date(2025, 12, 1),
        supporters=[_monetary("Beta Devices", 250_050), _monetary("Gamma Labs", 49_950)],
    )
    make_activity(p, end_date=date(2025, 5, 1), start_date=date(2025, 5, 1))  # no support
    # Supporter rows left under a "No": not what the activity reports, not counted.
    make_activity(
        p,
        commercial_support=False,
        start_date=date(2025, 4, 1),
        end_date=date(2025, 4, 1),
        supporters=[_monetary("Stale", 999_999)],
    )
    # Started in 2025, ends in 2026: 2026's support.
    make_activity(
        p,
        **supported,
        start_date=date(2025, 12, 15),
        end_date=date(2026, 1, 10),
        supporters=[_monetary("Next Year", 777)],
    )
    # Ended in 2024: last year's figure.
    make_activity(
        p,
        **supported,
        start_date=date(2024, 3, 1),
        end_date=date(2024, 3, 2),
        supporters=[_monetary("Old", 500_000), _in_kind("Old hall"), _in_kind("Old kit")],
    )
    # Another provider's activity in the same year never counts.
    other = make_provider("OTHER", make_accreditor())
    make_activity(
        other,
        **supported,
        end_date=date(2025, 6, 1),
        start_date=date(2025, 6, 1),
        supporters=[_monetary("Theirs", 12_345_600)],
    )
    db.session.commit()

    this, last = svc.commercial_support(p.id, 2025)
    assert this == svc.CommercialSupport(
        year=2025,
        activities_ended=4,
        activities_supported=2,
        monetary_cents=1_300_000,
        monetary_sources=3,
        in_kind_sources=1,
    )
    assert last == svc.CommercialSupport(2024, 1, 1, 500_000, 1, 2)
    assert svc.commercial_support(other.id, 2025)[0].monetary_cents == 12_345_600


def test_commercial_support_is_one_query(world):
    p, _ = world
    for i in range(5):
        make_activity(
            p,
            commercial_support=True,
            supporters=[_monetary(f"S{i}", 100), _in_kind(f"K{i}")],
        )
    db.session.commit()
    provider_id = p.id
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        this, _ = svc.commercial_support(provider_id, 2025)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1
    assert (this.monetary_cents, this.in_kind_sources, this.activities_supported) == (500, 5, 5)


def test_no_activities_means_zero_not_an_error(world):
    p, _ = world
    this, last = svc.commercial_support(p.id, 2025)
    assert this == svc.CommercialSupport(2025) and last == svc.CommercialSupport(2024)


# --- Drafts ----------------------------------------------------------------------------------


def test_a_draft_saves_the_figures_and_the_period_and_is_audited(world):
    p, user = world
    values = {**FIGURES, "period_start_month": "7", "private_donations": ""}
    s = svc.save_draft(p, 2025, values, 0, user, FEB_15)
    assert (s.status, s.version) == ("draft", 1)
    assert (s.period_start, s.period_end) == (date(2024, 7, 1), date(2025, 6, 30))
    assert s.advertising_exhibit_cents == 1_250_000
    assert s.registration_fees_cents == 8_000_000
    assert s.government_grants_cents == 0
    assert s.private_donations_cents is None
    (saved,) = _events("summary.saved")
    changes = json.loads(saved.details)["changes"]
    assert changes["advertising_exhibit_cents"] == [None, 1_250_000]
    assert changes["period_start"] == [None, "2024-07-01"]
    assert (saved.user_id, saved.provider_id, saved.entity_id) == (user.id, p.id, s.id)


def test_invalid_figures_save_nothing(world):
    p, user = world
    with pytest.raises(svc.SummaryInvalid) as err:
        svc.save_draft(p, 2025, {**FIGURES, "registration_fees": "-1"}, 0, user, FEB_15)
    assert err.value.errors == {"registration_fees": "Enter 0 or more, not a negative number."}
    db.session.rollback()
    assert db.session.scalar(select(ProgramSummary)) is None
    assert _events("summary.saved") == []


def test_a_stale_version_is_a_conflict_and_overwrites_nothing(world):
    p, user = world
    svc.save_draft(p, 2025, FIGURES, 0, user, FEB_15)
    svc.save_draft(p, 2025, {**FIGURES, "government_grants": "10"}, 1, user, FEB_15)
    with pytest.raises(svc.SummaryConflict) as err:
        svc.save_draft(p, 2025, {**FIGURES, "government_grants": "99"}, 1, user, FEB_15)
    assert err.value.by == "coordinator@example.org"
    assert err.value.current.government_grants_cents == 1_000
    # A form opened before the summary was first saved is stale too.
    with pytest.raises(svc.SummaryConflict):
        svc.save_draft(p, 2025, FIGURES, 0, user, FEB_15)
    db.session.expire_all()
    assert db.session.scalar(select(ProgramSummary.government_grants_cents)) == 1_000


def test_a_save_that_loses_the_race_at_commit_is_a_conflict(world):
    p, user = world
    s = svc.save_draft(p, 2025, FIGURES, 0, user, FEB_15)
    # Someone else's save lands between our version check and our UPDATE: the row is at
    # version 2 while this session still holds version 1, which passes the form's check.
    db.session.execute(
        update(ProgramSummary)
        .where(ProgramSummary.id == s.id)
        .values(version=2, government_grants_cents=4_200)
        .execution_options(synchronize_session=False)
    )
    data_version.touch(p.id)  # as the other save would
    db.session.commit()
    set_committed_value(s, "version", 1)
    with pytest.raises(svc.SummaryConflict) as err:
        svc.save_draft(p, 2025, {**FIGURES, "government_grants": "1"}, 1, user, FEB_15)
    assert err.value.current.government_grants_cents == 4_200


def test_saving_before_january_first_is_refused(world):
    p, user = world
    with pytest.raises(svc.SummaryRefused, match="opens on January 1, 2026"):
        svc.save_draft(p, 2025, FIGURES, 0, user, datetime(2026, 1, 1, 5, 59, tzinfo=UTC))
    # Midnight Central on January 1 (06:00 UTC): open.
    assert svc.save_draft(p, 2025, FIGURES, 0, user, datetime(2026, 1, 1, 6, tzinfo=UTC))


# --- Submitting and the lock -----------------------------------------------------------------


def test_submit_records_who_and_when_and_locks_the_year(world):
    p, user = world
    ended = make_activity(p, start_date=date(2025, 6, 1), end_date=date(2025, 6, 2))
    running = make_activity(p, start_date=date(2025, 12, 1), end_date=date(2026, 2, 1))
    db.session.commit()
    s = svc.submit(p, 2025, SUBMIT, 0, user, FEB_15)
    assert (s.status, s.attested, s.submitted_at, s.submitted_by_id) == (
        "submitted",
        True,
        FEB_15,
        user.id,
    )
    assert s.submitted_late is False
    lock = db.session.scalar(select(YearLock))
    assert (lock.year, lock.locked_at, lock.locked_by_id, lock.unlocked_at) == (
        2025,
        FEB_15,
        user.id,
        None,
    )
    assert cycle.is_year_locked(p.id, 2025)
    # The lock is what every other writer asks: an activity that ended in 2025 is read-only,
    # one that ends in 2026 is not.
    assert "2025 report is submitted and locked" in activity_edit.edit_refusal(ended)
    assert activity_edit.edit_refusal(running) is None
    assert [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        "summary.saved",
        "summary.submitted",
        "year.locked",
    ]
    submitted = json.loads(_events("summary.submitted")[0].details)
    assert submitted["late"] is False and submitted["open_steps"]
    # Locked: neither a draft nor another submission goes through.
    with pytest.raises(svc.SummaryRefused, match="submitted and locked"):
        svc.save_draft(p, 2025, FIGURES, s.version, user, FEB_15)
    with pytest.raises(svc.SummaryRefused, match="submitted and locked"):
        svc.submit(p, 2025, SUBMIT, s.version, user, FEB_15)


def test_submit_needs_every_figure_and_the_attestation(world):
    p, user = world
    values = {**FIGURES, "private_donations": "", "government_grants": "abc", "confirm": "yes"}
    with pytest.raises(svc.SummaryInvalid) as err:
        svc.submit(p, 2025, values, 0, user, FEB_15)
    assert err.value.errors == {
        "private_donations": "Enter the amount; enter 0 if there was none.",
        "government_grants": "Enter an amount in dollars.",  # its own message, not "enter it"
        "attest": "Tick the box to attest that the year's data are complete.",
    }
    db.session.rollback()
    assert not cycle.is_year_locked(p.id, 2025)


def test_submit_with_other_steps_open_asks_for_confirmation(world):
    p, user = world
    open_steps = svc.other_open_steps(p, 2025, FEB_15)
    # A new provider: no agreement, no activities, no contact review.
    assert [s.key for s in open_steps] == ["agreement", "activities", "contacts"]
    with pytest.raises(svc.SummaryInvalid) as err:
        svc.submit(p, 2025, {**FIGURES, "attest": "yes"}, 0, user, FEB_15)
    assert err.value.errors == {
        "confirm": "3 other steps are not done: tick “Submit anyway” to go ahead."
    }
    db.session.rollback()
    assert svc.submit(p, 2025, SUBMIT, 0, user, FEB_15).status == "submitted"


def _submit_at(world, moment: datetime) -> ProgramSummary:
    p, user = world
    with time_machine.travel(moment, tick=False):
        return svc.submit(p, 2025, SUBMIT, 0, user, clock.now())


def test_a_submission_in_the_deadlines_last_second_is_on_time(world):
    s = _submit_at(world, LAST_ON_TIME)
    assert s.submitted_late is False
    assert json.loads(_events("summary.submitted")[0].details)["late"] is False


def test_a_submission_in_the_first_late_second_is_recorded_late(world):
    s = _submit_at(world, FIRST_LATE)
    assert s.submitted_late is True
    assert json.loads(_events("summary.submitted")[0].details)["late"] is True


def test_an_accreditors_earlier_deadline_decides_lateness(ctx):
    from pars_app.domain.deadlines import deadline_from_local
    from pars_app.models import ReportingDeadline

    cma = make_accreditor("CMA-T")
    p = make_provider("WEST-T", cma)
    user = make_user("w@example.org", p)
    db.session.add(
        ReportingDeadline(
            accreditor_id=cma.id, year=2025, due_at=deadline_from_local(date(2026, 3, 14))
        )
    )
    db.session.commit()
    # March 20: on time for ACCME's rule, late for CMA's March 14.
    s = svc.submit(p, 2025, SUBMIT, 0, user, datetime(2026, 3, 20, 15, tzinfo=UTC))
    assert s.submitted_late is True


def test_unlock_then_correct_and_submit_again_relocks_the_year(world):
    p, user = world
    staff = make_user("staff@example.org", accreditor=p.accreditor)
    db.session.commit()
    late_first = svc.submit(p, 2025, SUBMIT, 0, user, FIRST_LATE)
    unlocks.unlock_year(
        p.accreditor, p, 2025, "Fix two courses", staff, datetime(2026, 4, 10, tzinfo=UTC)
    )
    assert not cycle.is_year_locked(p.id, 2025)
    state = svc.summary_state(p, 2025, datetime(2026, 4, 11, tzinfo=UTC))
    assert state.editable and state.lock.unlock_reason == "Fix two courses"
    # A correction is not what was submitted: back to a draft until submitted again.
    s = svc.save_draft(
        p, 2025, {**FIGURES, "government_grants": "5"}, late_first.version, user, FEB_15
    )
    assert s.status == "draft"
    again = datetime(2026, 4, 12, 15, tzinfo=UTC)
    s = svc.submit(p, 2025, {**SUBMIT, "government_grants": "5"}, s.version, user, again)
    assert (s.status, s.submitted_at, s.government_grants_cents) == ("submitted", again, 500)
    # The year's report was late the first time; a correction does not change that verdict.
    assert s.submitted_late is True
    locks = db.session.scalars(select(YearLock).order_by(YearLock.id)).all()
    assert [(lk.unlocked_at is None) for lk in locks] == [False, True]
    assert locks[1].locked_at == again
    assert cycle.is_year_locked(p.id, 2025)
    assert len(_events("year.locked")) == 2


def test_state_shows_the_prior_year_and_its_swings(world):
    p, user = world
    prior = make_summary(p, 2024, submitted_at=datetime(2025, 2, 1, tzinfo=UTC))
    prior.advertising_exhibit_cents = 1_000_000
    prior.registration_fees_cents = 8_000_000
    prior.government_grants_cents = 0
    db.session.commit()
    svc.save_draft(p, 2025, FIGURES, 0, user, FEB_15)
    state = svc.summary_state(p, 2025, FEB_15)
    assert state.previous.id == prior.id
    rows = {r.field.name: r for r in svc.figure_rows(state)}
    assert rows["advertising_exhibit"].text == "12,500.00"
    assert rows["advertising_exhibit"].swing is None  # +25 %
    assert rows["registration_fees"].swing is None  # unchanged
    assert rows["government_grants"].swing is None  # 0 -> 0
    assert rows["private_donations"].swing is None  # no prior figure
    typed = {**FIGURES, "advertising_exhibit": "20,000", "government_grants": "1"}
    rows = {r.field.name: r for r in svc.figure_rows(state, typed)}
    assert rows["advertising_exhibit"].swing == "Up 100% on $10,000.00 in 2024: check this figure."
    assert rows["government_grants"].swing == "Up from $0.00 in 2024: check this figure."

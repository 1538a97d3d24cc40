"""The accreditor overview: the same checklist as each provider's own dashboard, computed for
all providers at once with a number of queries that does not grow with the provider count."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from pars_app.domain.checklist import StepState
from pars_app.domain.deadlines import deadline_from_local
from pars_app.extensions import db
from pars_app.models import (
    AgreementText,
    AuditEvent,
    ContactReview,
    ProgramSummary,
    Provider,
    ReportingDeadline,
    YearLock,
)
from pars_app.services import checklist, oversight
from pars_app.services.oversight import OverviewFilter, parse_filter
from tests.factories import (
    accept_agreement,
    make_accreditor,
    make_activity,
    make_agreement,
    make_contact_review,
    make_enduring,
    make_provider,
    make_snapshot,
    make_summary,
    make_user,
    utc,
)

NOW = utc(2026, 4, 10, 15)  # after ACCME's 2025 deadline (March 31, 2026)


@contextmanager
def count_queries():
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def _seed_provider(acc, i: int, texts: dict):
    """Provider number i, in one of six shapes that exercise every step and state."""
    p = make_provider(f"P{i:03d}", acc)
    p.name = f"Provider {i:03d}"
    user = make_user(provider=p)
    shape = i % 6
    if shape in (0, 1, 2):
        # Accepted: the latest version (0, 1) or only version 1 of two (2: asked again).
        text = texts[acc.id][0] if shape == 2 and len(texts[acc.id]) > 1 else texts[acc.id][-1]
        accept_agreement(p, text, user, utc(2026, 1, 10 + shape, 15))
    if shape != 3:
        make_activity(p, end_date=date(2025, 5, 1), closed_at=utc(2025, 6, 1))
    if shape in (1, 4):
        make_activity(p, end_date=date(2025, 6, 1))  # ended, not closed
    if shape in (0, 1, 5):
        em = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31))
        if shape != 5:
            make_snapshot(em, 2025)
    if shape in (0, 2):
        db.session.add(
            ProgramSummary(
                provider_id=p.id,
                year=2025,
                period_start=date(2025, 1, 1),
                period_end=date(2025, 12, 31),
                status="submitted",
                submitted_at=utc(2026, 2, 1),
            )
        )
        db.session.add(YearLock(provider_id=p.id, year=2025, locked_at=utc(2026, 2, 1)))
    reviewed = {0: utc(2026, 1, 3), 1: utc(2025, 11, 3), 2: utc(2026, 1, 4)}.get(shape)
    if reviewed:
        db.session.add(
            ContactReview(provider_id=p.id, reviewed_at=reviewed, reviewed_by_id=user.id)
        )
        db.session.add(ContactReview(provider_id=p.id, reviewed_at=utc(2024, 1, 1)))
    if shape == 4:
        at = utc(2026, 3, 1 + i % 28)
        db.session.add(AuditEvent(action="activity.updated", provider_id=p.id, at=at))
    return p


def _seed(n: int, start: int = 0, accreditors=None):
    """Providers start..n-1: most under a national accreditor, every fourth under a state one
    with an earlier deadline and a second agreement version. Returns (national, state, list)."""
    if accreditors is None:
        national = make_accreditor("NAT", national=True)
        state = make_accreditor("STATE")
        due = deadline_from_local(date(2026, 3, 13))
        db.session.add(ReportingDeadline(accreditor_id=state.id, year=2025, due_at=due))
        make_agreement(national, 2025)
        make_agreement(state, 2025, 1)
        make_agreement(state, 2025, 2)
    else:
        national, state = accreditors
    texts = {
        acc.id: sorted(
            db.session.scalars(
                db.select(AgreementText).where(AgreementText.accreditor_id == acc.id)
            ),
            key=lambda t: t.version,
        )
        for acc in (national, state)
    }
    providers = [
        _seed_provider(state if i % 4 == 0 else national, i, texts) for i in range(start, n)
    ]
    db.session.commit()
    return national, state, providers


def test_each_row_is_the_providers_own_checklist(ctx):
    national, _, providers = _seed(12)
    f = OverviewFilter(year=2025)
    rows = {r.id: r for r in oversight.matching_rows(national, f, NOW)}
    assert set(rows) == {p.id for p in providers}
    for p in providers:
        assert rows[p.id].checklist == checklist.checklist_for(p, 2025, NOW), p.code
    # The shapes really differ: some done, some late, some still open on each step.
    states = {
        s.key: {r.step(s.key).state for r in rows.values()}
        for s in rows[providers[0].id].checklist.steps
    }
    assert all(len(v) == 2 for v in states.values()), states
    assert {r.checklist.late for r in rows.values()} == {True, False}


def test_also_right_before_the_cycle_opens_and_for_a_year_without_data(ctx):
    national, _, providers = _seed(6)
    before = utc(2025, 11, 20, 15)
    for year, now in ((2025, before), (2024, NOW), (2026, NOW)):
        rows = {r.id: r for r in oversight.matching_rows(national, OverviewFilter(year=year), now)}
        for p in providers:
            assert rows[p.id].checklist == checklist.checklist_for(p, year, now), (year, p.code)


@pytest.mark.parametrize("f", [OverviewFilter(year=2025), OverviewFilter(year=2025, state="late")])
def test_query_count_does_not_grow_with_the_number_of_providers(ctx, f):
    counts = []
    accreditors = None
    for start, n in ((0, 3), (3, 30)):
        national, state, _ = _seed(n, start, accreditors)
        accreditors = (national, state)
        db.session.expire_all()
        with count_queries() as seen:
            page = oversight.overview(national, f, NOW)
        assert page.total == (n if not f.state else len(page.rows)), "wrong provider count"
        assert page.rows, "the overview found nothing to show"
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 13


def test_state_accreditor_sees_only_its_providers_and_its_deadline(ctx):
    national, state, providers = _seed(9)
    rows = oversight.matching_rows(state, OverviewFilter(year=2025), NOW)
    mine = {p.id for p in providers if p.accreditor_id == state.id}
    assert {r.id for r in rows} == mine
    assert {r.checklist.deadline.date() for r in rows} == {date(2026, 3, 13)}
    assert oversight.provider_in_scope(state, providers[1].id) is None  # a national provider
    assert oversight.provider_in_scope(state, providers[0].id) is not None
    assert oversight.provider_in_scope(national, providers[0].id) is not None


def test_filters_late_not_done_done_and_step(ctx):
    national, _, _ = _seed(12)

    def codes(**kw):
        return [
            r.code for r in oversight.matching_rows(national, OverviewFilter(year=2025, **kw), NOW)
        ]

    every = oversight.matching_rows(national, OverviewFilter(year=2025), NOW)
    late = codes(state="late")
    assert late and late == [r.code for r in every if r.checklist.late]
    assert codes(state="done") == [r.code for r in every if r.checklist.complete]
    assert codes(state="not_done") == [r.code for r in every if not r.checklist.complete]
    assert codes(step="enduring") == [r.code for r in every if r.step("enduring").left]
    assert codes(step="enduring") == ["P005", "P011"]
    assert codes(step="agreement") == [r.code for r in every if r.step("agreement").state != "done"]


def _edge_providers():
    """Providers one fact away from another step state, at the edges of each rule: the SQL
    filters must put each where its own checklist does."""
    national = make_accreditor("NAT", national=True)
    later = make_accreditor("LATER")  # its 2025 deadline is after NOW: nobody of it is late
    db.session.add(
        ReportingDeadline(
            accreditor_id=later.id, year=2025, due_at=deadline_from_local(date(2026, 4, 30))
        )
    )
    texts = {acc.id: make_agreement(acc, 2025) for acc in (national, later)}
    opens = deadline_from_local(date(2025, 12, 31)) + timedelta(minutes=1)  # Jan 1, 00:00 CT

    def provider(code: str, acc=national, reviewed=opens, **skip):
        p = make_provider(code, acc)
        user = make_user(provider=p)
        if not skip.get("agreement"):
            accept_agreement(p, texts[acc.id], user, utc(2026, 1, 10))
        if not skip.get("activities"):
            make_activity(p, end_date=date(2025, 5, 1), closed_at=utc(2025, 6, 1))
        em = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31))
        if not skip.get("enduring"):
            make_snapshot(em, 2025)
        if not skip.get("summary"):
            make_summary(p, 2025, submitted_at=utc(2026, 2, 1))
        make_contact_review(p, reviewed, user)
        return p

    provider("E00")  # complete, reviewed at the very minute the cycle opened
    provider("E01", reviewed=opens - timedelta(seconds=1))  # reviewed just before: not done
    for step in ("agreement", "activities", "enduring", "summary"):
        provider(f"E-{step}", **{step: True})
    p = provider("E-open", acc=national)
    make_activity(p, start_date=date(2024, 12, 1), end_date=date(2025, 1, 2))  # ended, open
    p = provider("E-only-2024", activities=True)  # its one closed activity started in 2024
    make_activity(p, start_date=date(2024, 12, 1), end_date=date(2025, 1, 2), closed_at=NOW)
    p = provider("E-bad-format", activities=True)  # a format PARS does not know is not counted
    make_activity(p, format="XX", end_date=date(2025, 5, 1), closed_at=utc(2025, 6, 1))
    p = provider("E-em-gone")  # enduring materials outside 2025 need no 2025 count
    make_enduring(p, date(2023, 1, 1), date(2024, 12, 31))
    make_enduring(p, date(2026, 1, 1), date(2026, 12, 31))
    provider("L-incomplete", acc=later, summary=True)
    provider("L-done", acc=later)
    p = provider("E-changed", summary=True)
    p.last_activity_at = utc(2026, 3, 2)
    db.session.add(AuditEvent(action="activity.updated", provider_id=p.id, at=utc(2026, 3, 1)))
    db.session.commit()
    return national


def test_sql_filters_and_sorts_agree_with_each_rows_checklist(ctx):
    national = _edge_providers()
    every = oversight.matching_rows(national, OverviewFilter(year=2025), NOW)
    by_code = {r.code: r for r in every}
    for p in db.session.scalars(db.select(Provider)):
        assert by_code[p.code].checklist == checklist.checklist_for(p, 2025, NOW), p.code
    assert by_code["E00"].checklist.complete and not by_code["E01"].checklist.complete
    assert by_code["E-em-gone"].checklist.complete
    assert by_code["L-incomplete"].checklist.late is False
    assert by_code["E-changed"].last_change_at == utc(2026, 3, 2)
    states = {
        "late": lambda r: r.checklist.late,
        "not_done": lambda r: not r.checklist.complete,
        "done": lambda r: r.checklist.complete,
        "": lambda r: True,
    }
    for state, wanted in states.items():
        for step in oversight.STEP_FILTERS:
            f = OverviewFilter(year=2025, state=state, step=step)
            expected = [
                r.code
                for r in every
                if wanted(r) and not (step and r.step(step).state is StepState.DONE)
            ]
            got = oversight.matching_rows(national, f, NOW)
            assert [r.code for r in got] == expected, (state, step)
            page = oversight.overview(national, f, NOW)
            assert (page.total, [r.code for r in page.rows]) == (len(expected), expected)
    assert {r.code for r in every if r.checklist.late} == {
        "E01",
        "E-agreement",
        "E-activities",
        "E-enduring",
        "E-summary",
        "E-open",
        "E-only-2024",
        "E-changed",
        "E-bad-format",
    }
    keys = {
        "done": lambda r: r.checklist.done_count,
        "days_left": lambda r: r.checklist.days_left,
        "last_change": lambda r: r.last_change_at or utc(1970, 1, 1),
    }
    for sort, key in keys.items():
        for direction in ("asc", "desc"):
            f = OverviewFilter(year=2025, sort=sort, dir=direction)
            got = [r.code for r in oversight.matching_rows(national, f, NOW)]
            ordered = sorted(
                every, key=lambda r: (key(r), r.name.lower(), r.id), reverse=direction == "desc"
            )
            assert got == [r.code for r in ordered], (sort, direction)


def test_activities_still_running_today_have_not_ended(ctx):
    # In the year under way, an activity ending today is not "ended and open"; yesterday is.
    national = make_accreditor("NAT", national=True)
    today, yesterday = make_provider("TODAY", national), make_provider("YESTERDAY", national)
    make_activity(today, start_date=date(2026, 1, 5), end_date=date(2026, 4, 10))
    make_activity(yesterday, start_date=date(2026, 1, 5), end_date=date(2026, 4, 9))
    db.session.commit()
    f = OverviewFilter(year=2026, step="activities")
    assert [r.code for r in oversight.matching_rows(national, f, NOW)] == ["YESTERDAY"]
    every = oversight.matching_rows(national, OverviewFilter(year=2026), NOW)
    assert {r.code: r.step("activities").left for r in every} == {"TODAY": 0, "YESTERDAY": 1}


def test_sorts_and_search(ctx):
    national, _, _ = _seed(12)

    def rows(**kw):
        return oversight.matching_rows(national, OverviewFilter(year=2025, **kw), NOW)

    done = [r.checklist.done_count for r in rows(sort="done")]
    assert done == sorted(done) and len(set(done)) > 1
    assert [r.checklist.done_count for r in rows(sort="done", dir="desc")] == sorted(
        done, reverse=True
    )
    days = [r.checklist.days_left for r in rows(sort="days_left")]
    assert days == sorted(days) and days[0] < days[-1]  # the state's earlier deadline first
    changed = rows(sort="last_change", dir="desc")
    assert [r.code for r in changed[:2]] == ["P010", "P004"]  # the two with audit events
    assert changed[0].last_change_at == utc(2026, 3, 11)
    assert [r.code for r in rows(q="p00")][:3] == ["P000", "P001", "P002"]
    assert [r.code for r in rows(q="provider 011")] == ["P011"]
    assert [r.code for r in rows(q="%")] == []  # LIKE wildcards are literal


def test_pages_are_cut_after_sorting(ctx):
    national, _, providers = _seed(60)
    first = oversight.overview(national, OverviewFilter(year=2025), NOW)
    second = oversight.overview(national, OverviewFilter(year=2025, page=2), NOW)
    assert first.total == 60 and (first.first, first.last, first.pages) == (1, 50, 2)
    assert [r.code for r in first.rows + second.rows] == sorted(p.code for p in providers)
    far = oversight.overview(national, OverviewFilter(year=2025, page=99), NOW)
    assert far.page == 2 and far.rows == second.rows
    # A computed sort: every provider's facts first, then the page is cut.
    by_done = OverviewFilter(year=2025, sort="done", page=2)
    every = oversight.matching_rows(national, by_done, NOW)
    assert [r.code for r in oversight.overview(national, by_done, NOW).rows] == [
        r.code for r in every[50:]
    ]
    backwards = oversight.overview(
        national, OverviewFilter(year=2025, sort="code", dir="desc"), NOW
    )
    assert backwards.rows[0].code == "P059"


def test_accreditor_acts_do_not_count_as_the_providers_last_change(ctx):
    national, _, providers = _seed(3)
    p = providers[1]
    db.session.add(AuditEvent(action="year.unlocked", provider_id=p.id, accreditor_id=national.id))
    db.session.commit()
    rows = {r.id: r for r in oversight.matching_rows(national, OverviewFilter(year=2025), NOW)}
    assert rows[p.id].last_change_at is None
    db.session.add(AuditEvent(action="activity.created", provider_id=p.id, at=utc(2026, 4, 1)))
    db.session.commit()
    rows = {r.id: r for r in oversight.matching_rows(national, OverviewFilter(year=2025), NOW)}
    assert rows[p.id].last_change_at == utc(2026, 4, 1)
    assert rows[p.id].last_change_at.tzinfo is not None


def test_lock_state_per_provider(ctx):
    national, _, providers = _seed(6)
    db.session.add(
        YearLock(
            provider_id=providers[3].id, year=2025, unlocked_at=utc(2026, 3, 1), unlock_reason="x"
        )
    )
    db.session.commit()
    rows = {
        r.code: r.lock for r in oversight.matching_rows(national, OverviewFilter(year=2025), NOW)
    }
    assert rows == {
        "P000": "locked",
        "P001": "",
        "P002": "locked",
        "P003": "unlocked",
        "P004": "",
        "P005": "",
    }


def test_parse_filter_ignores_unknown_values_with_a_note():
    f = parse_filter(
        {
            "year": "20x5",
            "state": "gone",
            "step": "summary",
            "sort": "nope",
            "page": "0",
            "q": "a\x00b",
        },
        2025,
    )
    assert (f.year, f.state, f.step, f.sort, f.page, f.q) == (2025, "", "summary", "name", 1, "ab")
    assert len(f.ignored) == 4
    assert f.args() == {"year": 2025, "step": "summary", "q": "ab"}
    assert f.args(page=3, dir="desc") == {
        "year": 2025,
        "step": "summary",
        "q": "ab",
        "dir": "desc",
        "page": 3,
    }


def test_overview_year_is_last_year_all_year_round():
    # Central dates: 5:30 a.m. UTC on January 1 is still December 31 in Chicago.
    assert oversight.overview_year(utc(2026, 1, 1, 5, 30)) == 2024
    assert oversight.overview_year(utc(2026, 1, 1, 6, 30)) == 2025
    assert oversight.overview_year(utc(2026, 4, 10)) == 2025  # deadline passed: chase the late
    assert oversight.overview_year(utc(2026, 12, 31, 12)) == 2025


def test_remembered_completeness_follows_every_change(ctx):
    """The filters remember each provider's "complete" under its data version, today and its
    accreditor's latest agreement text (services/data_version.py): a change to any of the
    three shows on the next view, and the answer is always the rows' own checklists'."""
    national, _, providers = _seed(12)
    p = next(q for q in providers if q.code == "P006")  # shape 0 under ACCME: complete

    def codes(state: str, now=NOW) -> list[str]:
        f = OverviewFilter(year=2025, state=state)
        return [r.code for r in oversight.matching_rows(national, f, now)]

    def agrees(now=NOW) -> None:
        every = oversight.matching_rows(national, OverviewFilter(year=2025), now)
        assert codes("done", now) == [r.code for r in every if r.checklist.complete]
        assert codes("late", now) == [r.code for r in every if r.checklist.late]

    assert "P006" in codes("done") and "P006" not in codes("late")
    # Its data changes: an activity that ended in 2025 and is not closed.
    a = make_activity(p, end_date=date(2025, 9, 1))
    db.session.commit()
    assert "P006" in codes("late") and "P006" not in codes("done")
    agrees()
    a.closed_at = utc(2026, 4, 1)
    db.session.commit()
    assert "P006" in codes("done")
    # The calendar moves on: an activity still running on one view has ended by the next.
    make_activity(p, start_date=date(2025, 12, 1), end_date=date(2025, 12, 25))
    db.session.commit()
    running, ended = utc(2025, 12, 20, 15), utc(2025, 12, 28, 15)
    assert "P006" in codes("done", running) and "P006" not in codes("done", ended)
    agrees(running)
    agrees(ended)
    # ACCME publishes a second version of the agreement: everyone under it is asked again.
    make_agreement(p.accreditor, 2025, 2)
    db.session.commit()
    assert not [
        c
        for c in codes("done")
        if c in {q.code for q in providers if q.accreditor_id == p.accreditor_id}
    ]
    agrees()

"""The checklist service counts what the spec says, with a fixed number of queries."""

from datetime import date

import time_machine
from sqlalchemy import event

from pars_app.extensions import db
from pars_app.models import ContactReview, ProgramSummary, YearLock
from pars_app.services.checklist import checklist_for, late_checklist
from tests.factories import (
    accept_agreement,
    make_activity,
    make_agreement,
    make_provider,
    make_snapshot,
    make_user,
    utc,
)

NOW = utc(2026, 2, 10, 18)


def _steps(provider, year=2025):
    c = checklist_for(provider, year, NOW)
    return c, {s.key: s for s in c.steps}


def test_counts_each_step_from_the_data(ctx):
    p = make_provider()
    other = make_provider(accreditor=p.accreditor)
    user = make_user(provider=p)
    # Activities step: 3 ended in 2025, 1 closed; one ending 2026 does not count as ended.
    make_activity(p, end_date=date(2025, 5, 1), closed_at=utc(2025, 6, 1))
    make_activity(p, end_date=date(2025, 6, 1))
    make_activity(p, start_date=date(2025, 12, 1), end_date=date(2025, 12, 31))
    make_activity(p, start_date=date(2025, 12, 1), end_date=date(2026, 1, 15))
    make_activity(other, end_date=date(2025, 6, 1))  # another provider's never counts
    # Enduring step: 3 available in 2025 (one from 2024, one into 2027), 1 has its count.
    em = dict(format="EM", delivery="internet")
    a = make_activity(p, start_date=date(2024, 3, 1), end_date=date(2026, 2, 28), **em)
    make_activity(p, start_date=date(2025, 9, 1), end_date=date(2027, 8, 31), **em)
    make_activity(p, start_date=date(2025, 1, 1), end_date=date(2025, 12, 31), **em)
    make_activity(p, start_date=date(2022, 1, 1), end_date=date(2024, 12, 31), **em)  # gone
    make_snapshot(a, 2025)
    make_snapshot(a, 2024)
    text = make_agreement(p.accreditor, 2025)
    accept_agreement(p, text, user, utc(2026, 1, 5, 15))
    db.session.commit()

    c, steps = _steps(p)
    assert steps["activities"].left == 3
    assert steps["activities"].summary == "3 activities ended in 2025 and are not closed"
    assert sum(1 for line in steps["activities"].details if line.startswith("Journal")) == 1
    assert steps["enduring"].left == 2
    assert steps["agreement"].state == "done"
    assert steps["summary"].state == "todo"
    assert steps["contacts"].state == "todo"
    assert not c.late and c.days_left > 0


def test_a_new_agreement_version_asks_again(ctx):
    p = make_provider()
    user = make_user(provider=p)
    v1 = make_agreement(p.accreditor, 2025, version=1)
    accept_agreement(p, v1, user, utc(2026, 1, 5))
    db.session.commit()
    assert _steps(p)[1]["agreement"].state == "done"
    make_agreement(p.accreditor, 2025, version=2)
    db.session.commit()
    assert _steps(p)[1]["agreement"].state == "todo"


def test_summary_and_contacts_done_only_inside_the_cycle(ctx):
    p = make_provider()
    make_activity(p, closed_at=utc(2025, 4, 1))
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
    # A review in December 2025 is too early for the 2025 cycle (spec §3: on or after Jan 1).
    db.session.add(ContactReview(provider_id=p.id, reviewed_at=utc(2025, 12, 20)))
    db.session.commit()
    steps = _steps(p)[1]
    assert steps["summary"].state == "done"
    assert steps["contacts"].state == "todo"
    db.session.add(ContactReview(provider_id=p.id, reviewed_at=utc(2026, 1, 2, 12)))
    db.session.commit()
    assert _steps(p)[1]["contacts"].state == "done"


def test_zero_activities_is_flagged(ctx):
    p = make_provider()
    db.session.commit()
    step = _steps(p)[1]["activities"]
    assert step.state == "todo"
    assert "No activities" in step.summary


def test_late_after_deadline(ctx):
    p = make_provider()
    db.session.commit()
    c = checklist_for(p, 2025, utc(2026, 4, 1, 5, 0))  # 00:00 CDT April 1: one minute late
    assert c.late and c.days_left < 0
    c = checklist_for(p, 2025, utc(2026, 4, 1, 4, 59, 59))  # 23:59:59 CDT March 31
    assert not c.late


def test_query_count_does_not_grow_with_data(ctx):
    p = make_provider()
    db.session.commit()

    def count_queries() -> int:
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            checklist_for(p, 2025, NOW)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    small = count_queries()
    for i in range(40):
        make_activity(p, format="EM" if i % 3 else "C", delivery="internet" if i % 3 else None)
    db.session.commit()
    db.session.expire_all()
    assert count_queries() == small


@time_machine.travel(utc(2026, 11, 25, 18), tick=False)
def test_default_reporting_year_follows_the_deadline(ctx):
    from pars_app.services.cycle import default_year

    p = make_provider()
    db.session.commit()
    assert default_year(p, utc(2026, 3, 31, 12)) == 2025
    assert default_year(p, utc(2026, 4, 1, 5, 0)) == 2026


def test_late_checklist_is_the_checklist_when_late_and_nothing_otherwise(ctx):
    # One provider per way a finished year can still be unfinished, plus a finished one.
    acc = make_provider().accreditor
    text = make_agreement(acc, 2025)
    shapes = {}
    for gap in ("none", "agreement", "activities", "enduring", "summary", "contacts"):
        p = make_provider(accreditor=acc)
        user = make_user(provider=p)
        if gap != "agreement":
            accept_agreement(p, text, user, utc(2026, 1, 5, 15))
        make_activity(p, end_date=date(2025, 5, 1), closed_at=None if gap == "activities" else NOW)
        em = make_activity(
            p,
            format="EM",
            delivery="internet",
            start_date=date(2025, 1, 1),
            end_date=date(2026, 6, 30),
        )
        if gap != "enduring":
            make_snapshot(em, 2025)
        if gap != "summary":
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
        if gap != "contacts":
            db.session.add(ContactReview(provider_id=p.id, reviewed_at=utc(2026, 1, 9)))
        shapes[gap] = p
    db.session.commit()
    after = utc(2026, 4, 10, 15)  # ACCME's 2025 deadline (March 31) has passed
    for gap, p in shapes.items():
        for now in (NOW, after):
            full = checklist_for(p, 2025, now)
            assert late_checklist(p, 2025, now) == (full if full.late else None), (gap, now)
    assert late_checklist(shapes["none"], 2025, after) is None
    assert late_checklist(shapes["summary"], 2025, after).late

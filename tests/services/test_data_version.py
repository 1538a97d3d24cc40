"""The provider data version and the dashboard's cached counts (services/data_version.py).

The cache is only as good as the version: every path that writes a provider's activities or
December 31 snapshots must move it exactly once per transaction, and a cached count must never
outlive a committed change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from pars_app.extensions import db
from pars_app.io import write_activities
from pars_app.models import Activity, Provider
from pars_app.services import (
    activity_close,
    activity_copy,
    activity_edit,
    checklist,
    data_version,
    imports,
    jobs,
    learner_counts,
    learner_snapshots,
)
from tests.factories import make_activity, make_enduring, make_provider, make_user
from tests.services.test_activity_edit import _course
from tests.services.test_imports import full_record

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
TODAY = date(2026, 2, 15)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def who(ctx):
    provider = make_provider()
    user = make_user(provider=provider)
    db.session.commit()
    return provider, user


def _version(provider_id: int) -> int:
    # A column select, not the identity map: what is committed now.
    return db.session.scalar(select(Provider.data_version).where(Provider.id == provider_id))


def _fresh(provider_id: int, year: int = 2025) -> dict:
    return checklist._count_activities(provider_id, year, TODAY) | checklist._count_enduring(
        provider_id, year
    )


def _cached(provider_id: int, year: int = 2025) -> dict:
    return checklist._activity_facts(provider_id, year, TODAY) | checklist._enduring_facts(
        provider_id, year
    )


def _statements(run) -> int:
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(seen)


def test_every_write_path_moves_the_version_exactly_once(who):
    p, user = who
    pid = p.id
    steps = []

    def step(name, run):
        before = _version(pid)
        result = run()
        db.session.expire_all()
        steps.append((name, _version(pid) - before))
        return result

    a = step("create", lambda: activity_edit.save_activity(p, None, _course(), user, None, NOW))
    data = _course(provider_activity_id=a.provider_activity_id, title="Renamed")
    step("edit", lambda: activity_edit.save_activity(p, a, data, user, a.version, NOW))
    counts = {"physicians": "40", "others": "4"}
    step("inline counts", lambda: learner_counts.update_counts(p, a, counts, a.version, user, NOW))
    step("close", lambda: activity_close.close_activity(p, a, user, NOW))
    step("reopen", lambda: activity_close.reopen_activity(p, a, user, NOW))
    bulk = step("bulk close", lambda: activity_close.bulk_close(p, user, NOW, ids=[a.id]))
    step("undo", lambda: activity_close.undo_bulk_close(p, bulk.operation_id, user, NOW))
    em = make_enduring(p, date(2025, 1, 1), date(2026, 12, 31))
    db.session.commit()
    values = {"physicians": "12", "others": "3"}
    step("snapshot", lambda: learner_snapshots.record_snapshot(p, em, 2025, values, 0, user, NOW))
    step("copy", lambda: activity_copy.copy_for_next_period(p, a, user, NOW))
    draft = make_activity(p, complete=False)
    db.session.commit()
    step("delete draft", lambda: activity_edit.delete_activity(p, draft, user, NOW))

    def import_one_file():
        job = imports.create_job(
            p, user.id, "a.xlsx", write_activities([full_record(7)]), NOW, "web"
        )
        jobs.run(job.id)  # the preview writes its plan, not activities
        imports.request_commit(db.session.get(type(job), job.id), user.id, False, NOW)
        jobs.run(job.id)

    step("import", import_one_file)
    assert steps == [(name, 1) for name, _ in steps]
    assert db.session.scalar(select(Activity.id).where(Activity.provider_id == pid).limit(1))


def test_reading_never_moves_the_version(who):
    p, _ = who
    make_activity(p, start_date=date(2025, 3, 1), end_date=date(2025, 3, 2))
    db.session.commit()
    before = _version(p.id)
    checklist.checklist_for(p, 2025, NOW)
    db.session.commit()
    assert _version(p.id) == before


def test_a_second_view_reuses_the_counts_and_a_change_from_elsewhere_is_seen(who):
    p, _ = who
    make_activity(p, format="C", start_date=date(2025, 3, 1), end_date=date(2025, 3, 2))
    db.session.commit()
    first = _cached(p.id)
    assert first == _fresh(p.id) and first["ended_not_closed"] == 1
    cold = _statements(lambda: checklist._count_activities(p.id, 2025, TODAY))
    assert _statements(lambda: _cached(p.id)) == 0 < cold  # served from the cache
    # Another process (here: another session) adds an activity and commits.
    with Session(db.engine) as other:
        other.add(
            Activity(
                provider_id=p.id,
                provider_activity_id="ELSEWHERE-1",
                title="Added elsewhere",
                format="C",
                start_date=date(2025, 6, 1),
                end_date=date(2025, 6, 2),
            )
        )
        other.commit()
    db.session.rollback()  # a new request: a new transaction, the provider reloaded
    after = _cached(p.id)
    assert after == _fresh(p.id)
    assert after["ended_not_closed"] == 2 and after["activities_by_format"]["C"] == 2


def test_own_uncommitted_changes_are_counted_but_never_cached(who):
    p, _ = who
    make_activity(p, start_date=date(2025, 3, 1), end_date=date(2025, 3, 2))
    db.session.commit()
    assert _cached(p.id)["ended_in_year"] == 1
    make_activity(p, start_date=date(2025, 4, 1), end_date=date(2025, 4, 2))  # not committed
    assert _cached(p.id)["ended_in_year"] == 2
    db.session.rollback()
    assert _cached(p.id)["ended_in_year"] == 1


def test_the_counts_follow_the_calendar_without_any_change(who):
    p, _ = who
    make_activity(p, start_date=date(2025, 12, 30), end_date=date(2026, 2, 20))
    make_activity(p, start_date=date(2025, 12, 1), end_date=date(2025, 12, 31))
    db.session.commit()
    assert checklist._activity_facts(p.id, 2026, TODAY)["ended_in_year"] == 0
    later = TODAY + timedelta(days=10)  # the first one has ended by then
    assert checklist._activity_facts(p.id, 2026, later)["ended_in_year"] == 1


def test_a_bulk_update_that_does_not_name_its_provider_fails_loudly_in_tests(who):
    p, _ = who
    a = make_activity(p)
    db.session.commit()
    before = _version(p.id)
    db.session.execute(update(Activity).where(Activity.id == a.id).values(title="Anonymous"))
    with pytest.raises(RuntimeError, match=r"data_version\.touch"):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Activity, a.id).title != "Anonymous"
    db.session.execute(update(Activity).where(Activity.id == a.id).values(title="Named"))
    data_version.touch(p.id)
    db.session.commit()
    assert _version(p.id) == before + 1


def test_a_core_insert_names_its_providers_itself(who):
    p, _ = who
    q = make_provider()
    db.session.commit()
    before = (_version(p.id), _version(q.id))
    rows = [
        dict(
            provider_id=owner.id,
            provider_activity_id=f"CORE-{n}",
            title="Inserted",
            format="C",
            start_date=date(2025, 5, 1),
            end_date=date(2025, 5, 1),
        )
        for n, owner in enumerate((p, q, q))
    ]
    db.session.execute(Activity.__table__.insert(), rows)
    db.session.commit()
    assert (_version(p.id), _version(q.id)) == (before[0] + 1, before[1] + 1)

"""Two imports committing into one provider at the same moment (issue 8 point 3): generated
Provider Activity IDs never collide, a row both files create is created once (the other import
is reported as changed since its preview, nothing of it written), and each report is right.
SQLite on a real file (WAL, two connections) or PostgreSQL when the suite runs there."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from pars_app import create_app
from pars_app.extensions import db
from pars_app.io import write_activities_xml
from pars_app.models import Activity, ImportJob, Provider
from pars_app.services import clock, imports, jobs
from tests.conftest import IS_PG
from tests.factories import make_provider, make_user


def _row(pid: str, title: str) -> dict:
    return {
        "provider_activity_id": pid,
        "title": title,
        "format": "JN",
        "start_date": date(2026, 1, 5),
        "end_date": date(2026, 1, 30),
    }


@pytest.fixture
def shared_app(request, tmp_path):
    if IS_PG:
        yield request.getfixturevalue("app")
        return
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SECRET_KEY": "x",
            "PARS_JOB_BACKEND": "immediate",
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def _previewed(app, provider_id: int, user_id: int, rows: list[dict]) -> int:
    with app.app_context():
        provider = db.session.get(Provider, provider_id)
        job = imports.create_job(
            provider, user_id, "f.xml", write_activities_xml(rows), clock.now(), "web"
        )
        jobs.run(job.id)
        job = db.session.get(ImportJob, job.id)
        assert job.status == imports.PREVIEWED, job.error
        imports.request_commit(job, user_id, False, clock.now())
        job_id = job.id
        db.session.remove()
        return job_id


def _commit_together(app, job_ids: list[int]) -> None:
    start = threading.Barrier(len(job_ids))

    def commit(job_id: int) -> None:
        with app.app_context():
            start.wait()
            jobs.run(job_id)
            db.session.remove()

    threads = [threading.Thread(target=commit, args=(j,)) for j in job_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def _setup(app) -> tuple[int, int]:
    with app.app_context():
        p = make_provider("RACE")
        u = make_user(provider=p)
        db.session.commit()
        return p.id, u.id


def test_generated_ids_never_collide_and_both_reports_count_right(shared_app):
    app = shared_app
    provider_id, user_id = _setup(app)
    first = _previewed(app, provider_id, user_id, [_row("", f"A {i}") for i in range(40)])
    second = _previewed(app, provider_id, user_id, [_row("", f"B {i}") for i in range(40)])
    _commit_together(app, [first, second])
    with app.app_context():
        statuses = [db.session.get(ImportJob, j).status for j in (first, second)]
        assert statuses == [imports.COMMITTED, imports.COMMITTED]
        assert [
            imports.counts_of(db.session.get(ImportJob, j)).created for j in (first, second)
        ] == [40, 40]
        pids = db.session.scalars(select(Activity.provider_activity_id)).all()
        assert len(pids) == 80 and len(set(pids)) == 80
        assert sorted(pids)[0] == "2026-0001" and sorted(pids)[-1] == "2026-0080"


def test_a_row_both_files_create_is_created_once_and_the_loser_writes_nothing(shared_app):
    app = shared_app
    provider_id, user_id = _setup(app)
    one = _previewed(app, provider_id, user_id, [_row("SAME", "From one"), _row("ONE-2", "x")])
    two = _previewed(app, provider_id, user_id, [_row("SAME", "From two"), _row("TWO-2", "y")])
    _commit_together(app, [one, two])
    with app.app_context():
        jobs_now = {j: db.session.get(ImportJob, j) for j in (one, two)}
        statuses = sorted(j.status for j in jobs_now.values())
        assert statuses == [imports.COMMITTED, imports.STALE]
        loser = next(j for j in jobs_now.values() if j.status == imports.STALE)
        assert "SAME" in str(imports.report_of(loser))
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 2
        winner_own = "ONE-2" if jobs_now[one].status == imports.COMMITTED else "TWO-2"
        assert set(db.session.scalars(select(Activity.provider_activity_id))) == {
            "SAME",
            winner_own,
        }

"""Crash safety of imports (issue 4 point 4, issue 8 point 5): a worker process killed with
SIGKILL in the middle of a preview or of a commit leaves the data fully as before, the job
shows failed, and a retry finishes it. Real `flask pars worker` processes on a real SQLite file
(WAL), or in the PostgreSQL pass on the suite's database (its migrated schema, every table
truncated after the test by `tests/conftest.py`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from pars_app.extensions import db
from pars_app.io import write_activities_xml
from pars_app.models import Activity, AuditEvent, ImportJob
from pars_app.services import imports, jobs
from tests.conftest import IS_PG
from tests.factories import make_provider, make_user
from tests.processes import shared_database
from tests.unit.test_io_fixtures import full_record

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


def _records(n: int):
    for i in range(1, n + 1):
        yield full_record(i) | {"close": False, "moc": []}


@pytest.fixture
def setup(request, tmp_path):
    with shared_database(request, tmp_path, PARS_JOB_BACKEND="worker") as (app, url):
        yield _queued_job(app, url)


def _queued_job(app, url: str) -> tuple:
    with app.app_context():
        provider = make_provider("CRASH")
        user = make_user(provider=provider)
        db.session.commit()
        job = imports.create_job(
            provider,
            user.id,
            "big.xml",
            write_activities_xml(_records(ROWS)),
            imports.clock.now(),
            "web",
        )
        return app, url, job.id, user.id


def _worker(url: str) -> subprocess.Popen:
    env = os.environ | {"DATABASE_URL": url, "PARS_ENV": "dev", "PARS_JOB_BACKEND": "worker"}
    env.pop("PARS_TEST_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "pars", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(app, job_id: int, statuses: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            status = db.session.get(ImportJob, job_id).status
            db.session.remove()
        if status in statuses:
            return status
        time.sleep(0.01)
    raise AssertionError(f"job never reached {statuses}")


def _writing(app, url: str) -> bool:
    """Whether another connection is in the middle of a write transaction: on PostgreSQL one
    that has inserted into `activities` (uncommitted rows are invisible, their lock is not);
    on SQLite one that holds the write lock (a commit holds it from its first statement on)."""
    if IS_PG:
        with app.app_context():
            found = db.session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'activities' AND l.mode = 'RowExclusiveLock' "
                    "AND l.pid <> pg_backend_pid() AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
            db.session.remove()
        return bool(found)
    probe = sqlite3.connect(make_url(url).database, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
        return False
    except sqlite3.OperationalError:  # "database is locked": a writer is mid-transaction
        return True
    finally:
        probe.close()


def _kill_during(app, url: str, job_id: int, status: str, writing: bool = False) -> None:
    """SIGKILL a worker once the job is in `status` (and, with `writing`, once its
    transaction has started writing)."""
    proc = _worker(url)
    try:
        _wait_for(app, job_id, {status})
        deadline = time.monotonic() + 60
        while writing and not _writing(app, url):
            assert _wait_for(app, job_id, {status}) == status
            assert time.monotonic() < deadline, "the commit never started writing"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _state(app, job_id: int) -> tuple[str, int, int]:
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        jobs.reap(job)  # what the job's page does when someone looks at it
        status = db.session.get(ImportJob, job_id).status
        made = db.session.scalar(select(func.count()).select_from(Activity))
        events = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "activity.created")
        )
        db.session.remove()
    return status, made, events


def test_sigkill_mid_preview_then_mid_commit_leaves_nothing_half_written(setup):
    app, url, job_id, user_id = setup
    _kill_during(app, url, job_id, imports.PREVIEWING)
    assert _state(app, job_id) == (imports.FAILED, 0, 0)
    with app.app_context():
        imports.retry(db.session.get(ImportJob, job_id))
    jobs_done = _worker(url)
    try:
        _wait_for(app, job_id, {imports.PREVIEWED})
    finally:
        jobs_done.terminate()
        jobs_done.wait(10)
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        assert imports.counts_of(job).created == ROWS
        imports.request_commit(job, user_id, False, imports.clock.now())
    _kill_during(app, url, job_id, imports.COMMITTING, writing=True)
    status, made, events = _state(app, job_id)
    assert (status, made, events) == (imports.FAILED, 0, 0)  # fully before
    with app.app_context():
        imports.retry(db.session.get(ImportJob, job_id))
        assert jobs.run(job_id)
    assert _state(app, job_id) == (imports.COMMITTED, ROWS, ROWS)  # fully after

"""Crash safety of a bulk close (issue 8 point 5): a process closing thousands of activities
("select all matching") is killed with SIGKILL in the middle of its transaction. Afterwards the
data is fully as before (every activity open, no audit event), the database is sound, and the
same bulk close run again closes them all.

The kill is fault injection in the harness, in the child process only: a SQLAlchemy event
listener sends SIGKILL to its own process right after the closing UPDATE has executed, or at
the commit (every statement of the close has run, COMMIT not yet sent). The service runs as
is. SQLite file in WAL mode, or the PostgreSQL suite's database in the PostgreSQL pass.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import make_url

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, Provider, User
from pars_app.services import activity_close as closing
from pars_app.services.activity_list import ActivityFilter
from tests.conftest import IS_PG
from tests.factories import make_activity, make_provider, make_user
from tests.processes import SPAWN, WAIT, app_for, on_statement, shared_database, start

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
TODAY = date(2026, 2, 15)
ROWS = 3000
# What the coordinator selected: "all closable activities of 2025", re-run by the service.
MATCHING = ActivityFilter(year=2025, view="closable")


@pytest.fixture
def shared(request, tmp_path):
    with shared_database(request, tmp_path) as (app, url):
        yield app, url


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _close_and_die(url: str, provider_id: int, user_id: int, fault: str, results) -> None:
    """The child: arm the fault, then run the bulk close the list's "close all matching" runs."""
    app = app_for(url)
    with app.app_context():
        if fault == "after the UPDATE":
            on_statement("after", "UPDATE ACTIVITIES", _die)
        else:  # the close's statements have all run; the engine is about to send COMMIT
            ran: set[str] = set()
            on_statement("after", "UPDATE ACTIVITIES", lambda: ran.add("closed"))
            on_statement("after", "INSERT INTO AUDIT_EVENTS", lambda: ran.add("audited"))
            event.listen(
                db.engine, "commit", lambda conn: _die() if ran == {"closed", "audited"} else None
            )
        provider = db.session.get(Provider, provider_id)
        user = db.session.get(User, user_id)
        result = closing.bulk_close(provider, user, NOW, f=MATCHING, today=TODAY)
        results.put(("survived", result.closed))  # the fault never fired: the test fails


def _seed(provider: Provider) -> None:
    template = make_activity(provider, provider_activity_id="K-T", title="Crash course")
    columns = {
        c.key: getattr(template, c.key)
        for c in Activity.__table__.columns
        if c.key not in ("id", "provider_activity_id")
    }
    rows = [dict(columns, provider_activity_id=f"K-{i:05d}") for i in range(ROWS - 1)]
    db.session.execute(insert(Activity), rows)


def _state() -> tuple[int, int, int, int]:
    """(open activities, closed ones, their versions' sum, audit events of any close)."""
    open_ = select(func.count()).select_from(Activity).where(Activity.closed_at.is_(None))
    closed = select(func.count()).select_from(Activity).where(Activity.closed_at.isnot(None))
    events = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action.in_([closing.CLOSED_ACTION, closing.BULK_CLOSED_ACTION]))
    )
    return (
        db.session.scalar(open_),
        db.session.scalar(closed),
        db.session.scalar(select(func.sum(Activity.version))),
        db.session.scalar(events),
    )


def _sound(url: str) -> None:
    """The database file passes SQLite's own check (the killed writer's WAL frames, never
    committed, are ignored by the next reader)."""
    if IS_PG:
        return  # a client's death cannot damage the server's files; the rerun below proves the
        # dead transaction's row locks are gone
    conn = sqlite3.connect(make_url(url).database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


@pytest.mark.parametrize("fault", ["after the UPDATE", "at the commit"])
def test_sigkill_in_the_middle_of_a_bulk_close_leaves_everything_open(shared, fault):
    app, url = shared
    with app.app_context():
        p = make_provider("CRASH")
        user = make_user(provider=p)
        _seed(p)
        db.session.commit()
        provider_id, user_id = p.id, user.id
        before = _state()
    assert before == (ROWS, 0, ROWS, 0)

    results = SPAWN.Queue()
    child = start(_close_and_die, url, provider_id, user_id, fault, results)
    child.join(WAIT)
    if child.is_alive():
        child.kill()
    assert results.empty(), results.get()  # it reported back: the fault never fired
    assert child.exitcode == -signal.SIGKILL

    with app.app_context():
        assert _state() == before  # fully before: all open, versions as they were, no events
        db.session.remove()
    _sound(url)

    with app.app_context():  # the same bulk close again finishes the job
        provider = db.session.get(Provider, provider_id)
        user = db.session.get(User, user_id)
        result = closing.bulk_close(provider, user, NOW, f=MATCHING, today=TODAY)
        assert (result.closed, result.refused_total, result.already_closed) == (ROWS, 0, 0)
        assert _state() == (0, ROWS, 2 * ROWS, ROWS + 1)  # fully after: one event each + the op
        db.session.remove()
    _sound(url)
    print(
        f"\nbulk close crash: SIGKILL {fault}, {ROWS} activities open after, {ROWS} closed on rerun"
    )

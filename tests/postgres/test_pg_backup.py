"""Backup and restore on PostgreSQL (issue 8 point 7): the `pg_dump` procedure of
docs/reliability.md, run as documented. A dump of the suite's database is restored into a fresh
database of its own (`<suite database>_restore`, dropped afterwards), and every record is found
there: the same tables, the same row count and checksum of every table (activities included),
the same sequence positions, the same schema revision, and the app can write into it.

A second test dumps while a writer keeps creating activities through the form's service: the
dump is one snapshot, so every activity restored has its audit event and no event lacks its
activity (what pg_dump's single transaction guarantees, checked rather than assumed).

PostgreSQL pass only. Without the pg_dump/pg_restore binaries it skips, except under CI=true,
where it must run (the suite's PostgreSQL being unreachable already fails in CI, conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from pars_app.config import normalise_database_url
from pars_app.extensions import db
from pars_app.io import write_activities_xml
from pars_app.models import Activity, AuditEvent, ImportJob, Provider, User
from pars_app.services import activity_edit as editing
from pars_app.services import activity_input as inp
from pars_app.services import imports, jobs
from tests.conftest import IN_CI, IS_PG, PG_URL
from tests.factories import make_activity, make_provider, make_user, utc
from tests.processes import app_for
from tests.unit.test_io_fixtures import full_record

pytestmark = pytest.mark.skipif(
    not IS_PG, reason="PostgreSQL-only: runs in `make test-postgres` (PARS_TEST_DATABASE_URL)"
)

IMPORTED = 20  # rows of the import job added to the demo data (its file is a bytea column)


def _url(database: str | None = None, driver: str = "postgresql+psycopg") -> str:
    """The suite's database URL (or another database on its server); "postgresql" gives
    libpq's form, for the command-line tools."""
    url = make_url(normalise_database_url(PG_URL)).set(drivername=driver)
    if database:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _restored_name() -> str:
    return f"{make_url(normalise_database_url(PG_URL)).database}_restore"


def _unusable(tool: str, server_major: int) -> str | None:
    if shutil.which(tool) is None:
        return f"{tool} not found on PATH"
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    major = int(version.split()[-1].split(".")[0])
    if major < server_major:  # an older pg_dump refuses a newer server
        return f"{tool} {major} is older than the server ({server_major})"
    return None


@pytest.fixture
def restored(app):
    """The fresh database the dump is restored into, created and dropped around the test."""
    admin = create_engine(_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        server_major = int(conn.scalar(text("SHOW server_version_num"))) // 10000
    problems = [p for p in (_unusable(t, server_major) for t in ("pg_dump", "pg_restore")) if p]
    if problems:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL backup test: {'; '.join(problems)}")
        pytest.skip(f"{'; '.join(problems)}: install postgresql-client (CI unset, so skipping)")
    name = _restored_name()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(_url(name))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _dump_and_restore(tmp_path) -> int:
    """The documented procedure; returns the dump's size in bytes."""
    dump = tmp_path / "pars.dump"
    source, target = _url(driver="postgresql"), _url(_restored_name(), driver="postgresql")
    restore = ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction"]
    for command in (
        ["pg_dump", "-Fc", "--no-owner", "-f", str(dump), source],
        [*restore, "-d", target, str(dump)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command[0]} failed: {done.stderr}"
    return dump.stat().st_size


def _tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        )


def _contents(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of all its rows (each row as text, sorted)."""
    out = {}
    with engine.connect() as conn:
        for name in _tables(engine):
            out[name] = tuple(
                conn.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' "
                        f"ORDER BY t::text), '')) FROM \"{name}\" t"
                    )
                ).one()
            )
    return out


def _sequences(engine: Engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
        )
        return dict(rows.tuples().all())


def _add_an_import(app) -> None:
    """An import job (its file kept as bytea, its preview rows) and what it created."""
    with app.app_context():
        provider = make_provider("IMPORTED")
        user = make_user(provider=provider)
        db.session.commit()
        records = [full_record(i) | {"close": False, "moc": []} for i in range(1, IMPORTED + 1)]
        records = [r | {"provider_activity_id": f"BK-{i:03d}"} for i, r in enumerate(records)]
        job = imports.create_job(
            provider, user.id, "backup.xml", write_activities_xml(records), utc(2026, 11, 25), "web"
        )
        jobs.run(job.id)
        job = db.session.get(ImportJob, job.id)
        imports.request_commit(job, user.id, False, utc(2026, 11, 25))
        jobs.run(job.id)
        assert db.session.get(ImportJob, job.id).status == imports.COMMITTED


@time_machine.travel(utc(2026, 11, 25, 18), tick=False)
def test_pg_dump_then_pg_restore_finds_every_record(app, restored, tmp_path):
    assert app.test_cli_runner().invoke(args=["pars", "seed-demo"]).exit_code == 0
    _add_an_import(app)
    with app.app_context():
        source = db.engine
        before = _contents(source)
        sequences = _sequences(source)
        top = db.session.scalar(select(func.max(Activity.id)))
    assert all(count for count, _ in before.values()), before  # every table has rows to find

    size = _dump_and_restore(tmp_path)

    after = _contents(restored)
    assert sorted(after) == sorted(before) and set(before) >= {
        t.name for t in db.metadata.sorted_tables
    }
    different = {
        name: (before[name], after[name]) for name in before if before[name] != after[name]
    }
    assert not different  # same count and checksum, table by table (activities included)
    assert _sequences(restored) == sequences
    # The app runs on the restored copy and writes after the restored rows, not over them.
    copy = app_for(_url(_restored_name()))
    with copy.app_context():
        added = make_activity(make_provider("AFTER"))
        db.session.commit()
        assert added.id == top + 1
        db.session.remove()
        db.engine.dispose()
    rows = sum(count for count, _ in before.values())
    print(f"\npg backup: {len(before)} tables, {rows} rows verified, dump {size:,} bytes")


def _created_pairs(engine: Engine, provider_id: int) -> tuple[set[int], set[int], list[str]]:
    """The writer's activities, the activities its `activity.created` events name, and the
    writer's Provider Activity IDs in order."""
    with engine.connect() as conn:
        activities = set(
            conn.scalars(select(Activity.id).where(Activity.provider_id == provider_id))
        )
        events = set(
            conn.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.provider_id == provider_id,
                    AuditEvent.action == "activity.created",
                )
            )
        )
        pids = sorted(
            conn.scalars(
                select(Activity.provider_activity_id).where(Activity.provider_id == provider_id)
            )
        )
    return activities, events, pids


def test_a_dump_taken_while_the_app_writes_is_one_consistent_snapshot(app, restored, tmp_path):
    with app.app_context():
        p = make_provider("ONLINE")
        user = make_user(provider=p)
        template = make_activity(p, provider_activity_id="W-TEMPLATE")
        db.session.commit()
        provider_id, user_id, template_id = p.id, user.id, template.id
        base, errors = inp.read_form(inp.form_of(template))
        assert not errors
    stop, written = threading.Event(), []

    def write() -> None:  # a coordinator creating activities through the form's service
        with app.app_context():
            while not stop.is_set():
                n = len(written) + 1
                data = replace(base, provider_activity_id=f"W-{n:05d}", title=f"Written {n}")
                provider = db.session.get(Provider, provider_id)
                user = db.session.get(User, user_id)
                now = datetime.now(UTC)
                editing.save_activity(provider, None, data, user, None, now, via="web")
                written.append(n)
                db.session.remove()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 5 and writer.is_alive():  # the dump starts mid-stream
            stop.wait(0.01)
        _dump_and_restore(tmp_path)
    finally:
        stop.set()
        writer.join(60)
    assert written and not writer.is_alive()

    activities, events, pids = _created_pairs(restored, provider_id)
    assert activities == events | {template_id}  # each activity with its event, no orphan
    kept = [p for p in pids if p != "W-TEMPLATE"]
    assert kept == [f"W-{n:05d}" for n in range(1, len(kept) + 1)]  # a prefix: one instant
    assert 5 <= len(kept) <= len(written)
    with app.app_context():
        live = _created_pairs(db.engine, provider_id)
    assert len(live[0]) - 1 == len(written)  # the live database kept every write
    print(f"\npg backup online: {len(written)} written, {len(kept)} in the dump's snapshot")

"""`flask pars backup` / `restore` for the embedded SQLite database."""

import os

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import func, select

from pars_app import create_app
from pars_app.extensions import db
from pars_app.models import Activity, User
from tests.factories import make_activity, make_provider, utc

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "..", "migrations")


@pytest.fixture
def file_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
    return app


def _counts(app):
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Activity.id))),
            db.session.scalar(select(func.count(User.id))),
        )


@time_machine.travel(utc(2026, 11, 25, 18), tick=False)
def test_backup_then_restore_finds_every_record(file_app, tmp_path):
    runner = file_app.test_cli_runner()
    assert runner.invoke(args=["pars", "seed-demo"]).exit_code == 0
    before = _counts(file_app)
    out = runner.invoke(args=["pars", "backup", str(tmp_path / "b.sqlite3")])
    assert out.exit_code == 0, out.output
    with file_app.app_context():
        make_activity(make_provider())  # written after the backup: must vanish on restore
        db.session.commit()
    assert _counts(file_app) != before
    out = runner.invoke(args=["pars", "restore", str(tmp_path / "b.sqlite3"), "--yes"])
    assert out.exit_code == 0, out.output
    assert _counts(file_app) == before


def test_backup_refuses_to_overwrite_and_restore_refuses_junk(file_app, tmp_path):
    runner = file_app.test_cli_runner()
    target = tmp_path / "b.sqlite3"
    assert runner.invoke(args=["pars", "backup", str(target)]).exit_code == 0
    again = runner.invoke(args=["pars", "backup", str(target)])
    assert again.exit_code == 1 and "exists already" in again.output
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    bad = runner.invoke(args=["pars", "restore", str(junk), "--yes"])
    assert bad.exit_code == 1 and "not a pars-app SQLite backup" in bad.output
    missing = runner.invoke(args=["pars", "restore", str(tmp_path / "nope"), "--yes"])
    assert missing.exit_code == 1 and "No backup file" in missing.output


def test_in_memory_database_has_nothing_to_back_up(app, tmp_path):
    out = app.test_cli_runner().invoke(args=["pars", "backup", str(tmp_path / "x.sqlite3")])
    assert out.exit_code == 1
    assert "in memory" in out.output or "pg_dump" in out.output

"""The one migration builds exactly the schema the models describe, on a real file database."""

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from pars_app import create_app
from pars_app.extensions import db

MIGRATIONS = os.path.join(os.path.dirname(__file__), "..", "..", "migrations")


def test_upgrade_matches_models_and_downgrades(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migration differ: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert {"activities", "learner_snapshots", "program_summaries", "audit_events"} <= tables
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()


def test_0008_gives_existing_import_jobs_the_path_their_upload_event_recorded(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "x"})
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0007")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accreditors (id, code, name, is_national) VALUES (1, 'A', 'A', 1)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO providers (id, code, name, accreditor_id, created_at, updated_at)"
                    " VALUES (1, 'P', 'P', 1, '2026-01-01', '2026-01-01')"
                )
            )
            for job_id in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO import_jobs (id, created_at, filename, kind, status,"
                        " total_rows, processed_rows, provider_id)"
                        " VALUES (:id, '2026-01-02', 'a.xlsx', 'xlsx', 'committed', 1, 1, 1)"
                    ),
                    {"id": job_id},
                )
            # Job 1 came through the CLI, job 2 through the form; job 3 has no event left.
            for job_id, via in ((1, "cli"), (2, "web")):
                conn.execute(
                    text(
                        "INSERT INTO audit_events (at, action, entity_type, entity_id, via,"
                        " provider_id) VALUES ('2026-01-02', 'import.uploaded', 'ImportJob',"
                        " :id, :via, 1)"
                    ),
                    {"id": job_id, "via": via},
                )
        upgrade(directory=MIGRATIONS)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, via FROM import_jobs ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "cli"), (2, "web"), (3, "web")]
        engine.dispose()

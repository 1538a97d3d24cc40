"""Shared fixtures. Each test gets a fresh app and an empty schema.

SQLite (default): an in-memory database built with `create_all` per test.
PostgreSQL (`PARS_TEST_DATABASE_URL=postgresql+psycopg://…`): the schema is built once per run
by the real Alembic migration, and every table is truncated after each test.

The app context is NOT held open during a test: each request gets its own session, as in
production, so identity-map leftovers from setup can never hide a tenancy bug.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from pars_app import create_app
from pars_app.extensions import db

PG_URL = os.environ.get("PARS_TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgres")
IN_CI = bool(os.environ.get("CI"))


def _pg_reachable(url: str) -> str | None:
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as err:  # any failure to connect means "no PostgreSQL here"
        return f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return None


@pytest.fixture(scope="session")
def _schema():
    """Build the PostgreSQL schema once, through the real migration."""
    if not IS_PG:
        yield
        return
    problem = _pg_reachable(PG_URL)
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL must be reachable in CI at {PG_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({problem}); CI is unset, so skipping")
    from flask_migrate import upgrade

    app = create_app("test")
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        db.engine.dispose()
    yield


@pytest.fixture
def app(_schema):
    app = create_app("test")
    with app.app_context():
        if not IS_PG:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        if IS_PG:
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            db.drop_all()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for service-level tests (setup and assertions share one session)."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()

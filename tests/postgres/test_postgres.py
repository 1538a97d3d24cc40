"""PostgreSQL-specific checks. They run in the PostgreSQL pass (`make test-postgres`, where the
schema is built by the real Alembic migration); in the SQLite pass they skip with that reason."""

import pytest
import time_machine
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pars_app.extensions import db
from pars_app.models import Activity
from tests.conftest import IS_PG
from tests.factories import make_activity, make_provider, utc

pytestmark = pytest.mark.skipif(
    not IS_PG, reason="PostgreSQL-only: runs in `make test-postgres` (PARS_TEST_DATABASE_URL)"
)


def test_runs_on_postgres_with_the_migrated_schema(ctx):
    assert db.engine.dialect.name == "postgresql"
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"migration and models differ on PostgreSQL: {diff}"


def test_optimistic_locking_refuses_the_second_writer(ctx):
    p = make_provider()
    a = make_activity(p)
    db.session.commit()
    with Session(db.engine) as first, Session(db.engine) as second:
        mine = first.get(Activity, a.id)
        theirs = second.get(Activity, a.id)
        mine.title = "Saved first"
        first.commit()
        theirs.title = "Saved second, from a stale copy"
        with pytest.raises(StaleDataError):
            second.commit()
    db.session.expire_all()
    assert db.session.get(Activity, a.id).title == "Saved first"


@time_machine.travel(utc(2026, 11, 25, 18), tick=False)
def test_demo_and_checklist_on_postgres(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["pars", "seed-demo"]).exit_code == 0
    out = runner.invoke(args=["pars", "checklist", "--provider", "WEST", "--year", "2025"])
    assert out.exit_code == 0 and "LATE" in out.output
    with app.app_context():
        ids = db.session.scalars(select(Activity.provider_activity_id)).all()
        assert len(ids) == len(set(ids)) > 100

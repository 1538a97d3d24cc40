"""Hostile values in every batch-file column (issue 8 point 2): each is either refused with a
message naming its row and column, or stored valid — never an exception, never a value the
database or an export cannot hold. Planned rows first (many cases, no database), then whole
files through preview and commit (fewer cases, real database: SQLite or PostgreSQL)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pars_app.domain import status as rules
from pars_app.extensions import db
from pars_app.io import RawRow, write_activities
from pars_app.io.fields import COLUMNS, SCALAR_KEYS
from pars_app.models import Activity, ImportJob
from pars_app.services import imports, jobs
from pars_app.services.activity_edit import input_errors
from pars_app.services.import_plan import (
    ERROR,
    ROW_COLUMNS,
    PlanContext,
    input_from_json,
    plan_activity_row,
)
from tests.factories import make_provider, make_user
from tests.security.figures import record
from tests.security.test_fuzz_forms import PAYLOADS

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
TODAY = date(2026, 2, 15)
KEYS = sorted(set(SCALAR_KEYS) - {"close"})

# What a cell can hold once calamine has read it: text, numbers, booleans, dates.
cell = st.one_of(
    st.none(),
    st.sampled_from(PAYLOADS),
    st.text(max_size=60),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=date(1, 1, 1)),
)
rows = st.dictionaries(st.sampled_from(KEYS), cell, min_size=1, max_size=12)
BASE = {
    "title": "Fuzzed",
    "format": "JN",
    "start_date": date(2025, 3, 1),
    "end_date": date(2025, 3, 31),
}


def _label(path: str) -> str:
    return next((c.header for c in COLUMNS if c.key == path), path)


@settings(max_examples=2000 if DEEP else 100, deadline=None)
@given(values=rows, close=st.one_of(st.none(), st.sampled_from(["Yes", "no", "maybe", 1])))
def test_a_hostile_row_is_planned_as_an_error_with_its_column_or_as_valid_input(values, close):
    record("import row values tried")
    raw = RawRow(7, {**BASE, **values, **({"close": close} if close is not None else {})})
    ctx = PlanContext(TODAY, frozenset(), _label)
    plan = plan_activity_row(raw, None, ctx)
    if plan.action == ERROR:
        assert plan.errors and all(m.column and m.text for m in plan.errors)
        return
    # Stored valid: the same rules pass again on what the commit will apply, and it survives
    # the round trip through the stored plan.
    stored = dict(zip(ROW_COLUMNS, plan.as_row(1), strict=True))  # the import_rows row
    data, _legacy, derived = input_from_json(stored["input_json"])
    assert data == plan.data
    assert input_errors(data, False) == {}
    assert derived == (
        rules.evaluate(data.facts(), TODAY).level,
        len(rules.evaluate(data.facts(), TODAY).problems),
    )
    for text in (data.title, data.description, data.venue, data.city, data.passport_url):
        assert text is None or ("\x00" not in text and text == text.strip())


@pytest.fixture(autouse=False)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@settings(
    max_examples=60 if DEEP else 8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(rows, min_size=1, max_size=4))
def test_hostile_files_commit_only_valid_rows_and_the_database_holds_them(ctx, frozen, batch):
    record("import files tried")
    provider = make_provider()
    user = make_user(provider=provider)
    db.session.commit()
    records = [
        {**BASE, "provider_activity_id": f"F-{i}", **_as_text(v)} for i, v in enumerate(batch)
    ]
    job = imports.create_job(provider, user.id, "fuzz.xlsx", write_activities(records), NOW, "web")
    jobs.run(job.id)
    job = db.session.get(ImportJob, job.id)
    assert job.status in (imports.PREVIEWED, imports.REFUSED), job.error
    if job.status == imports.REFUSED or not imports.counts_of(job).changes:
        return
    imports.request_commit(job, user.id, True, NOW)
    jobs.run(job.id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job.id)
    assert job.status == imports.COMMITTED, job.error
    for a in db.session.scalars(select(Activity).where(Activity.provider_id == provider.id)):
        assert a.title and len(a.title) <= 500 and "\x00" not in a.title


def _as_text(values: dict) -> dict:
    """Cells as a user types them into the template: text or numbers, never Python objects
    the writer would refuse (NaN, infinities)."""
    out = {}
    for k, v in values.items():
        if (isinstance(v, float) and v != v) or v in (float("inf"), float("-inf")):
            v = str(v)
        if k == "joint_providers" and v is not None:
            v = str(v)  # one cell of names
        out[k] = v
    return out

"""The benchmark harness (bench/) still runs end to end, at a toy size.

No timing is asserted here (DESIGN.md §7): only that every built measurement produced a ratio,
that query counts are equal at both sizes, and that the table and JSON come out.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

import bench.measures
from bench import BenchConfig, run
from pars_app.extensions import db
from pars_app.models import Activity, utcnow
from tests.conftest import IS_PG, PG_URL

TINY = dict(
    big=50,
    small=10,
    others=2,
    other_size=10,
    close_rows=20,
    overview_many=12,
    overview_few=4,
    overview_activities=8,
    import_rows=20,
    runs=2,
    warmup=0,
    throughput_seconds=0.1,  # gunicorn still starts and serves both sides; only the load is short
)


def _fake_bulk_close(provider_id: int, ids: list[int], user_id: int) -> int:
    """Stands in for services.activity_close until it exists, so the measurement path runs."""
    result = db.session.execute(
        update(Activity)
        .where(Activity.provider_id == provider_id, Activity.id.in_(ids))
        .values(closed_at=utcnow(), closed_by_id=user_id)
    )
    db.session.commit()
    return result.rowcount


@pytest.fixture
def bulk_close(monkeypatch):
    fn, where = bench.measures.find_bulk_close()
    if fn is None:
        monkeypatch.setattr(
            bench.measures, "find_bulk_close", lambda: (_fake_bulk_close, "a stand-in")
        )
    return where


def test_harness_runs_every_measurement_at_a_tiny_size(tmp_path, bulk_close):
    # On the PostgreSQL pass the harness uses its own schema in the test database.
    cfg = BenchConfig(**TINY, slow_runs=1, database_url=PG_URL if IS_PG else None)
    out = tmp_path / "results.json"
    report = run(cfg, out=out)

    built = [r for r in report.rows if r.passed is not None]  # the rest say "not built yet"
    assert {r.measurement for r in built} >= {
        "activities list, default filter: latency",
        "activities list, default filter: SQL queries per page",
        "dashboard checklist: latency",
        "dashboard checklist: SQL queries per page",
        "bulk close through the service",
        "accreditor overview: latency",
        "accreditor overview: SQL queries per page",
        "accreditor overview (late filter): latency",
        "accreditor overview (late filter): SQL queries per page",
        "import .xlsx: upload → preview → commit",
        "import XML: upload → preview → commit",
        "import .xlsx: peak memory",
        "import XML: peak memory",
        "export of activities to .xlsx",
        "dashboard requests/s under gunicorn",
    }
    for row in built:
        assert isinstance(row.ratio, float), (row.measurement, row.note)
    for fmt in (".xlsx", "XML"):  # no target of its own: a verdict on the format's target
        floor = report.row(f"import {fmt}: the read + its writes alone (floor)")
        assert floor.passed is None and floor.verdict.startswith("floor "), floor
        assert floor.ratio > 1 and "activities 20," in floor.note, floor.note
    for row in (r for r in report.rows if r.unit == "queries"):
        assert row.median == row.baseline_value > 0, row.measurement
    served = report.row("dashboard requests/s under gunicorn")
    # Both pages answered under gunicorn, every answer a 200 (a redirect to /login would not be).
    assert served.median > 0 and served.baseline_value > 0, served.note
    assert served.note.endswith("0 errors"), served.note
    close = report.row("bulk close through the service")
    assert f"closed {TINY['close_rows']:,} of {TINY['close_rows']:,}" in close.note, close.note

    saved = json.loads(out.read_text())
    assert [r["measurement"] for r in saved["rows"]] == [r.measurement for r in report.rows]
    assert report.database in report.table().splitlines()[0]

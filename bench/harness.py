"""The harness: one database, one seeded dataset, a list of measurements, one table.

Every number is a ratio measured in the same run against a baseline on the same machine
(DESIGN.md §7): absolute times on a shared machine are noise. A measurement is a function
`(Bench) -> list[Row]` registered with `@measurement`; adding one is adding a function.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from pars_app import create_app
from pars_app.config import ROOT, DevConfig, normalise_database_url
from pars_app.extensions import db
from pars_app.services import clock

from . import seed as seeding

PG_SCHEMA = "pars_bench"  # the bench's own schema: a --postgres database keeps its other tables
SEASON = (2, 16)  # month, day the app's clock is set to (see _season)
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repetitions. The defaults are the issue's; the smoke test shrinks them."""

    big: int = 50_000
    small: int = 500
    others: int = 20  # small providers beside the measured ones, so the data is multi-tenant
    other_size: int = 500
    close_rows: int = 10_000
    # The accreditor overview (issue 6): a state society with this many providers ÷ one with
    # few, each provider with this many activities (2,000 providers, 300,000 activities).
    overview_many: int = 2_000
    overview_few: int = 20
    overview_activities: int = 150
    import_rows: int = 10_000  # rows of the batch files the import measurements read
    runs: int = 15  # timed runs per measurement (after the warm-ups), the median is reported
    warmup: int = 2
    slow_runs: int = 5  # for measurements that take seconds each (bulk close)
    # Throughput under gunicorn (bench/throughput.py): seconds of load on each side per round.
    throughput_seconds: float = 4.0
    database_url: str | None = None  # PostgreSQL; None means a temporary SQLite file


@dataclass
class Row:
    """One line of the table: `ratio` = `median` ÷ `baseline_value`, checked against target."""

    measurement: str
    size: str
    median: float | None = None
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    unit: str = "ms"
    note: str = ""
    # What the result column says instead of pass/FAIL, for a row with no target of its own
    # (passed stays None, so --strict ignores it): a floor measured for another row's target.
    verdict: str = ""


@dataclass
class Report:
    database: str
    config: dict[str, Any]
    seed_seconds: float
    today: date
    rows: list[Row] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)

    def row(self, measurement: str) -> Row:
        return next(r for r in self.rows if r.measurement == measurement)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    def table(self) -> str:
        """The printed table, its header naming the database and the sizes."""
        head = ("measurement", "size", "median", "baseline (÷)", "ratio", "target", "result")
        lines = [_cells(r) for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [
            f"pars-app benchmarks on {self.database}; app clock at {self.today} (close-out "
            f"season); seeded in {self.seed_seconds:.1f} s; medians of {self.config['runs']} "
            f"runs after {self.config['warmup']} warm-ups",
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
        ]
        out += [fmt.format(*cells) for cells in lines]
        notes = [f"  {r.measurement}: {r.note}" for r in self.rows if r.note]
        return "\n".join(out + (["notes:", *notes] if notes else []))


def _cells(r: Row) -> tuple[str, ...]:
    def num(v: float | None, unit: str) -> str:
        if v is None:
            return "—"
        return f"{v:.0f}" if unit == "queries" else f"{v:.2f} {unit}"

    result = r.verdict or {True: "pass", False: "FAIL", None: "not built yet"}[r.passed]
    value = "" if r.baseline_value is None else " " + num(r.baseline_value, r.unit)
    base = f"{r.baseline}{value}" if r.baseline else "—"
    ratio = "—" if r.ratio is None else f"{r.ratio:.2f}"
    return (r.measurement, r.size, num(r.median, r.unit), base, ratio, r.target, result)


def ratio_row(measurement: str, size: str, baseline: str, target: float, a: float, b: float):
    """A `≤ target` row from two medians (or counts) measured in this run."""
    ratio = a / b if b else float("inf")
    return Row(measurement, size, a, baseline, b, ratio, f"≤ {target:g}", ratio <= target)


# --- The measurement registry -----------------------------------------------------------------


@dataclass
class Bench:
    """What a measurement gets: the app, the seeded providers, the config, signed-in clients."""

    app: Flask
    cfg: BenchConfig
    seeded: seeding.Seeded
    today: date
    clients: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self, who: seeding.SeededProvider | seeding.SeededAccreditor) -> FlaskClient:
        """A test client signed in as the provider's admin (or the accreditor's staff member),
        through the real sign-in form."""
        if who.code not in self.clients:
            c = self.app.test_client()
            token = CSRF_META.search(c.get("/login").get_data(as_text=True))
            assert token, "no CSRF meta tag on /login"
            data = {"email": who.email, "password": self.seeded.password, "csrf_token": token[1]}
            resp = c.post("/login", data=data)
            assert resp.status_code == 302, f"bench sign-in failed for {who.email}"
            self.clients[who.code] = c
        return self.clients[who.code]


Measurement = Callable[[Bench], list[Row]]
MEASUREMENTS: list[Measurement] = []


def measurement(fn: Measurement) -> Measurement:
    """Register a measurement; they run in the order they are defined."""
    MEASUREMENTS.append(fn)
    return fn


# --- Timing and counting ----------------------------------------------------------------------


def paired_medians(
    a: Callable[[], object], b: Callable[[], object], runs: int, warmup: int
) -> tuple[float, float]:
    """Median milliseconds of `a` and of `b`, interleaved run by run so that whatever else
    the machine is doing weighs on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(warmup + runs):
        for fn, bucket in ((a, times[0]), (b, times[1])):
            start = time.perf_counter()
            fn()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                bucket.append(elapsed)
    return statistics.median(times[0]), statistics.median(times[1])


@contextmanager
def counting_queries(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs (a `before_cursor_execute` listener)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- Running ----------------------------------------------------------------------------------


def run(cfg: BenchConfig, out: Path | None = None, echo: bool = False) -> Report:
    """Seed a fresh database, run every registered measurement, return (and save) the report."""
    from . import measures  # noqa: F401  (registers the measurements)

    with _database(cfg.database_url) as (uri, options, label), _season() as today:
        app = create_app(_config(uri, options))
        with app.app_context():
            _schema()
            started = time.perf_counter()
            seeded = seeding.seed(
                today,
                cfg.big,
                cfg.small,
                cfg.others,
                cfg.other_size,
                cfg.close_rows,
                overview=(cfg.overview_many, cfg.overview_few),
                overview_activities=cfg.overview_activities,
            )
            _analyze()
            seed_seconds = time.perf_counter() - started
            # Measure on fresh connections, as a server process has them: SQLite was seen to
            # plan a checklist query differently on the connection that built the schema.
            db.session.remove()
            db.engine.dispose()
        report = Report(label, asdict(cfg) | {"database_url": None}, seed_seconds, today)
        report.machine = _machine(label)
        _say(echo, f"seeded {seeded.rows} in {seed_seconds:.1f} s on {label}")
        bench = Bench(app, cfg, seeded, today)
        for fn in MEASUREMENTS:
            _say(echo, f"measuring {fn.__name__} …")
            report.rows += _measure(fn, bench)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if out is not None:
        out.write_text(report.to_json() + "\n")
    return report


def _measure(fn: Measurement, bench: Bench) -> list[Row]:
    """The measurement's rows; one that raises (a page answering 500, say) is reported as a
    failed row naming the error, and the run goes on to the next."""
    try:
        return fn(bench)
    except Exception as err:
        note = f"raised {type(err).__name__}: {str(err)[:200]}"
        return [Row(fn.__name__, "—", target="—", passed=False, note=note)]


@contextmanager
def _season() -> Iterator[date]:
    """Run with the app's clock in the close-out season (mid-February, last year's report due
    March 31): when providers close hundreds of activities and the checklist is busiest.
    The clock ticks, so stored instants stay ordered; perf_counter is never travelled."""
    season = datetime(clock.now().year, *SEASON, 18, tzinfo=UTC)
    with time_machine.travel(season, tick=True):
        yield clock.today()


def _schema() -> None:
    """The schema as production has it: built by the Alembic migrations, not create_all (whose
    index order follows Python's hash seed, and SQLite breaks planner ties by that order)."""
    from flask_migrate import upgrade

    logging.disable(logging.INFO)  # Alembic's "Running upgrade …" lines would bury the table
    try:
        upgrade(directory=str(ROOT / "migrations"))
    finally:
        logging.disable(logging.NOTSET)


def _say(echo: bool, message: str) -> None:
    if echo:
        print(message, file=sys.stderr, flush=True)


def _config(uri: str, options: dict[str, Any]) -> type[DevConfig]:
    class BenchAppConfig(DevConfig):
        SQLALCHEMY_DATABASE_URI = uri
        SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, **options}
        RATELIMIT_ENABLED = False  # the bench signs in more often than a person would

    return BenchAppConfig


def _analyze() -> None:
    """PostgreSQL: statistics and visibility map as autovacuum leaves them minutes after a bulk
    load (index-only scans need the latter). SQLite gets nothing: the app never runs ANALYZE
    there, so neither does the bench."""
    db.session.commit()
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


@contextmanager
def _database(url: str | None) -> Iterator[tuple[str, dict[str, Any], str]]:
    """A throwaway SQLite file, or the bench's own schema in the given PostgreSQL database."""
    if not url:
        tmp = tempfile.mkdtemp(prefix="pars-bench-")
        try:
            yield f"sqlite:///{tmp}/bench.sqlite3", {}, f"SQLite {_sqlite_version()} (file)"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    uri = normalise_database_url(url)
    engine = create_engine(uri)
    with engine.begin() as conn:
        version = conn.execute(text("SHOW server_version")).scalar()
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    try:
        options = {"connect_args": {"options": f"-csearch_path={PG_SCHEMA}"}}
        yield uri, options, f"PostgreSQL {version} (schema {PG_SCHEMA})"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        engine.dispose()


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def _machine(database: str) -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
        "database": database,
    }

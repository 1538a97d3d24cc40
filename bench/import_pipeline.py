"""Import measurements (issues 4 and 7): a 10,000-row batch file through upload → preview →
commit, each divided by a plain read of the same file measured in the same run, and the
import's peak memory in a process of its own.

Each run imports into a provider of its own, so every run creates the same 10,000 activities
(the heaviest case: every row an insert with its supporters, joint providers and MOC rows).
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from lxml import etree
from python_calamine import CalamineWorkbook
from sqlalchemy import text

from pars_app.extensions import db
from pars_app.io import write_activities, write_activities_xml
from pars_app.io.xml_io import schema
from pars_app.models import Provider
from pars_app.services import clock, imports, jobs
from pars_app.services.import_commit import copy_rows, new_ids

from .harness import Bench, Row, measurement, ratio_row

ROWS = 10_000  # the default; BenchConfig.import_rows sets it per run
XLSX_TARGET = 5.0  # upload → preview → commit ÷ a plain python-calamine read
XML_TARGET = 3.0  # the same ÷ a plain lxml parse + XSD validation
MEMORY_TARGET_MB = 250
_runs = itertools.count(1)


def record(i: int, year: int) -> dict:
    """One activity with every importable column filled (course, hybrid, joint, 3 supporters,
    2 MOC boards), typed as stored: what the template file of the issue holds."""
    return {
        "provider_activity_id": f"IMP{year}-{i:05d}",
        "accme_activity_id": 800_000_000 + i,
        "title": f"Cardiology update {i}",
        "format": "C",
        "delivery": "hybrid",
        "start_date": date(year, 3, 1),
        "end_date": date(year, 3, 2),
        "venue": "Main auditorium",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "credits": Decimal("12.25"),
        "description": "Heart failure: what changed in the guidelines.",
        "providership": "joint",
        "joint_providers": ["Lakeside Heart Society"],
        "passport_listed": True,
        "passport_fee": False,
        "passport_registration": "limited",
        "passport_url": "https://example.org/cardio",
        "commercial_support": True,
        "supporters": [
            {"name": "Acme Pharma", "kind": "monetary", "amount_cents": 1_250_055},
            {"name": "Scope Co", "kind": "in_kind", "nature": "durable_equipment"},
        ],
        "outcome_competence": True,
        "outcome_performance": False,
        "outcome_patient_health": True,
        "outcome_community_health": False,
        "physician_learners": 1040,
        "other_learners": 12,
        "moc": [
            {
                "board": "ABIM",
                "credit_types": ["Medical Knowledge"],
                "points": Decimal("10.50"),
                "practice_areas": ["Cardiology"],
            }
        ],
        "close": False,
    }


def _records(year: int, n: int = ROWS):
    return (record(i, year) for i in range(1, n + 1))


def _provider(b: Bench) -> int:
    """A new provider of the bench's accreditor, for one run's import."""
    with b.app.app_context():
        template = db.session.get(Provider, b.seeded.small.id)
        p = Provider(
            code=f"IMP{next(_runs)}", name="Import bench", accreditor_id=template.accreditor_id
        )
        db.session.add(p)
        db.session.commit()
        return p.id


def _import(provider_id: int, name: str, data: bytes, rows: int) -> int:
    """Upload, preview and commit `data` for the provider, as the CLI does; the job's id."""
    provider = db.session.get(Provider, provider_id)
    job = imports.create_job(provider, None, name, data, clock.now(), "cli")
    jobs.run(job.id)
    job = db.session.get(type(job), job.id)
    assert job.status == imports.PREVIEWED, job.error
    counts = imports.counts_of(job)
    assert counts.created == rows and not counts.errors, counts
    imports.request_commit(job, None, False, clock.now())
    jobs.run(job.id)
    db.session.expire_all()
    job = db.session.get(type(job), job.id)
    assert job.status == imports.COMMITTED, job.error
    return job.id


def _pipeline(b: Bench, name: str, data: bytes) -> Callable[[], None]:
    def run() -> None:
        provider_id = _provider(b)  # outside the timing
        with b.app.app_context():
            started = time.perf_counter()
            _import(provider_id, name, data, b.cfg.import_rows)
            run.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
            db.session.remove()

    return run


def _calamine(data: bytes) -> None:
    with CalamineWorkbook.from_filelike(BytesIO(data)) as book:
        book.get_sheet_by_name("Activities").to_python()


def _lxml_xsd(data: bytes) -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    assert schema().validate(root)


def _medians(pipeline, baseline, runs: int) -> tuple[float, float]:
    """Median ms of each, interleaved run by run so background load hits both alike."""
    a, bs = [], []
    baseline()  # warm the reader (imports, first allocation)
    for _ in range(runs):
        pipeline()
        a.append(pipeline.elapsed * 1000)
        started = time.perf_counter()
        baseline()
        bs.append((time.perf_counter() - started) * 1000)
    return statistics.median(a), statistics.median(bs)


@measurement
def import_xlsx(b: Bench) -> list[Row]:
    """10,000-row template .xlsx with every column: upload → preview → commit."""
    rows = b.cfg.import_rows
    data = write_activities(_records(b.today.year - 1, rows))
    t_import, t_read = _medians(
        _pipeline(b, "bench.xlsx", data), lambda: _calamine(data), b.cfg.slow_runs
    )
    row = ratio_row(
        "import .xlsx: upload → preview → commit",
        f"{rows:,} rows",
        "python-calamine read:",
        XLSX_TARGET,
        t_import,
        t_read,
    )
    row.note = f"{len(data) / 1e6:.1f} MB; every row a new activity with its child rows"
    return [row]


@measurement
def import_xml(b: Bench) -> list[Row]:
    """The same 10,000 activities as XML: upload → preview → commit."""
    rows = b.cfg.import_rows
    data = write_activities_xml(_records(b.today.year - 1, rows))
    t_import, t_parse = _medians(
        _pipeline(b, "bench.xml", data), lambda: _lxml_xsd(data), b.cfg.slow_runs
    )
    row = ratio_row(
        "import XML: upload → preview → commit",
        f"{rows:,} rows",
        "lxml parse + XSD:",
        XML_TARGET,
        t_import,
        t_parse,
    )
    row.note = f"{len(data) / 1e6:.1f} MB"
    return [row]


# --- The floor: what the import writes, written with nothing else ------------------------------
#
# The two ratios above divide the whole import by a read of the file. Part of the import is
# no reading at all: the rows it must store. This measures that part alone: the rows a
# 10,000-row import stored (its plan, the activities, their child rows, an audit event per
# activity), read back as the database holds them and written again as they are, through the
# driver (executemany on SQLite, COPY on PostgreSQL: the fastest each offers). Nothing of the
# app runs in the timing. The read plus these writes is the least any import can take that
# stores what this one does, so it says how far a target is from reach, whatever the code.

# The tables an activity import writes, in the order the commit writes them; the plan first.
_FLOOR_TABLES = (
    "import_rows",
    "activities",
    "joint_providers",
    "commercial_supporters",
    "moc_registrations",
    "audit_events",
)
_CHILD_TABLES = ("joint_providers", "commercial_supporters", "moc_registrations")


def _stored_rows(provider_id: int, job_id: int) -> dict[str, tuple[list[str], list[tuple]]]:
    """Each table's rows the import wrote, raw, oldest first: its columns and their values."""
    found: dict[str, tuple[list[str], list[tuple]]] = {}
    own = "activity_id IN (SELECT id FROM activities WHERE provider_id = :p)"
    where = {
        "import_rows": "job_id = :j",
        "activities": "provider_id = :p",
        "audit_events": "provider_id = :p AND entity_type = 'Activity'",
    }
    for name in _FLOOR_TABLES:
        table = db.metadata.tables[name]
        # Activities keep their ids (their child rows and events point at them); the other
        # tables' ids are the database's to give, as in the import.
        names = [c.name for c in table.c if c.name != "id" or name == "activities"]
        sql = f"SELECT {', '.join(names)} FROM {name} WHERE {where.get(name, own)} ORDER BY id"
        rows = db.session.execute(text(sql), {"p": provider_id, "j": job_id}).all()
        found[name] = (names, [tuple(r) for r in rows])
    return found


def _moved(stored, provider_id: int, job_id: int) -> list[tuple[str, list[str], list[tuple]]]:
    """The stored rows made a new import's: another provider, job and activity ids."""
    names, activities = stored["activities"]
    ids = iter(new_ids(db.metadata.tables["activities"], len(activities)))
    at = {n: names.index(n) for n in ("id", "provider_id")}
    new_id = {row[at["id"]]: next(ids) for row in activities}
    swap = {
        "import_rows": {"job_id": lambda _: job_id},
        "activities": {"id": new_id.__getitem__, "provider_id": lambda _: provider_id},
        "audit_events": {"provider_id": lambda _: provider_id, "entity_id": new_id.__getitem__},
    } | {name: {"activity_id": new_id.__getitem__} for name in _CHILD_TABLES}
    moved = []
    for name in _FLOOR_TABLES:
        names, rows = stored[name]
        changes = [(names.index(column), f) for column, f in swap[name].items()]
        out = []
        for row in rows:
            values = list(row)
            for i, f in changes:
                values[i] = f(values[i])
            out.append(tuple(values))
        moved.append((name, names, out))
    return moved


def _write_raw(name: str, names: list[str], rows: list[tuple]) -> None:
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":  # the commit's own COPY writer, values as read
        copy_rows(conn, db.metadata.tables[name], names, rows)
        return
    # Not insert_rows: its bind processors expect Python values, these are SQLite's own.
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(names)}) VALUES ({marks})", rows)


def _writes_alone(b: Bench, stored) -> Callable[[], None]:
    def run() -> None:
        provider_id = _provider(b)
        with b.app.app_context():  # a job for the plan's rows to belong to; then the timing
            provider = db.session.get(Provider, provider_id)
            job = imports.create_job(provider, None, "floor.xlsx", b"-", clock.now(), "cli")
            # Never to be read: a job queued would be work for any job thread running.
            job.status, job.next_step = imports.DISCARDED, None
            db.session.commit()
            moved = _moved(stored, provider_id, job.id)
            started = time.perf_counter()
            for name, names, rows in moved:
                _write_raw(name, names, rows)
            db.session.commit()
            run.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
            run.written = {name: len(rows) for name, _, rows in moved}  # type: ignore[attr-defined]
            db.session.remove()

    return run


def _floor_row(label: str, baseline: str, target: float, writes: float, read: float) -> Row:
    ratio = (read + writes) / read
    verdict = "floor over target" if ratio > target else "floor under target"
    return Row(
        f"{label}: the read + its writes alone (floor)",
        "",
        read + writes,
        baseline,
        read,
        ratio,
        f"≤ {target:g}",
        None,
        verdict=verdict,
    )


@measurement
def import_floor(b: Bench) -> list[Row]:
    """The least an import storing the same rows can take, against each format's target."""
    rows = b.cfg.import_rows
    records = list(_records(b.today.year - 1, rows))
    xlsx, xml = write_activities(records), write_activities_xml(records)
    provider_id = _provider(b)
    with b.app.app_context():
        job_id = _import(provider_id, "floor.xlsx", xlsx, rows)
        stored = _stored_rows(provider_id, job_id)
        db.session.remove()
    writes = _writes_alone(b, stored)
    read_xlsx, read_xml, wrote = [], [], []
    for _ in range(b.cfg.slow_runs):  # interleaved, as _medians does
        writes()
        wrote.append(writes.elapsed * 1000)
        for baseline, times in (
            (lambda: _calamine(xlsx), read_xlsx),
            (lambda: _lxml_xsd(xml), read_xml),
        ):
            started = time.perf_counter()
            baseline()
            times.append((time.perf_counter() - started) * 1000)
    t_writes = statistics.median(wrote)
    counts = ", ".join(f"{name} {n:,}" for name, n in writes.written.items())
    out = [
        _floor_row(
            "import .xlsx",
            "python-calamine read:",
            XLSX_TARGET,
            t_writes,
            statistics.median(read_xlsx),
        ),
        _floor_row(
            "import XML", "lxml parse + XSD:", XML_TARGET, t_writes, statistics.median(read_xml)
        ),
    ]
    for row in out:
        row.size = f"{rows:,} rows"
        row.note = f"the writes alone: {t_writes:.0f} ms for {counts}"
    return out


# --- Peak memory, in a process of its own -------------------------------------------------------


def _status_kib(field: str) -> int | None:
    """A line of Linux's /proc/self/status in KiB (VmHWM: peak resident set, VmRSS: now)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Start VmHWM again from the current resident set (Linux ≥ 4.0), so the peak measured is
    the import's, not that of start-up (argon2's one-off hash at import time peaks near 140 MB
    and is freed at once)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _memory_child(rows: int, kind: str = "xlsx") -> None:
    """Run in a fresh interpreter: import `rows` activities (an .xlsx or XML file) into a new
    SQLite file, print the resident set (MB) just before the import and its peak during it.

    Not `ru_maxrss`: a child started by fork (or vfork) and exec inherits its parent's peak, so
    measured under the bench process (hundreds of MB after seeding and the timed imports) it
    reported the parent. VmHWM belongs to this address space alone.
    """
    from pars_app import create_app
    from pars_app.models import Accreditor

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/mem.sqlite3",
                "TESTING": True,
                "SECRET_KEY": "x",
                "PARS_JOB_BACKEND": "immediate",
            }
        )
        with app.app_context():
            db.create_all()
            provider = Provider(
                code="MEM", name="Memory", accreditor=Accreditor(code="A", name="A")
            )
            db.session.add(provider)
            db.session.commit()
            write = write_activities if kind == "xlsx" else write_activities_xml
            data = write(_records(clock.today().year - 1, rows))
            reset = _reset_peak()
            ready = _status_kib("VmRSS")
            job = imports.create_job(provider, None, f"mem.{kind}", data, clock.now(), "cli")
            jobs.run(job.id)
            imports.request_commit(db.session.get(type(job), job.id), None, False, clock.now())
            jobs.run(job.id)
            done = db.session.get(type(job), job.id)
            assert done.status == imports.COMMITTED, done.error
            peak = _status_kib("VmHWM")
    if peak is None or ready is None:  # not Linux: the whole process's peak, start-up included
        peak = ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = {"ready_mb": ready / 1024, "peak_mb": peak / 1024, "since_start": not reset}
    print(json.dumps(found))


@measurement
def import_memory(b: Bench) -> list[Row]:
    """Peak resident memory of a process of its own while it imports the 10,000-row file,
    .xlsx and XML (the whole resident set: interpreter, app, the file in memory, the preview
    and the commit), measured from just before the import."""
    return [_memory_row(b.cfg.import_rows, *kind) for kind in _MEMORY_KINDS]


# (file kind, its label, what the note adds). The XML reader validates the whole document
# against the XSD before reading a row, so the parsed tree is held while the rows are planned.
_MEMORY_KINDS = (
    ("xlsx", ".xlsx", ""),
    ("xml", "XML", "; the parsed, validated tree is held while the rows are planned"),
)


def _memory_row(rows: int, kind: str, label: str, why: str) -> Row:
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"PYTHONPATH": str(root)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from bench.import_pipeline import _memory_child; _memory_child({rows}, {kind!r})",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    peak = found["peak_mb"]
    since = "since it started" if found["since_start"] else "during the import"
    return Row(
        f"import {label}: peak memory",
        f"{rows:,} rows",
        peak,
        "limit:",
        MEMORY_TARGET_MB,
        peak / MEMORY_TARGET_MB,
        "≤ 1",
        peak <= MEMORY_TARGET_MB,
        unit="MB",
        note=f"peak resident set of a process of its own (VmHWM), SQLite, {since}; "
        f"{found['ready_mb']:.0f} MB resident just before the import{why}",
    )

"""Batch imports (spec §9, issue 4): upload → dry-run preview → commit, one pipeline for the web
upload, the CLI and the job queue.

A job moves through: queued → previewing → previewed → commit_queued → committing →
committed. Off that path: refused (the file itself cannot be read safely: nothing to retry),
failed (the worker died or hit a bug: retry), stale (the data changed between the preview and
the commit: preview again), discarded (the user dropped it).

The preview reads the file once, plans every row (`import_plan`, `import_counts`) and stores
the plan as `ImportRow`s, committing progress every chunk so a progress bar can follow it. The
commit applies the stored plan in one transaction (`import_commit`) and never reads the file
again. Nothing the user has not seen in the preview is ever written.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from itertools import islice
from pathlib import PurePath
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Connection

from ..extensions import db
from ..io import DEFAULT_LIMITS, FileRefused, Limits, RawRow, Upload, read_file
from ..io.error_file import ErrorRow, write_error_rows
from ..models import Activity, ImportFile, ImportJob, ImportRow, Provider
from . import audit, clock
from .activity_close import locked_years
from .import_commit import CommitResult, apply_activity_rows, insert_rows, known_ids
from .import_counts import CountsContext, apply_counts_rows, plan_counts_row, snapshots_of
from .import_plan import (
    ALREADY_CLOSED,
    CLOSE,
    CLOSE_REFUSED,
    ERROR,
    ROW_COLUMNS,
    PlanContext,
    PlanOutdated,
    plan_activity_row,
)
from .paging import Paged, clamp_page

QUEUED, PREVIEWING, PREVIEWED = "queued", "previewing", "previewed"
COMMIT_QUEUED, COMMITTING, COMMITTED = "commit_queued", "committing", "committed"
REFUSED, FAILED, STALE, DISCARDED = "refused", "failed", "stale", "discarded"
WAITING = frozenset({QUEUED, COMMIT_QUEUED})
RUNNING = frozenset({PREVIEWING, COMMITTING})
STATUS_LABELS = {
    QUEUED: "Waiting to be read",
    PREVIEWING: "Reading and checking",
    PREVIEWED: "Preview ready: nothing written yet",
    COMMIT_QUEUED: "Waiting to be imported",
    COMMITTING: "Importing",
    COMMITTED: "Imported",
    REFUSED: "File refused",
    FAILED: "Failed: nothing written",
    STALE: "Changed since the preview: nothing written",
    DISCARDED: "Discarded: nothing written",
}
CHUNK = 500
PROGRESS_EVERY = 0.5  # seconds between saves of a preview's progress
PER_PAGE = 50
SHOWS = ("all", "create", "update", "close", "unchanged", "error", "warning")


class ImportRefused(ValueError):
    """The asked step cannot be taken now; the message says why."""


@dataclass(frozen=True)
class ImportCounts:
    """What a preview found (or a commit did), by kind of row."""

    created: int = 0
    updated: int = 0
    closed: int = 0
    unchanged: int = 0
    errors: int = 0
    warnings: int = 0
    close_refused: int = 0
    already_closed: int = 0  # Close Activity = Yes on an activity closed before

    def line(self) -> str:
        """The CLI's one-line summary (DESIGN.md §4)."""
        return (
            f"created {self.created}, updated {self.updated}, closed {self.closed}, "
            f"unchanged {self.unchanged}, errors {self.errors}"
        )

    @property
    def changes(self) -> int:
        return self.created + self.updated + self.closed


def counts_of(job: ImportJob) -> ImportCounts:
    """The counts stored with a job (zeros before its preview)."""
    return ImportCounts(**json.loads(job.counts_json)) if job.counts_json else ImportCounts()


def uploaded_by(job: ImportJob) -> str:
    """Who uploaded the file, in the history's words: a user's email, "command line" for
    `flask pars import` (it has no user), or "a removed user"."""
    if job.created_by is not None:
        return job.created_by.email
    return "command line" if _from_cli(job) else "a removed user"


def uploaded_how(job: ImportJob) -> str:
    """The same for the import's page, after "Uploaded <when>": "by …" or "from the command
    line"."""
    return f"{'from the' if _from_cli(job) else 'by'} {uploaded_by(job)}"


def _from_cli(job: ImportJob) -> bool:
    return job.created_by is None and job.via == "cli"


def limits() -> Limits:
    """Upload limits: the request's size cap also bounds what the readers accept."""
    cap = current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_LIMITS.max_bytes
    return Limits(max_bytes=int(cap))


# --- Creating and steering a job --------------------------------------------------------------


def _clean_name(filename: str) -> str:
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    return "".join(ch for ch in name if ch.isprintable())[:255] or "upload"


def create_job(
    provider: Provider, user_id: int | None, filename: str, data: bytes, now: datetime, via: str
) -> ImportJob:
    """Store an upload as a queued job (its preview runs next); audited."""
    job = ImportJob(
        provider_id=provider.id,
        created_by_id=user_id,
        created_at=now,
        filename=_clean_name(filename),
        via=via,
        status=QUEUED,
        next_step="preview",
    )
    db.session.add(job)
    db.session.flush()
    _store_file(job.id, data)
    audit.record(
        "import.uploaded",
        user_id=user_id,
        provider_id=provider.id,
        entity=job,
        via=via,
        filename=job.filename,
        size=len(data),
    ).at = now
    db.session.commit()
    return job


def request_commit(job: ImportJob, user_id: int | None, skip_errors: bool, now: datetime) -> None:
    """Queue the commit of a previewed job. Refused while rows are in error, unless the user
    chose to leave them out; refused when there is nothing to write."""
    if job.status != PREVIEWED:
        raise ImportRefused(f"This import cannot be confirmed now ({STATUS_LABELS[job.status]}).")
    counts = counts_of(job)
    if counts.errors and not skip_errors:
        raise ImportRefused(
            f"{counts.errors:,} row(s) have errors. Fix them and upload the file again, or "
            "choose to import the other rows and leave those out."
        )
    if not counts.changes:
        raise ImportRefused("Nothing to import: no row creates, updates or closes anything.")
    job.status, job.next_step = COMMIT_QUEUED, "commit"
    job.skip_errors = bool(skip_errors)
    job.committed_by_id, job.error = user_id, None
    db.session.commit()


def discard(job: ImportJob, user_id: int | None, now: datetime) -> None:
    """Drop a previewed (or failed, stale) job: nothing was written, and nothing will be."""
    if job.status not in (PREVIEWED, FAILED, STALE, REFUSED):
        raise ImportRefused(f"This import cannot be discarded now ({STATUS_LABELS[job.status]}).")
    job.status, job.next_step, job.finished_at = DISCARDED, None, now
    db.session.execute(delete(ImportRow).where(ImportRow.job_id == job.id))
    # The file is not needed any more (its history line stays); deleted without loading it.
    db.session.execute(delete(ImportFile).where(ImportFile.job_id == job.id))
    db.session.expire(job, ["file"])
    audit.record(
        "import.discarded", user_id=user_id, provider_id=job.provider_id, entity=job
    ).at = now
    db.session.commit()


def file_size(job_id: int) -> int | None:
    """The size of the job's file in bytes, None once it is gone; without loading it (it may
    be 25 MB, and the request that stored it has just expired it by committing)."""
    size = func.length(ImportFile.content)
    return db.session.scalar(select(size).where(ImportFile.job_id == job_id))


def retry(job: ImportJob) -> None:
    """Run a failed step again, or preview a stale job again against the current data."""
    if job.status == FAILED and file_size(job.id) is not None:
        job.next_step = job.next_step or "preview"
    elif job.status == STALE:
        job.next_step = "preview"
    else:
        raise ImportRefused(f"This import cannot be retried ({STATUS_LABELS[job.status]}).")
    job.status = COMMIT_QUEUED if job.next_step == "commit" else QUEUED
    job.error, job.claimed_by = None, None
    db.session.commit()


# --- Garbage collection -----------------------------------------------------------------------

_paused = 0
_was_enabled = False
_pause_lock = threading.Lock()


@contextmanager
def _collections_paused() -> Iterator[None]:
    """Run a preview or commit without Python's cyclic garbage collector.

    An import allocates millions of short-lived objects, each freed at once by reference
    counting (a whole 10,000-row import leaves a few hundred cycles). But the allocations
    alone set off the collector, and every full collection walks all of the app's objects:
    measured, collections took a third of the time of a 10,000-row import. Collection resumes
    when the last running import step ends (steps may run in several threads at once).
    """
    global _paused, _was_enabled
    with _pause_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


# --- The preview ------------------------------------------------------------------------------


def _chunks(rows: Iterator[RawRow]) -> Iterator[list[RawRow]]:
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def _existing(provider_id: int, chunk: list[RawRow], known: set[str]) -> dict[str, Activity]:
    pids = {r.provider_activity_id for r in chunk} & known
    if not pids:
        return {}
    found = db.session.scalars(
        select(Activity).where(
            Activity.provider_id == provider_id, Activity.provider_activity_id.in_(pids)
        )
    )
    return {a.provider_activity_id: a for a in found}


def _plan_chunk(
    kind: str, chunk: list[RawRow], ctx: PlanContext, provider_id: int, known: set[str]
) -> list:
    existing = _existing(provider_id, chunk, known)
    if kind == "counts":
        assert isinstance(ctx, CountsContext)
        ctx.snapshots = snapshots_of([a.id for a in existing.values() if a.format == "EM"])
        return [plan_counts_row(r, existing.get(r.provider_activity_id), ctx) for r in chunk]
    return [plan_activity_row(r, existing.get(r.provider_activity_id), ctx) for r in chunk]


def _tally(tally: Counter, plans: list) -> None:
    for p in plans:
        tally[p.action] += 1
        tally["closed"] += p.close == CLOSE
        tally["close_refused"] += p.close == CLOSE_REFUSED
        tally["already_closed"] += p.close == ALREADY_CLOSED
        tally["warnings"] += bool(p.messages) and any(m.level == "warning" for m in p.messages)


def _refuse(job: ImportJob, err: FileRefused, now: datetime) -> None:
    db.session.rollback()
    db.session.execute(delete(ImportRow).where(ImportRow.job_id == job.id))
    job.status, job.next_step, job.claimed_by, job.finished_at = REFUSED, None, None, now
    job.error = err.message
    job.report_json = json.dumps([str(e) for e in err.errors]) if err.errors else None
    db.session.commit()


class _Progress:
    """A preview's progress, saved with its planned rows every PROGRESS_EVERY seconds, or less
    often when saving is slow.

    Each save is a commit (the planned rows so far, and the job's counters). When the job's row
    still carried the uploaded file (before migration 0006) a save took 60 to 200 ms for a
    21 MB XML file, and saving after every chunk of 500 rows cost more than reading it; a
    commit still costs a write to disk. Half a second is plenty for a bar polled every second,
    and waiting ten times as long as the last save took keeps saving under a tenth of the
    preview whatever the database.
    """

    def __init__(self, job: ImportJob, kind: str, total: int):
        self.job, self.kind, self.total = job, kind, total
        self.done = 0
        self.saved_at = time.monotonic()
        self.wait = PROGRESS_EVERY

    def add(self, rows: int) -> None:
        self.done += rows
        if time.monotonic() - self.saved_at >= self.wait:
            self.save()

    def record(self) -> None:
        job = self.job
        job.kind, job.processed_rows = self.kind, self.done
        job.total_rows = max(self.total, self.done)
        job.heartbeat_at = clock.now()

    def save(self) -> None:
        started = time.monotonic()
        self.record()
        db.session.commit()
        self.saved_at = time.monotonic()
        self.wait = max(PROGRESS_EVERY, 10 * (self.saved_at - started))


def run_preview(job: ImportJob) -> None:
    """Read, check and plan every row of the job's file, committing progress as it goes."""
    with _collections_paused():
        _preview(job)


# On SQLite an upload is written and read through sqlite3's blob API, never as one bound
# value or one fetched value. Bound, SQLite copied the file and kept the copy in sqlite3's
# cached INSERT statement until the connection's next upload (25 MB a pooled connection, and
# 22 MB of a 10,000-activity XML import's peak); fetched, it was held twice, in SQLite's
# buffer and in Python's, while the XML reader built its tree (40 MB more). PostgreSQL takes
# and hands back a bytea whole.


def _sqlite(connection: Connection) -> sqlite3.Connection | None:
    raw = connection.connection.driver_connection
    return raw if isinstance(raw, sqlite3.Connection) else None


def _store_file(job_id: int, data: bytes) -> None:
    connection = db.session.connection()
    raw = _sqlite(connection)
    if raw is None:
        db.session.add(ImportFile(job_id=job_id, content=data))
        return
    rowid = connection.exec_driver_sql(
        "INSERT INTO import_files (job_id, content) VALUES (?, zeroblob(?))", (job_id, len(data))
    ).lastrowid
    if data:
        with raw.blobopen(ImportFile.__tablename__, "content", rowid) as blob:
            blob.write(data)


@contextmanager
def _stored_file(job: ImportJob) -> Iterator[Upload]:
    """The job's uploaded file, to read: on SQLite where it lies (see above)."""
    raw = _sqlite(db.session.connection())
    rowid = None
    if raw is not None:
        rowid = db.session.scalar(
            text("SELECT rowid FROM import_files WHERE job_id = :job"), {"job": job.id}
        )
    if rowid is None:  # not SQLite, or no file (discarded): an empty file is refused as such
        yield BytesIO(job.content or b"")
        return
    with raw.blobopen(ImportFile.__tablename__, "content", rowid, readonly=True) as blob:
        yield blob


def _preview(job: ImportJob) -> None:
    db.session.execute(delete(ImportRow).where(ImportRow.job_id == job.id))
    job.processed_rows, job.total_rows, job.counts_json = 0, 0, None
    db.session.commit()
    today = clock.today()
    try:
        with _stored_file(job) as upload:  # read_file is done with it when it returns
            result = read_file(job.filename, upload, limits())
        cls = CountsContext if result.kind == "counts" else PlanContext
        ctx = cls(today, locked_years(job.provider_id), result.column_label)
        tally: Counter = Counter()
        # The job is only touched when progress is saved: autoflush would write a change to it
        # at the next query.
        progress = _Progress(job, result.kind, result.total_hint or 0)
        # Read once: each save expires the job, and reading it again is a query per chunk.
        job_id, provider_id = job.id, job.provider_id
        known = known_ids(provider_id)
        for chunk in _chunks(result.rows):
            plans = _plan_chunk(result.kind, chunk, ctx, provider_id, known)
            insert_rows(ImportRow.__table__, ROW_COLUMNS, [p.as_row(job_id) for p in plans])
            _tally(tally, plans)
            progress.add(len(chunk))
        progress.record()  # committed below, with the outcome
    except FileRefused as err:  # damage found part-way through (a text file's quoting)
        _refuse(job, err, clock.now())
        return
    if not job.processed_rows:
        _refuse(job, FileRefused("The file has a header but no rows to import."), clock.now())
        return
    job.counts_json = json.dumps(
        ImportCounts(
            created=tally["create"],
            updated=tally["update"],
            closed=tally["closed"],
            unchanged=tally["unchanged"],
            errors=tally["error"],
            warnings=tally["warnings"],
            close_refused=tally["close_refused"],
            already_closed=tally["already_closed"],
        ).__dict__
    )
    job.status, job.next_step, job.claimed_by = PREVIEWED, None, None
    job.total_rows = job.processed_rows
    db.session.commit()


# --- The commit -------------------------------------------------------------------------------


def _conflict_report(result: CommitResult) -> str:
    return json.dumps(
        [
            {
                "number": c.number,
                "provider_activity_id": c.provider_activity_id,
                "message": c.message,
            }
            for c in result.conflicts[:200]
        ]
    )


def _stale(job_id: int, now: datetime, why: str, report: str | None = None) -> None:
    """Write nothing, and ask for a new preview."""
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    job.status, job.next_step, job.claimed_by, job.finished_at = STALE, None, None, now
    job.error = why + " Preview the file again to see the current differences."
    job.report_json = report
    db.session.commit()


def run_commit(job: ImportJob) -> None:
    """Apply the previewed rows in one transaction; on any conflict write nothing."""
    with _collections_paused():
        _commit(job)


def _commit(job: ImportJob) -> None:
    now, job_id, provider_id = clock.now(), job.id, job.provider_id
    user_id = job.committed_by_id
    # The first statement of the transaction is a write: on SQLite it takes the write lock
    # now, so nobody can change the rows between our checks and our writes.
    db.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=now))
    apply = apply_counts_rows if job.kind == "counts" else apply_activity_rows
    try:
        result = apply(job_id, provider_id, user_id, now, clock.today())
    except PlanOutdated:
        _stale(job_id, now, "The app was updated since the preview, so nothing was imported.")
        return
    if result.conflicts:
        _stale(
            job_id,
            now,
            f"{len(result.conflicts):,} row(s) changed since the preview, so nothing was imported.",
            _conflict_report(result),
        )
        return
    previewed = counts_of(job)
    done = ImportCounts(
        created=result.created,
        updated=result.updated,
        closed=result.closed,
        unchanged=previewed.unchanged,
        errors=previewed.errors if job.skip_errors else 0,
        warnings=previewed.warnings,
        close_refused=previewed.close_refused,
        already_closed=previewed.already_closed,
    )
    job.counts_json = json.dumps(done.__dict__)
    job.status, job.next_step, job.claimed_by = COMMITTED, None, None
    job.committed_at = job.finished_at = now
    audit.record(
        "import.committed",
        user_id=user_id,
        provider_id=provider_id,
        entity=job,
        via="import",
        filename=job.filename,
        kind=job.kind,
        counts=done.__dict__,
        skipped_errors=bool(job.skip_errors),
    ).at = now
    db.session.commit()


# --- Reading jobs back ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsPage(Paged):
    rows: list[ImportRow]
    show: str
    total: int
    page: int
    per_page: int = PER_PAGE


def _show_filter(show: str) -> list:
    if show == "close":
        return [ImportRow.close != ""]
    if show == "warning":
        return [ImportRow.messages_json.like('%"level": "warning"%')]
    if show in ("create", "update", "unchanged", "error"):
        return [ImportRow.action == show]
    return []


def view_counts(job: ImportJob) -> dict[str, int]:
    """How many rows each of SHOWS lists, from the job's counts (no query): as `_show_filter`
    selects them, so "close" holds every row with Close Activity = Yes: those that close, those
    refused (their rows carry the reasons) and those already closed."""
    c = counts_of(job)
    return {
        "all": job.total_rows,
        "create": c.created,
        "update": c.updated,
        "close": c.closed + c.close_refused + c.already_closed,
        "unchanged": c.unchanged,
        "error": c.errors,
        "warning": c.warnings,
    }


def rows_page(job: ImportJob, show: str, page: int) -> RowsPage:
    """One page of the job's planned rows, optionally only one kind (two queries)."""
    show = show if show in SHOWS else "all"
    where = [ImportRow.job_id == job.id, *_show_filter(show)]
    total = db.session.scalar(select(func.count()).select_from(ImportRow).where(*where)) or 0
    page = clamp_page(page, total, PER_PAGE)
    rows = db.session.scalars(
        select(ImportRow)
        .where(*where)
        .order_by(ImportRow.number)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return RowsPage(list(rows), show, total, page)


@dataclass(frozen=True)
class HistoryPage(Paged):
    jobs: list[ImportJob]
    total: int
    page: int
    per_page: int = 25


def history(provider_id: int, page: int) -> HistoryPage:
    """The provider's imports, newest first."""
    where = [ImportJob.provider_id == provider_id]
    total = db.session.scalar(select(func.count()).select_from(ImportJob).where(*where)) or 0
    page = clamp_page(page, total, 25)
    jobs = db.session.scalars(
        select(ImportJob)
        .where(*where)
        .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
        .limit(25)
        .offset((page - 1) * 25)
    ).all()
    return HistoryPage(list(jobs), total, page)


def messages_of(row: ImportRow) -> list[dict[str, str]]:
    return json.loads(row.messages_json) if row.messages_json else []


def changes_of(row: ImportRow) -> dict[str, Any]:
    return json.loads(row.changes_json) if row.changes_json else {}


def error_rows(job: ImportJob) -> Iterator[ErrorRow]:
    for row in db.session.scalars(
        select(ImportRow)
        .where(ImportRow.job_id == job.id, ImportRow.action == ERROR)
        .order_by(ImportRow.number)
        .execution_options(yield_per=1000)
    ):
        errors = [f"{m['column']}: {m['text']}" for m in messages_of(row) if m["level"] == "error"]
        values = json.loads(row.raw_json) if row.raw_json else {}
        yield ErrorRow(row.number, "\n".join(errors), values)


def error_file(job: ImportJob) -> bytes:
    """The rows in error as a workbook, ready to fix and upload again."""
    return write_error_rows(error_rows(job), counts=job.kind == "counts")


def report_of(job: ImportJob) -> list[dict[str, Any]]:
    """A refused file's line errors, or a stale commit's rows, as stored with the job."""
    if not job.report_json:
        return []
    found = json.loads(job.report_json)
    return [item if isinstance(item, dict) else {"message": item} for item in found]

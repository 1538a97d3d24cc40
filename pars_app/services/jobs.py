"""The job queue for imports: the `import_jobs` table itself, claimed atomically by workers.

Why a table and not huey or Redis (docs/decisions.md): the job's state already lives there, in
the same database as the data, so a job and its effects commit or roll back together; it works
the same on the embedded SQLite default and on PostgreSQL, with no extra service to run.

Backends (`PARS_JOB_BACKEND`):
- `thread` (the default): a worker thread inside the web process takes queued jobs. Nothing
  else to start; with several web processes every one of them has a thread, and a job is
  claimed by exactly one (`UPDATE … WHERE status = queued`).
- `worker`: the web only queues; `flask pars worker` processes (any number) run the jobs.
- `immediate`: the job runs inside the request that queued it (tests, scripts).
Small files run in the request under every backend (`PARS_IMPORT_INLINE_ROWS`): a coordinator
uploading twenty rows should see the preview at once, not a progress bar.

A worker that dies mid-job (SIGKILL, a restart) leaves its transaction uncommitted, so the
database rolls it back; the job row still says it is running. `reap` notices (the claiming
process is gone, or its heartbeat is old) and marks it failed, ready to retry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import ImportJob
from . import clock, imports

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=15)  # a running job silent this long is taken for dead
POLL_SECONDS = 1.0
_RUNNING_STATUS = {"preview": imports.PREVIEWING, "commit": imports.COMMITTING}


def me() -> str:
    """This process, as written into the jobs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(claimed_by: str | None) -> bool:
    if not claimed_by:
        return False
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's worker: only the heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(job: ImportJob) -> bool:
    """Mark a running job whose worker has died as failed. True when it did."""
    if job.status not in imports.RUNNING:
        return False
    heartbeat = job.heartbeat_at or job.created_at
    silent = heartbeat is not None and clock.now() - heartbeat > STALE_AFTER
    if _alive(job.claimed_by) and not silent:
        return False
    step = "reading the file" if job.status == imports.PREVIEWING else "importing"
    job.status, job.claimed_by = imports.FAILED, None
    job.error = f"The import stopped while {step} (the worker was stopped). Nothing was written."
    db.session.commit()
    return True


def reap_all() -> int:
    """Fail every job whose worker has died (run when a worker starts, and between jobs)."""
    running = db.session.scalars(
        select(ImportJob).where(ImportJob.status.in_(imports.RUNNING))
    ).all()
    return sum(reap(job) for job in running)


def claim(job_id: int) -> ImportJob | None:
    """Take a queued job for this process; None when another worker was faster."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.status not in imports.WAITING or job.next_step not in _RUNNING_STATUS:
        return None
    taken = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == job.status)
        .values(
            status=_RUNNING_STATUS[job.next_step],
            claimed_by=me(),
            heartbeat_at=clock.now(),
            attempts=ImportJob.attempts + 1,
        )
    ).rowcount
    db.session.commit()
    if not taken:
        return None
    db.session.refresh(job)
    return job


def run(job_id: int) -> bool:
    """Claim and run the job's next step. False when there was nothing to run."""
    job = claim(job_id)
    if job is None:
        return False
    step = job.next_step
    try:
        if step == "preview":
            imports.run_preview(job)
        else:
            imports.run_commit(job)
    except Exception as err:
        db.session.rollback()
        log.exception("import job %s failed during %s", job_id, step)
        job = db.session.get(ImportJob, job_id)
        job.status, job.claimed_by = imports.FAILED, None
        job.error = f"The import failed unexpectedly ({type(err).__name__}). Nothing was written."
        db.session.commit()
    return True


def next_queued() -> int | None:
    """The oldest job waiting for a worker."""
    return db.session.scalar(
        select(ImportJob.id)
        .where(ImportJob.status.in_(imports.WAITING), or_(ImportJob.next_step.is_not(None)))
        .order_by(ImportJob.id)
        .limit(1)
    )


def work_once() -> bool:
    """Run one queued job if there is one (what a worker does in a loop)."""
    job_id = next_queued()
    if job_id is None:
        return False
    run(job_id)
    return True


def work(stop: threading.Event, poll: float = POLL_SECONDS) -> None:
    """Run jobs until `stop` is set: the body of `flask pars worker` and the embedded thread."""
    reap_all()
    while not stop.is_set():
        try:
            busy = work_once()
        except Exception:  # the database went away for a moment: keep the worker alive
            log.exception("job worker: could not take a job")
            db.session.rollback()
            busy = False
        finally:
            db.session.remove()
        if not busy:
            _wake.wait(poll)
            _wake.clear()


# --- Queueing ---------------------------------------------------------------------------------

_wake = threading.Event()
_thread_lock = threading.Lock()
_threads: dict[int, threading.Thread] = {}


def _start_thread(app: Flask) -> None:
    with _thread_lock:
        thread = _threads.get(id(app))
        if thread is not None and thread.is_alive():
            return

        def body() -> None:
            with app.app_context():
                work(threading.Event())

        thread = threading.Thread(target=body, name="pars-import-worker", daemon=True)
        _threads[id(app)] = thread
        thread.start()


def ensure_worker() -> None:
    """Under the embedded `thread` backend, make sure this process runs a worker thread."""
    if backend() == "thread":
        _start_thread(current_app._get_current_object())


def backend() -> str:
    value = current_app.config.get("PARS_JOB_BACKEND", "thread")
    return "thread" if value in ("thread", "sqlite", "") else value


def _small(job: ImportJob) -> bool:
    """Small enough to run in the request: a preview of a small file, a commit of few rows."""
    config = current_app.config
    if job.next_step == "commit":
        return job.total_rows <= int(config.get("PARS_IMPORT_INLINE_ROWS", 500))
    size = imports.file_size(job.id) or 0
    return size <= int(config.get("PARS_IMPORT_INLINE_BYTES", 256 * 1024))


def dispatch(job: ImportJob) -> None:
    """Run the job's queued step now (immediate backend, or a small job) or hand it on."""
    if backend() == "immediate" or _small(job):
        run(job.id)
        return
    ensure_worker()
    _wake.set()

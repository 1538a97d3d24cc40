"""Batch files: upload, the dry-run preview (with a progress bar for big files), confirm,
the rows in error as a workbook, and the provider's import history."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from ..extensions import db
from ..models import ImportJob
from ..security import EDITORS, is_htmx, provider_required
from ..services import clock, imports, jobs
from ..services.import_plan import field_label
from .exports import XLSX, download
from .params import to_int

bp = Blueprint("imports", __name__, url_prefix="/imports")


def _can_edit() -> bool:
    return g.get("membership") is not None and g.membership.role in EDITORS


def _job(job_id: int) -> ImportJob:
    # ImportJob is provider-scoped: another provider's job does not exist here (404).
    job = db.get_or_404(ImportJob, job_id)
    if job.provider_id != g.provider.id:
        abort(404)
    return job


@bp.route("")
@login_required
@provider_required()
def index():
    page = imports.history(g.provider.id, to_int(request.args.get("page")) or 1)
    return render_template(
        "imports/index.html",
        page=page,
        labels=imports.STATUS_LABELS,
        counts_of=imports.counts_of,
        uploaded_by=imports.uploaded_by,
        can_edit=_can_edit(),
        page_url=lambda n: url_for("imports.index", page=n),
    )


@bp.route("/new")
@login_required
@provider_required(*EDITORS)
def new():
    return render_template("imports/new.html", error=None)


@bp.route("/new", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def upload():
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return render_template("imports/new.html", error="Choose a file to upload."), 422
    data = sent.read()
    job = imports.create_job(g.provider, current_user.id, sent.filename, data, clock.now(), "web")
    jobs.dispatch(job)
    return redirect(url_for("imports.show", job_id=job.id))


def _show_context(job: ImportJob) -> dict:
    page = None
    if job.status in (imports.PREVIEWED, imports.COMMITTED, imports.STALE):
        page = imports.rows_page(
            job, request.args.get("show", "all"), to_int(request.args.get("page")) or 1
        )
    show = page.show if page else "all"
    return dict(
        job=job,
        counts=imports.counts_of(job),
        uploaded_how=imports.uploaded_how(job),
        labels=imports.STATUS_LABELS,
        page=page,
        shows=imports.SHOWS,
        can_edit=_can_edit(),
        messages_of=imports.messages_of,
        changes_of=imports.changes_of,
        field_label=field_label,
        report=imports.report_of(job),
        file_size=imports.file_size(job.id),
        view_counts=imports.view_counts(job),
        page_url=lambda n: url_for("imports.show", job_id=job.id, show=show, page=n),
    )


def _watch(job: ImportJob) -> None:
    """A job still waiting or running: make sure someone runs it, and notice a dead worker."""
    if job.status in imports.RUNNING:
        jobs.reap(job)
    elif job.status in imports.WAITING:
        jobs.ensure_worker()


@bp.route("/<int:job_id>")
@login_required
@provider_required()
def show(job_id: int):
    job = _job(job_id)
    _watch(job)
    return render_template("imports/show.html", **_show_context(job))


@bp.route("/<int:job_id>/progress")
@login_required
@provider_required()
def progress(job_id: int):
    """The progress bar, polled by htmx; once the job is done the page reloads itself."""
    job = _job(job_id)
    _watch(job)
    if job.status in imports.RUNNING or job.status in imports.WAITING:
        return render_template("imports/_progress.html", job=job, labels=imports.STATUS_LABELS)
    if not is_htmx():
        return redirect(url_for("imports.show", job_id=job.id))
    resp = make_response("", 204)  # nothing to swap: htmx reloads the page for the result
    resp.headers["HX-Refresh"] = "true"
    return resp


def _step(job: ImportJob, action) -> object:
    try:
        action()
    except imports.ImportRefused as err:
        flash(str(err), "error")
    return redirect(url_for("imports.show", job_id=job.id))


@bp.route("/<int:job_id>/commit", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def commit(job_id: int):
    job = _job(job_id)
    skip = request.form.get("skip_errors") == "yes"

    def confirm() -> None:
        imports.request_commit(job, current_user.id, skip, clock.now())
        jobs.dispatch(job)

    return _step(job, confirm)


@bp.route("/<int:job_id>/discard", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def discard(job_id: int):
    job = _job(job_id)
    return _step(job, lambda: imports.discard(job, current_user.id, clock.now()))


@bp.route("/<int:job_id>/retry", methods=["POST"])
@login_required
@provider_required(*EDITORS)
def retry(job_id: int):
    job = _job(job_id)

    def again() -> None:
        imports.retry(job)
        jobs.dispatch(job)

    return _step(job, again)


@bp.route("/<int:job_id>/errors.xlsx")
@login_required
@provider_required()
def errors_file(job_id: int):
    job = _job(job_id)
    if imports.counts_of(job).errors == 0:
        flash("This import has no rows in error.", "info")
        return redirect(url_for("imports.show", job_id=job.id))
    stem = job.filename.rsplit(".", 1)[0] or "import"
    return download(imports.error_file(job), XLSX, f"{stem}-errors.xlsx")


@bp.route("/<int:job_id>/file")
@login_required
@provider_required()
def uploaded_file(job_id: int):
    """The file exactly as it was uploaded, kept with its import until the import is discarded
    (what was sent, for the office's own records)."""
    job = _job(job_id)
    data = job.content
    if data is None:  # discarded: the file went with it (the history line stays)
        flash("The uploaded file was deleted when this import was discarded.", "info")
        return redirect(url_for("imports.show", job_id=job.id))
    # Opaque bytes, never shown: whatever the user sent.
    return download(data, "application/octet-stream", job.filename)

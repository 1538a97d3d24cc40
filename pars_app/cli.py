"""`flask pars …` commands: thin wrappers over services, with validated arguments."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .domain.checklist import checklist_as_dict
from .extensions import db
from .models import Provider
from .services import accounts, backup, checklist, clock, demo


@click.group("pars")
def pars_cli() -> None:
    """PARS reporting commands."""


@pars_cli.command("seed-demo")
@with_appcontext
def seed_demo_cmd() -> None:
    """Load the demo data (idempotent)."""
    created = demo.seed_demo(clock.now())
    click.echo("Demo data created." if created else "Demo data already present; nothing changed.")
    click.echo(f"Sign in with any of these (password '{demo.DEMO_PASSWORD}'):")
    for email, _name, pcode, acode, role in demo.DEMO_USERS:
        click.echo(f"  {email:<26} {role} of {pcode or acode}")


@pars_cli.command("create-user")
@click.argument("email")
@click.option("--provider", "provider_code", help="Provider code, for staff/admin/reviewer.")
@click.option("--accreditor", "accreditor_code", help="Accreditor code, for role accreditor.")
@click.option(
    "--role", required=True, type=click.Choice(["staff", "admin", "reviewer", "accreditor"])
)
@click.option("--name", default="", help="Display name.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given.",
)
@with_appcontext
def create_user_cmd(email, provider_code, accreditor_code, role, name, password) -> None:
    """Create a user at a provider or accreditor (or add a membership to an existing one)."""
    try:
        user = accounts.create_user(
            email,
            password,
            role=role,
            provider_code=provider_code,
            accreditor_code=accreditor_code,
            name=name,
        )
    except accounts.AccountError as err:
        raise click.UsageError(str(err)) from err
    click.echo(f"User {user.email} is now {role} of {provider_code or accreditor_code}.")


@pars_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_cmd(path: Path) -> None:
    """Write a consistent copy of the SQLite database to PATH, while the app runs."""
    try:
        size = backup.backup(path)
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Backed up to {path} ({size:,} bytes).")


@pars_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_cmd(path: Path, yes: bool) -> None:
    """Replace the SQLite database's contents with the backup at PATH."""
    if not yes:
        click.confirm("This replaces every record with the backup's. Continue?", abort=True)
    try:
        backup.restore(path)
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"Restored from {path}.")


@pars_cli.command("checklist")
@click.option("--provider", "provider_code", required=True, help="Provider code, e.g. DEMO.")
@click.option("--year", required=True, type=click.IntRange(1990, 2100), help="Reporting year.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@with_appcontext
def checklist_cmd(provider_code: str, year: int, as_json: bool) -> None:
    """Print a provider's five-step checklist for a reporting year."""
    provider = db.session.scalar(select(Provider).where(Provider.code == provider_code))
    if provider is None:
        raise click.BadParameter(
            f"no provider with code {provider_code!r}", param_hint="--provider"
        )
    result = checklist.checklist_for(provider, year, clock.now())
    if as_json:
        data = checklist_as_dict(result) | {"provider": provider.code}
        json.dump(data, sys.stdout, indent=2)
        click.echo()
        return
    click.echo(f"{provider.name} ({provider.code}) — reporting year {year}")
    due = result.deadline.strftime("%A %B %d, %Y %I:%M %p %Z")
    late = "  LATE" if result.late else ""
    click.echo(f"Deadline: {due} ({result.days_left} days left){late}")
    for step in result.steps:
        mark = {"done": "[x]", "todo": "[ ]", "not_open": "[-]"}[step.state.value]
        click.echo(f"{mark} {step.number}. {step.title}: {step.summary}")


# --- export (issue 4) -------------------------------------------------------------------------

_EXPORT_SUFFIXES = {".xlsx": "xlsx", ".xml": "xml"}


@pars_cli.command("export")
@click.option("--provider", "provider_code", required=True, help="Provider code, e.g. DEMO.")
@click.option(
    "--year",
    type=click.IntRange(1950, 2100),
    help="Only activities of this year (as the list's Year filter); default: every year.",
)
@click.option(
    "--by",
    type=click.Choice(["start", "end"]),
    default="start",
    show_default=True,
    help="Which date places an activity in --year.",
)
@click.option("--format", "kind", required=True, type=click.Choice(["xlsx", "xml"]))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (replaced if it exists).",
)
@with_appcontext
def export_cmd(provider_code: str, year: int | None, by: str, kind: str, output: Path) -> None:
    """Export a provider's activities as the template's .xlsx or as XML."""
    from .services import exports
    from .services.activity_list import ActivityFilter

    provider = db.session.scalar(select(Provider).where(Provider.code == provider_code))
    if provider is None:
        raise click.BadParameter(
            f"no provider with code {provider_code!r}", param_hint="--provider"
        )
    suffix = _EXPORT_SUFFIXES.get(output.suffix.lower())
    if suffix is not None and suffix != kind:
        raise click.BadParameter(
            f"{output.name} ends in {output.suffix} but --format is {kind}", param_hint="-o"
        )
    if not output.parent.is_dir():
        raise click.BadParameter(f"no directory {str(output.parent)!r}", param_hint="-o")
    done = exports.export_activities(provider.id, ActivityFilter(year=year, by=by), kind)
    # Written beside the target, then renamed: a failure never leaves half a file at PATH.
    partial = output.with_name(output.name + ".partial")
    try:
        partial.write_bytes(done.data)
        partial.replace(output)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from err
    which = f" {'starting' if by == 'start' else 'ending'} in {year}" if year else ""
    noun = "activity" if done.count == 1 else "activities"
    click.echo(f"Exported {done.count:,} {noun} of {provider.code}{which} to {output}.")


# --- Batch import and the job worker (issue 4) --------------------------------------------------


def _print_rows(job_id: int, limit: int) -> None:
    """The errors as `row R, column C: message` (R = the row number the file shows)."""
    from .models import ImportRow
    from .services import imports

    shown = 0
    rows = db.session.scalars(
        select(ImportRow)
        .where(ImportRow.job_id == job_id, ImportRow.action == "error")
        .order_by(ImportRow.number)
    )
    for row in rows:
        for m in imports.messages_of(row):
            if m["level"] != "error":
                continue
            if shown == limit:
                click.echo("… and more: see the import's page or its error file.")
                return
            click.echo(f"row {row.number}, column {m['column']}: {m['text']}")
            shown += 1


@pars_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", "provider_code", required=True, help="Provider code, e.g. DEMO.")
@click.option("--commit", is_flag=True, help="Write the changes (default: a dry run only).")
@click.option("--max-errors", default=200, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def import_cmd(path: Path, provider_code: str, commit: bool, max_errors: int) -> None:
    """Preview (and with --commit, apply) a batch file: exit 0 clean, 1 row errors, 2 unreadable."""
    from .services import imports, jobs

    provider = db.session.scalar(select(Provider).where(Provider.code == provider_code))
    if provider is None:
        click.echo(f"Error: no provider with code {provider_code!r}.", err=True)
        sys.exit(2)
    try:
        data = path.read_bytes()
    except OSError as err:
        click.echo(f"Error: cannot read {path}: {err.strerror or err}", err=True)
        sys.exit(2)
    job = imports.create_job(provider, None, path.name, data, clock.now(), "cli")
    jobs.run(job.id)  # the CLI waits for its own job: no queue in between
    db.session.expire_all()
    job = db.session.get(type(job), job.id)
    if job.status != imports.PREVIEWED:
        click.echo(f"Error: {job.error or imports.STATUS_LABELS[job.status]}", err=True)
        for item in imports.report_of(job):
            click.echo(f"  {item.get('message')}", err=True)
        sys.exit(2)
    counts = imports.counts_of(job)
    if counts.errors:
        click.echo(counts.line())
        _print_rows(job.id, max_errors)
        sys.exit(1)
    if commit and counts.changes:
        imports.request_commit(job, None, False, clock.now())
        jobs.run(job.id)
        db.session.expire_all()
        job = db.session.get(type(job), job.id)
        if job.status != imports.COMMITTED:
            click.echo(f"Error: {job.error}", err=True)
            for item in imports.report_of(job):
                click.echo(f"  row {item.get('number')}: {item.get('message')}", err=True)
            sys.exit(1)
        counts = imports.counts_of(job)
    click.echo(counts.line())
    if not commit:
        click.echo("Dry run: nothing written. Run again with --commit to apply.")


@pars_cli.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then stop.")
@with_appcontext
def worker_cmd(once: bool) -> None:
    """Run the import job consumer in the foreground (Ctrl-C stops it between jobs)."""
    import signal
    import threading

    from .services import jobs

    if once:
        jobs.reap_all()
        while jobs.work_once():
            pass
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Import worker {jobs.me()} waiting for jobs (Ctrl-C to stop).")
    jobs.work(stop)

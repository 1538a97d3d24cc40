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

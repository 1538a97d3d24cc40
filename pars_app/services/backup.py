"""Online backup and restore of the embedded SQLite database (PostgreSQL uses pg_dump)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from ..extensions import db


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with a message fit to show."""


def _sqlite_path() -> Path:
    url = make_url(db.engine.url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            "Backups from the app are for the embedded SQLite database. For PostgreSQL use "
            "pg_dump -Fc (see README, Production)."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory; there is nothing on disk to back up.")
    return Path(url.database)


def backup(target: Path) -> int:
    """Copy the live database to `target` with SQLite's online backup API; returns its size.

    The backup API copies a consistent snapshot even while the app keeps writing (WAL mode).
    """
    source = _sqlite_path()
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, target)
    return target.stat().st_size


def restore(source: Path) -> None:
    """Replace the live database's contents with the backup at `source`, after checking it."""
    live = _sqlite_path()
    if not source.is_file():
        raise BackupError(f"No backup file at {source}.")
    _check_backup(source, live)
    db.session.remove()
    db.engine.dispose()  # no pooled connection may keep reading the old pages
    _copy(source, live)


def _copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _check_backup(source: Path, live: Path) -> None:
    backup_rev = _schema_revision(source, check=True)
    live_rev = _schema_revision(live)
    if backup_rev != live_rev:
        raise BackupError(
            f"The backup is at schema {backup_rev and backup_rev[0]} but the database is at "
            f"{live_rev and live_rev[0]}; restore it into a database at the same version."
        )


def _schema_revision(path: Path, check: bool = False) -> tuple | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if check and conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is damaged (integrity check failed).")
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path} is not a pars-app SQLite backup ({err}).") from err
    finally:
        conn.close()

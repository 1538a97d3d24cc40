"""Operational records: import jobs and the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import ProviderScoped
from .org import User
from .types import UTCDateTime, utcnow


class ImportJob(ProviderScoped, db.Model):
    """One uploaded batch file, from dry run to commit (or failure)."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_provider_created", "provider_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    # How the file came in: "web" (the upload form) or "cli" (`flask pars import`, no user).
    via: Mapped[str] = mapped_column(String(16), default="web", server_default="web")
    kind: Mapped[str] = mapped_column(String(20), default="")  # xlsx | legacy | xml | counts
    # queued → previewing → previewed → committing → committed | failed
    status: Mapped[str] = mapped_column(String(20), default="queued")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    counts_json: Mapped[str | None] = mapped_column(Text)
    report_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The queue (services.jobs): which step a worker should run next ("preview" | "commit"),
    # who claimed it (host:pid, so a dead worker's job is recognised as failed) and when it
    # last reported progress.
    next_step: Mapped[str | None] = mapped_column(String(10))
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    skip_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    committed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Joined: the history page shows who uploaded each file without a query per row.
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    # The uploaded file, loaded only when read (the preview reads it once).
    file: Mapped[ImportFile | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="select"
    )

    @property
    def content(self) -> bytes | None:
        """The uploaded file's bytes; None once the job no longer needs them.

        Written by `imports.create_job` and dropped by `imports.discard` (a DELETE: loading up to
        25 MB to delete it as an orphan would be waste); the preview reads it in place.
        """
        return self.file.content if self.file is not None else None


class ImportFile(db.Model):
    """An import job's uploaded file, in a table of its own.

    A job's row is updated a dozen times an import (claimed, progress, status, heartbeat), and
    on SQLite an UPDATE rewrites the whole row: with the file in it, each update rewrote up to
    25 MB (7 updates took 0.5 s of a 4.2 s import of a 21 MB XML file). PostgreSQL keeps an
    unchanged TOASTed value, but gains nothing from carrying it in the job either.
    """

    __tablename__ = "import_files"
    job_id: Mapped[int] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRow(db.Model):
    """One row of an import's dry run: what it will do, why, and the typed input to apply.

    The commit applies these rows and never parses the file again; the preview pages and the
    error file read them too.
    """

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_job_action_number", "job_id", "action", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # the row number the file itself shows
    # create | update | unchanged | error (activities); counts rows use the same words.
    action: Mapped[str] = mapped_column(String(10))
    close: Mapped[str] = mapped_column(String(10), default="")  # "" | close | refused | closed
    activity_id: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)  # what the preview saw
    provider_activity_id: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    input_json: Mapped[str | None] = mapped_column(Text)
    changes_json: Mapped[str | None] = mapped_column(Text)
    messages_json: Mapped[str | None] = mapped_column(Text)
    raw_json: Mapped[str | None] = mapped_column(Text)


class AuditEvent(db.Model):
    """Who did what, when, through which path. Written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_provider_at", "provider_id", "at"),
        Index("ix_audit_events_accreditor_at", "accreditor_id", "at"),
        # History pages and the "was it ever closed" check look events up by their entity.
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Not ProviderScoped: accreditor-level events have no provider. Tenancy filters it by hand.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    accreditor_id: Mapped[int | None] = mapped_column(
        ForeignKey("accreditors.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[int | None] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(10), default="web")  # web | cli | job | import
    details: Mapped[str | None] = mapped_column(Text)  # JSON

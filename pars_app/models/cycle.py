"""The yearly cycle: deadlines, agreement texts and acceptances, year locks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import ProviderScoped
from .org import Accreditor, User
from .types import UTCDateTime, utcnow


class ReportingDeadline(db.Model):
    """An accreditor's deadline for one reporting year, when it differs from ACCME's rule."""

    __tablename__ = "reporting_deadlines"
    __table_args__ = (UniqueConstraint("accreditor_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    accreditor_id: Mapped[int] = mapped_column(ForeignKey("accreditors.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500), default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accreditor: Mapped[Accreditor] = relationship()


class AgreementText(db.Model):
    """One published version of an accreditor's annual Provider Agreement for a cycle."""

    __tablename__ = "agreement_texts"
    __table_args__ = (UniqueConstraint("accreditor_id", "year", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    accreditor_id: Mapped[int] = mapped_column(ForeignKey("accreditors.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AgreementAcceptance(ProviderScoped, db.Model):
    __tablename__ = "agreement_acceptances"
    __table_args__ = (UniqueConstraint("provider_id", "agreement_text_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_text_id: Mapped[int] = mapped_column(
        ForeignKey("agreement_texts.id", ondelete="CASCADE"), index=True
    )
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    agreement_text: Mapped[AgreementText] = relationship(lazy="joined")
    accepted_by: Mapped[User | None] = relationship(lazy="joined")


class YearLock(ProviderScoped, db.Model):
    """A submitted year. A row with `unlocked_at` empty means the year is locked now.

    Unlocks keep their row (who, when, why), so the history of a year stays readable.
    """

    __tablename__ = "year_locks"
    __table_args__ = (Index("ix_year_locks_provider_year", "provider_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unlocked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    unlock_reason: Mapped[str | None] = mapped_column(Text)

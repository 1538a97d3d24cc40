"""Program Summary (spec §7): the program's finances for one reporting year."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import ProviderScoped, Timestamps
from .types import UTCDateTime


class ProgramSummary(ProviderScoped, Timestamps, db.Model):
    __tablename__ = "program_summaries"
    __table_args__ = (UniqueConstraint("provider_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    # The 12-month period reported: the calendar year by default, or a fiscal year.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    advertising_exhibit_cents: Mapped[int | None] = mapped_column(BigInteger)
    registration_fees_cents: Mapped[int | None] = mapped_column(BigInteger)
    government_grants_cents: Mapped[int | None] = mapped_column(BigInteger)
    private_donations_cents: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | submitted
    attested: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_late: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

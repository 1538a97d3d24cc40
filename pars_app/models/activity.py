"""Activities and what hangs off them: joint providers, supporters, MOC, learner snapshots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import ProviderScoped, Timestamps
from .org import User
from .types import Hundredths, UTCDateTime, utcnow


class Activity(ProviderScoped, Timestamps, db.Model):
    """One CME activity with every PARS field (spec §5).

    `completeness` and `problem_count` are derived by `pars_app.domain.status` whenever the
    activity is saved, so lists can filter by status with plain SQL at 50,000 rows.
    """

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("provider_id", "provider_activity_id"),
        Index("ix_activities_provider_start", "provider_id", "start_date"),
        Index("ix_activities_provider_end", "provider_id", "end_date"),
        # end_date too: "enduring materials available in Y" is then answered by the index alone.
        # Covering for the checklist's enduring count and the dashboard's learner chart.
        Index(
            "ix_activities_provider_format",
            "provider_id",
            "format",
            "start_date",
            "end_date",
            "physician_learners",
            "other_learners",
        ),
        Index("ix_activities_provider_closed_end", "provider_id", "closed_at", "end_date"),
        Index("ix_activities_provider_level", "provider_id", "completeness", "end_date"),
    )
    # Not the mixin's provider_id, which adds an index of its own: every index above starts
    # with provider_id and serves what that one would (provider lookups, the cascade from
    # providers), while each extra B-tree costs every INSERT, and an import writes thousands.
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_activity_id: Mapped[str] = mapped_column(String(64))
    accme_activity_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(8))
    delivery: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    venue: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    country: Mapped[str | None] = mapped_column(String(3))
    credits: Mapped[Decimal | None] = mapped_column(Hundredths)
    description: Mapped[str | None] = mapped_column(Text)
    providership: Mapped[str | None] = mapped_column(String(10))
    passport_listed: Mapped[bool | None] = mapped_column(Boolean)
    passport_fee: Mapped[bool | None] = mapped_column(Boolean)
    passport_registration: Mapped[str | None] = mapped_column(String(10))
    passport_url: Mapped[str | None] = mapped_column(String(500))
    commercial_support: Mapped[bool | None] = mapped_column(Boolean)
    outcome_competence: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome_performance: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome_patient_health: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome_community_health: Mapped[bool] = mapped_column(Boolean, default=False)
    physician_learners: Mapped[int | None] = mapped_column(BigInteger)
    other_learners: Mapped[int | None] = mapped_column(BigInteger)
    # Columns of ACCME's legacy templates that PARS no longer asks for (sub-categories,
    # competencies, income): kept read-only as JSON text so nothing a provider sent is lost.
    legacy_data: Mapped[str | None] = mapped_column(Text)
    # Derived (domain.status.completeness): "draft" | "active" | "closable"; and how many
    # problems stand between the activity and closing.
    completeness: Mapped[str] = mapped_column(String(10), default="draft")
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    joint_providers: Mapped[list[JointProvider]] = relationship(
        cascade="all, delete-orphan", order_by="JointProvider.position", lazy="selectin"
    )
    supporters: Mapped[list[CommercialSupporter]] = relationship(
        cascade="all, delete-orphan", order_by="CommercialSupporter.position", lazy="selectin"
    )
    moc_registrations: Mapped[list[MocRegistration]] = relationship(
        cascade="all, delete-orphan", order_by="MocRegistration.board", lazy="selectin"
    )
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class JointProvider(db.Model):
    __tablename__ = "joint_providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))


class CommercialSupporter(db.Model):
    """One source of commercial support: monetary (amount in cents) or in-kind (its nature)."""

    __tablename__ = "commercial_supporters"
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # "monetary" | "in_kind"
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    in_kind_nature: Mapped[str | None] = mapped_column(String(30))
    in_kind_other: Mapped[str | None] = mapped_column(String(200))


class MocRegistration(db.Model):
    """Registration of an activity for one ABMS board's MOC program."""

    __tablename__ = "moc_registrations"
    # The unique (activity, board) index also finds an activity's registrations (and serves
    # the cascade): activity_id needs no index of its own.
    __table_args__ = (UniqueConstraint("activity_id", "board"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    board: Mapped[str] = mapped_column(String(10))
    credit_types: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    points: Mapped[Decimal | None] = mapped_column(Hundredths)
    practice_areas: Mapped[str] = mapped_column(Text, default="")  # one per line


class LearnerSnapshot(ProviderScoped, db.Model):
    """Cumulative learners of an enduring material as of December 31 of one year (spec §6)."""

    __tablename__ = "learner_snapshots"
    __table_args__ = (
        UniqueConstraint("activity_id", "year"),
        Index("ix_learner_snapshots_provider_year", "provider_id", "year"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    physicians: Mapped[int] = mapped_column(BigInteger)
    others: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
    recorded_by: Mapped[User | None] = relationship()

"""Organisations and people: accreditors, providers, users, memberships, contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import ProviderScoped, Timestamps
from .types import UTCDateTime, utcnow

# Roles a membership can carry. Provider roles attach to a provider, "accreditor" to an accreditor.
PROVIDER_ROLES = ("admin", "staff", "reviewer")
ACCREDITOR_ROLE = "accreditor"


class Accreditor(db.Model):
    """ACCME, or a state medical society acting as a Recognized Accreditor."""

    __tablename__ = "accreditors"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # ACCME itself oversees every provider in the system; a state society only its own.
    is_national: Mapped[bool] = mapped_column(Boolean, default=False)
    providers: Mapped[list[Provider]] = relationship(back_populates="accreditor")


class Provider(Timestamps, db.Model):
    """An accredited CME provider: the tenant."""

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    accreditor_id: Mapped[int] = mapped_column(ForeignKey("accreditors.id"), index=True)
    accreditor: Mapped[Accreditor] = relationship(back_populates="providers")
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped in the same transaction as every change to the provider's activities or learner
    # snapshots (services/data_version.py): the key of the cached dashboard counts.
    data_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class User(Timestamps, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # Part of the login cookie: rotating it (on password change) signs out every other session.
    session_token: Mapped[str] = mapped_column(String(64))
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login protocol, spelled out so the session cookie carries the token too.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"


class Membership(db.Model):
    """A user's role at one provider, or at one accreditor."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "provider_id", "accreditor_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    accreditor_id: Mapped[int | None] = mapped_column(
        ForeignKey("accreditors.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    user: Mapped[User] = relationship(back_populates="memberships")
    provider: Mapped[Provider | None] = relationship(lazy="joined")
    accreditor: Mapped[Accreditor | None] = relationship(lazy="joined")


class Contact(ProviderScoped, Timestamps, db.Model):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])


class ContactReview(ProviderScoped, db.Model):
    """A provider confirmed (or changed) its contacts: checklist step 5."""

    __tablename__ = "contact_reviews"
    __table_args__ = (Index("ix_contact_reviews_provider_at", "provider_id", "reviewed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_by: Mapped[User | None] = relationship(lazy="joined")

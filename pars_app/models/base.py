"""Mixins shared by the models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from .types import UTCDateTime, utcnow


class ProviderScoped:
    """Rows that belong to one provider.

    Every query for a class with this mixin is filtered to the providers the signed-in user may
    see (see `pars_app.tenancy`), so a view that forgets to filter still cannot leak a row.
    """

    @declared_attr
    def provider_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

"""Unlocking a submitted year: accreditor staff only, with a reason, always audited.

A submitted year has a `YearLock` row with `unlocked_at` empty. Unlocking fills in who, when
and why on that row (the row stays: the year's history remains readable); submitting the
Program Summary again adds a new locked row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ..extensions import db
from ..models import Accreditor, Provider, User, YearLock
from . import audit

MAX_REASON = 1000


class UnlockError(ValueError):
    """An unlock that cannot be done, with a message fit to show the user."""


def latest_lock(provider_id: int, year: int) -> YearLock | None:
    """The newest lock row of the provider's year: locked now when `unlocked_at` is empty."""
    return db.session.scalar(
        select(YearLock)
        .where(YearLock.provider_id == provider_id, YearLock.year == year)
        .order_by(YearLock.id.desc())
        .limit(1)
    )


def unlocked_by(lock: YearLock | None) -> User | None:
    """Who unlocked the year (None when not unlocked, or the account is gone)."""
    if lock is None or lock.unlocked_by_id is None:
        return None
    return db.session.get(User, lock.unlocked_by_id)


def _checked_reason(accreditor: Accreditor, provider: Provider, reason: str) -> str:
    if not accreditor.is_national and provider.accreditor_id != accreditor.id:
        raise UnlockError("Only the provider's own accreditor can unlock its year.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise UnlockError("Give the reason for unlocking: the provider will read it.")
    if len(reason) > MAX_REASON:
        raise UnlockError(f"Keep the reason under {MAX_REASON:,} characters.")
    return reason


def unlock_year(
    accreditor: Accreditor,
    provider: Provider,
    year: int,
    reason: str,
    user: User,
    now: datetime,
    via: str = "web",
) -> YearLock:
    """Unlock the provider's submitted `year`, recording who, when and why; audited."""
    reason = _checked_reason(accreditor, provider, reason)
    lock = latest_lock(provider.id, year)
    if lock is None or lock.unlocked_at is not None:
        raise UnlockError(f"{provider.name}'s {year} report is not locked: nothing to unlock.")
    # Conditional update: of two people unlocking at once, the second finds nothing to unlock
    # instead of overwriting the first one's reason.
    done = db.session.execute(
        update(YearLock)
        .where(YearLock.id == lock.id, YearLock.unlocked_at.is_(None))
        .values(unlocked_at=now, unlocked_by_id=user.id, unlock_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if done.rowcount != 1:
        db.session.rollback()
        raise UnlockError(f"{provider.name}'s {year} report was unlocked by someone else just now.")
    audit.record(
        "year.unlocked",
        user_id=user.id,
        provider_id=provider.id,
        accreditor_id=accreditor.id,
        entity=lock,
        via=via,
        year=year,
        reason=reason,
        locked_at=lock.locked_at.isoformat(timespec="seconds"),
    )
    db.session.commit()
    return lock

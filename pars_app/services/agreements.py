"""The annual Provider Agreement (checklist step 1): read the cycle's text, accept it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..domain.deadlines import cycle_opens_at
from ..extensions import db
from ..models import AgreementAcceptance, AgreementText, Provider, User
from . import audit


class AgreementError(ValueError):
    """An acceptance that cannot be recorded, with a message fit to show the user."""


@dataclass(frozen=True)
class AgreementState:
    year: int
    text: AgreementText | None  # the latest published version, if any
    acceptance: AgreementAcceptance | None  # of that latest version
    history: list[AgreementAcceptance]  # every acceptance of this cycle, newest first
    opens_at: datetime
    is_open: bool

    @property
    def needs_acceptance(self) -> bool:
        return self.is_open and self.text is not None and self.acceptance is None


def agreement_state(provider: Provider, year: int, now: datetime) -> AgreementState:
    """The cycle's latest agreement text and what the provider has accepted of it."""
    text = db.session.scalar(
        select(AgreementText)
        .where(AgreementText.accreditor_id == provider.accreditor_id, AgreementText.year == year)
        .order_by(AgreementText.version.desc())
        .limit(1)
    )
    history = list(
        db.session.scalars(
            select(AgreementAcceptance)
            .join(AgreementText)
            .where(AgreementAcceptance.provider_id == provider.id, AgreementText.year == year)
            .order_by(AgreementAcceptance.accepted_at.desc())
        )
    )
    current = next((a for a in history if text and a.agreement_text_id == text.id), None)
    opens = cycle_opens_at(year)
    return AgreementState(year, text, current, history, opens, now >= opens)


def accept_agreement(
    provider: Provider, year: int, text_id: int, user: User, now: datetime, via: str = "web"
) -> AgreementAcceptance:
    """Record that `user` accepted version `text_id` for the provider; refuse stale versions."""
    state = agreement_state(provider, year, now)
    if not state.is_open:
        raise AgreementError(
            f"The {year} agreement opens on January 1, {year + 1}; it cannot be accepted yet."
        )
    if state.text is None:
        raise AgreementError(f"No agreement has been published for {year} yet.")
    if state.text.id != text_id:
        raise AgreementError(
            f"A newer version (version {state.text.version}) was published while you were "
            "reading. Read it below and accept it."
        )
    if state.acceptance is not None:
        return state.acceptance  # accepting twice is harmless: keep the first record
    acceptance = AgreementAcceptance(
        provider_id=provider.id, agreement_text_id=text_id, accepted_by_id=user.id, accepted_at=now
    )
    db.session.add(acceptance)
    db.session.flush()
    audit.record(
        "agreement.accepted",
        user_id=user.id,
        provider_id=provider.id,
        entity=acceptance,
        via=via,
        year=year,
        version=state.text.version,
    )
    db.session.commit()
    return acceptance

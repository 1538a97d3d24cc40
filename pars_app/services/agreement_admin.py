"""An accreditor publishes its annual Provider Agreement text and sees who accepted which
version. Publishing a new version makes every provider accept again (services.agreements)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Accreditor, AgreementAcceptance, AgreementText, Provider, User
from . import audit
from .paging import Paged, clamp_page

MAX_TITLE = 200
MAX_BODY = 100_000
PAGE_SIZE = 100


class AgreementInvalid(ValueError):
    """Field errors of the publish form, as {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def versions(accreditor: Accreditor, year: int) -> list[tuple[AgreementText, str | None]]:
    """Every published version of the cycle's text, newest first, with its publisher's email."""
    return list(
        db.session.execute(
            select(AgreementText, User.email)
            .outerjoin(User, User.id == AgreementText.published_by_id)
            .where(AgreementText.accreditor_id == accreditor.id, AgreementText.year == year)
            .order_by(AgreementText.version.desc())
        ).tuples()
    )


def publish(
    accreditor: Accreditor,
    year: int,
    title: str,
    body: str,
    user: User,
    now: datetime,
    via: str = "web",
) -> AgreementText:
    """Publish version last + 1 of the cycle's agreement; audited."""
    title, body = _validated(title, body)
    last = db.session.scalar(
        select(func.max(AgreementText.version)).where(
            AgreementText.accreditor_id == accreditor.id, AgreementText.year == year
        )
    )
    text = AgreementText(
        accreditor_id=accreditor.id,
        year=year,
        version=(last or 0) + 1,
        title=title,
        body=body,
        published_at=now,
        published_by_id=user.id,
    )
    db.session.add(text)
    try:
        db.session.flush()
    except IntegrityError:  # the unique (accreditor, year, version) caught a simultaneous one
        db.session.rollback()
        raise AgreementInvalid(
            {"title": "Someone else published a version at the same moment. Reload and check."}
        ) from None
    audit.record(
        "agreement.published",
        user_id=user.id,
        accreditor_id=accreditor.id,
        entity=text,
        via=via,
        year=year,
        version=text.version,
        title=title,
    )
    db.session.commit()
    return text


def _validated(title: str, body: str) -> tuple[str, str]:
    title, body = " ".join((title or "").split()), (body or "").strip().replace("\r\n", "\n")
    errors = {}
    if not title:
        errors["title"] = "Give the agreement a title."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Keep the title under {MAX_TITLE} characters."
    if not body:
        errors["body"] = "Write the text providers accept."
    elif len(body) > MAX_BODY:
        errors["body"] = f"Keep the text under {MAX_BODY:,} characters."
    if errors:
        raise AgreementInvalid(errors)
    return title, body


@dataclass(frozen=True)
class AcceptanceRow:
    provider: Provider
    version: int | None  # the newest version this provider accepted for the cycle
    accepted_at: datetime | None
    accepted_by: str | None


@dataclass(frozen=True)
class AcceptancePage(Paged):
    rows: list[AcceptanceRow]
    total: int  # providers of this accreditor
    accepted_latest: int  # of them, how many accepted the latest version
    page: int
    per_page: int = PAGE_SIZE


def acceptances(
    accreditor: Accreditor, year: int, latest: AgreementText | None, page: int
) -> AcceptancePage:
    """The accreditor's own providers (its text is theirs), each with what it accepted.

    Three queries per page: the count of providers, the count that accepted the latest
    version, and the page of providers with their newest acceptance of the cycle.
    """
    mine = Provider.accreditor_id == accreditor.id
    total = db.session.scalar(select(func.count(Provider.id)).where(mine)) or 0
    accepted_latest = 0
    if latest is not None:
        accepted_latest = (
            db.session.scalar(
                select(func.count(AgreementAcceptance.id)).where(
                    AgreementAcceptance.agreement_text_id == latest.id
                )
            )
            or 0
        )
    page = clamp_page(page, total, PAGE_SIZE)
    return AcceptancePage(_rows(accreditor, year, page), total, accepted_latest, page)


def _rows(accreditor: Accreditor, year: int, page: int) -> list[AcceptanceRow]:
    newest = (
        select(
            AgreementAcceptance.provider_id,
            func.max(AgreementText.version).label("version"),
        )
        .join(AgreementText, AgreementText.id == AgreementAcceptance.agreement_text_id)
        .where(AgreementText.year == year, AgreementText.accreditor_id == accreditor.id)
        .group_by(AgreementAcceptance.provider_id)
        .subquery()
    )
    accepted = (
        select(
            AgreementAcceptance.provider_id,
            AgreementText.version,
            AgreementAcceptance.accepted_at,
            User.email,
        )
        .join(AgreementText, AgreementText.id == AgreementAcceptance.agreement_text_id)
        .join(
            newest,
            and_(
                newest.c.provider_id == AgreementAcceptance.provider_id,
                newest.c.version == AgreementText.version,
            ),
        )
        .outerjoin(User, User.id == AgreementAcceptance.accepted_by_id)
        .where(AgreementText.year == year, AgreementText.accreditor_id == accreditor.id)
        .subquery()
    )
    rows = db.session.execute(
        select(Provider, accepted.c.version, accepted.c.accepted_at, accepted.c.email)
        .outerjoin(accepted, accepted.c.provider_id == Provider.id)
        .where(Provider.accreditor_id == accreditor.id)
        .order_by(func.lower(Provider.name), Provider.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return [AcceptanceRow(p, v, at, email) for p, v, at, email in rows]

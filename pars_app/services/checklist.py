"""Gathers the facts behind the five annual steps with a fixed handful of set-based queries,
then lets `domain.checklist` decide each step's state.

`done_conditions` is the same rules' set-based twin: whether each step is done, as conditions on
`Provider`, for the accreditor overview's filters and for `late_checklist`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, exists, false, func, select

from ..domain import checklist as rules
from ..domain import deadlines
from ..domain.deadlines import central_date
from ..domain.formats import FORMAT_CODES
from ..extensions import db
from ..models import (
    Activity,
    AgreementAcceptance,
    AgreementText,
    ContactReview,
    LearnerSnapshot,
    ProgramSummary,
    Provider,
)
from . import cycle, data_version


def checklist_for(provider: Provider, year: int, now: datetime) -> rules.Checklist:
    """The live checklist of `provider` for reporting `year`, as of `now`."""
    facts = rules.ChecklistFacts(
        year=year,
        now=now,
        deadline=cycle.reporting_deadline(provider.accreditor_id, year),
        **_agreement_facts(provider, year),
        **_activity_facts(provider.id, year, central_date(now)),
        **_enduring_facts(provider.id, year),
        summary_submitted_at=_summary_submitted_at(provider.id, year),
        **_contact_facts(provider.id, year),
        year_locked=cycle.is_year_locked(provider.id, year),
    )
    return rules.build_checklist(facts)


def late_checklist(provider: Provider, year: int, now: datetime) -> rules.Checklist | None:
    """`checklist_for(provider, year, now)` when it is late, else None, without counting
    anything when the answer is no: before the deadline that is one query; after it, one
    statement of EXISTS probes proves a finished year complete. For the dashboard's reminder
    of last year, which is usually done."""
    if not deadlines.is_late(cycle.reporting_deadline(provider.accreditor_id, year), now):
        return None
    latest = _latest_text(provider.accreditor_id, year)
    texts = {provider.accreditor_id: latest.id} if latest else {}
    complete = and_(*done_conditions(year, now, texts).values())
    if db.session.scalar(select(complete).where(Provider.id == provider.id)):
        return None
    return checklist_for(provider, year, now)


def done_conditions(
    year: int, now: datetime, latest_texts: Mapping[int, int]
) -> dict[str, ColumnElement[bool]]:
    """Whether each step of `year` is done, as a condition on `Provider`: the rules of
    `domain.checklist` over the facts `checklist_for` loads, each an EXISTS that stops at the
    first row (for the overview's filters, tested against the rows' own checklists).

    `latest_texts` maps accreditor id to the id of its latest agreement text for `year`.
    """
    first, last = date(year, 1, 1), date(year, 12, 31)
    mine = Activity.provider_id == Provider.id
    # Only an acceptance of the latest version of the provider's own accreditor counts.
    accepted = AgreementAcceptance.agreement_text_id == case(
        dict(latest_texts), value=Provider.accreditor_id
    )
    started = [mine, Activity.format.in_(FORMAT_CODES), Activity.start_date.between(first, last)]
    ended = [mine, Activity.end_date.between(first, last), Activity.end_date < central_date(now)]
    counted = exists().where(
        LearnerSnapshot.activity_id == Activity.id, LearnerSnapshot.year == year
    )
    return {
        "agreement": (
            exists().where(AgreementAcceptance.provider_id == Provider.id, accepted)
            if latest_texts
            else false()
        ),
        "activities": and_(
            exists().where(*started), ~exists().where(*ended, Activity.closed_at.is_(None))
        ),
        "enduring": ~exists().where(enduring_in_year_of(mine, year), ~counted),
        "summary": exists().where(
            ProgramSummary.provider_id == Provider.id,
            ProgramSummary.year == year,
            ProgramSummary.status == "submitted",
        ),
        # The latest review counts once the cycle opened, so any review made since does.
        "contacts": exists().where(
            ContactReview.provider_id == Provider.id,
            ContactReview.reviewed_at >= deadlines.cycle_opens_at(year),
        ),
    }


def _latest_text(accreditor_id: int, year: int):
    """(id, version) of the accreditor's latest agreement text for `year`, or None."""
    return db.session.execute(
        select(AgreementText.id, AgreementText.version)
        .where(AgreementText.accreditor_id == accreditor_id, AgreementText.year == year)
        .order_by(AgreementText.version.desc())
        .limit(1)
    ).first()


def _agreement_facts(provider: Provider, year: int) -> dict:
    latest = _latest_text(provider.accreditor_id, year)
    if latest is None:
        return {"agreement_published": False}
    # Only an acceptance of the latest version counts: a new version asks again.
    acc = db.session.scalar(
        select(AgreementAcceptance).where(
            AgreementAcceptance.provider_id == provider.id,
            AgreementAcceptance.agreement_text_id == latest.id,
        )
    )
    return {
        "agreement_published": True,
        "agreement_version": latest.version,
        "agreement_accepted_at": acc.accepted_at if acc else None,
        "agreement_accepted_by": (acc.accepted_by.email if acc and acc.accepted_by else None),
    }


def _activity_facts(provider_id: int, year: int, today: date) -> dict:
    # Counted once per data version of the provider (services/data_version.py): between two
    # changes, a dashboard view reads no activity at all.
    return data_version.cached(
        provider_id,
        ("activity_facts", year, today),
        lambda: _count_activities(provider_id, year, today),
    )


def _count_activities(provider_id: int, year: int, today: date) -> dict:
    # Each count below is written so that it reads one index and never the table rows: at
    # 50,000 activities the row lookups were most of the dashboard's time (docs/performance.md).
    first, last = date(year, 1, 1), date(year, 12, 31)
    mine = Activity.provider_id == provider_id
    # Naming every format lets the (provider, format, start) index be probed format by format
    # instead of scanned from the provider's first row.
    started = [mine, Activity.format.in_(FORMAT_CODES), Activity.start_date.between(first, last)]
    by_format = dict(
        db.session.execute(
            select(Activity.format, func.count()).where(*started).group_by(Activity.format)
        ).all()
    )
    # Still running on `today` means not ended yet, even if it ends later this year.
    ended = [mine, Activity.end_date.between(first, last), Activity.end_date < today]
    # Two counts in one statement; the open one reads the (provider, closed_at, end) index.
    all_ended = select(func.count()).where(*ended).scalar_subquery()
    still_open = select(func.count()).where(*ended, Activity.closed_at.is_(None)).scalar_subquery()
    n_ended, n_open = db.session.execute(select(all_ended, still_open)).one()
    return {
        "activities_by_format": by_format,
        "ended_in_year": n_ended,
        "ended_not_closed": n_open,
    }


def enduring_in_year(provider_id: int, year: int):
    """Condition: enduring materials of the provider available at any time in `year`."""
    return enduring_in_year_of(Activity.provider_id == provider_id, year)


def enduring_in_year_of(mine: ColumnElement[bool], year: int):
    """Condition: enduring materials available at any time in `year`, of the providers `mine`
    selects (`Activity.provider_id == …`)."""
    return and_(
        mine,
        Activity.format == "EM",
        Activity.start_date <= date(year, 12, 31),
        Activity.end_date >= date(year, 1, 1),
    )


def _enduring_facts(provider_id: int, year: int) -> dict:
    return data_version.cached(
        provider_id, ("enduring_facts", year), lambda: _count_enduring(provider_id, year)
    )


def _count_enduring(provider_id: int, year: int) -> dict:
    total, missing = db.session.execute(
        select(
            func.count(Activity.id),
            func.coalesce(func.sum(case((LearnerSnapshot.id.is_(None), 1), else_=0)), 0),
        )
        .select_from(Activity)
        .outerjoin(
            LearnerSnapshot,
            and_(LearnerSnapshot.activity_id == Activity.id, LearnerSnapshot.year == year),
        )
        .where(enduring_in_year(provider_id, year))
    ).one()
    return {"enduring_in_year": total, "enduring_missing_counts": missing}


def _summary_submitted_at(provider_id: int, year: int) -> datetime | None:
    return db.session.scalar(
        select(ProgramSummary.submitted_at).where(
            ProgramSummary.provider_id == provider_id,
            ProgramSummary.year == year,
            ProgramSummary.status == "submitted",
        )
    )


def _contact_facts(provider_id: int, year: int) -> dict:
    # The latest review of any date: the domain decides whether it counts for `year` and
    # otherwise shows it as "last reviewed on …".
    review = db.session.scalar(
        select(ContactReview)
        .where(ContactReview.provider_id == provider_id)
        .order_by(ContactReview.reviewed_at.desc())
        .limit(1)
    )
    return {
        "contacts_reviewed_at": review.reviewed_at if review else None,
        "contacts_reviewed_by": (
            review.reviewed_by.email if review and review.reviewed_by else None
        ),
    }

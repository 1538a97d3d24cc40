"""Activities: turning rows into domain facts, keeping derived columns fresh, and the
set-based status expression lists filter on."""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, literal

from ..domain import status as rules
from ..models import Activity
from . import clock


def facts_of(a: Activity) -> rules.ActivityFacts:
    """The domain's view of an activity row (children included)."""
    return rules.ActivityFacts(
        title=a.title,
        format=a.format,
        delivery=a.delivery,
        start_date=a.start_date,
        end_date=a.end_date,
        venue=a.venue,
        city=a.city,
        state=a.state,
        country=a.country,
        credits=a.credits,
        description=a.description,
        providership=a.providership,
        joint_providers=tuple(j.name for j in a.joint_providers),
        passport_listed=a.passport_listed,
        passport_fee=a.passport_fee,
        passport_registration=a.passport_registration,
        passport_url=a.passport_url,
        commercial_support=a.commercial_support,
        supporters=tuple(
            rules.SupporterFacts(
                name=s.name,
                kind=s.kind,
                amount_cents=s.amount_cents,
                in_kind_nature=s.in_kind_nature,
                in_kind_other=s.in_kind_other,
            )
            for s in a.supporters
        ),
        outcome_competence=bool(a.outcome_competence),
        outcome_performance=bool(a.outcome_performance),
        outcome_patient_health=bool(a.outcome_patient_health),
        outcome_community_health=bool(a.outcome_community_health),
        physician_learners=a.physician_learners,
        other_learners=a.other_learners,
        moc=tuple(
            rules.MocFacts(
                board=m.board,
                credit_types=tuple(t.strip() for t in m.credit_types.split(",") if t.strip()),
                points=m.points,
                practice_areas=tuple(p.strip() for p in m.practice_areas.splitlines() if p.strip()),
            )
            for m in a.moc_registrations
        ),
        closed=a.closed_at is not None,
    )


def refresh_derived(a: Activity) -> rules.StatusReport:
    """Recompute the stored completeness level and problem count after any change."""
    facts = facts_of(a)
    a.completeness = rules.completeness(facts)
    report = rules.evaluate(facts, clock.today())
    a.problem_count = len(report.problems)
    return report


def status_expr(today: date):
    """SQL twin of `domain.status.status_from_level`, for filtering and sorting lists."""
    return case(
        (Activity.closed_at.is_not(None), literal(rules.Status.CLOSED.value)),
        (Activity.completeness == "draft", literal(rules.Status.DRAFT.value)),
        (Activity.end_date < today, literal(rules.Status.READY_TO_CLOSE.value)),
        else_=literal(rules.Status.ACTIVE.value),
    )

"""The reporting cycle against the app's clock (time-machine), at the exact seconds that matter:
the agreement and the Program Summary open at midnight Central on January 1; the deadline's
last second is on time and the next one is late; a state society's earlier deadline (CMA) makes
WEST late while an ACCME provider still has days left."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import select

from pars_app.domain.checklist import StepState
from pars_app.extensions import db
from pars_app.models import ProgramSummary, Provider, User
from pars_app.services import checklist, clock, cycle
from pars_app.services.agreements import AgreementError, accept_agreement
from pars_app.services.demo import seed_demo
from pars_app.services.program_summary import SummaryRefused, save_draft, submit
from tests.factories import make_agreement, make_provider, make_user, utc

# December 31, 2025, 11:59:59 p.m. CST, and the first second of January 1, 2026 in Chicago.
LAST_SECOND_OF_2025 = utc(2026, 1, 1, 5, 59, 59)
NEW_YEAR_CENTRAL = utc(2026, 1, 1, 6, 0, 0)
# ACCME's 2025 deadline: Tuesday March 31, 2026, 11:59 p.m. CDT = April 1, 04:59 UTC.
ACCME_LAST_SECOND = utc(2026, 4, 1, 4, 59, 59)
ACCME_FIRST_LATE = utc(2026, 4, 1, 5, 0, 0)
# CMA's 2025 deadline (demo data): Friday March 13, 2026, 11:59 p.m. CDT = March 14, 04:59 UTC.
CMA_LAST_SECOND = utc(2026, 3, 14, 4, 59, 59)
CMA_FIRST_LATE = utc(2026, 3, 14, 5, 0, 0)
FIGURES = {
    "period_start_month": "1",
    "advertising_exhibit": "0",
    "registration_fees": "12,500",
    "government_grants": "0",
    "private_donations": "0",
}
SUBMIT = {**FIGURES, "attest": "yes", "confirm": "yes"}


def _provider_with_agreement():
    p = make_provider("CLOCK")
    user = make_user("clock@example.org", p)
    text = make_agreement(p.accreditor, 2025)
    db.session.commit()
    return p, user, text


def _steps(p: Provider) -> dict[str, StepState]:
    c = checklist.checklist_for(p, 2025, clock.now())
    return {s.key: s.state for s in c.steps}


def test_agreement_and_summary_open_at_midnight_central_on_january_1(ctx):
    p, user, text = _provider_with_agreement()
    with time_machine.travel(LAST_SECOND_OF_2025, tick=False):
        with pytest.raises(AgreementError, match="opens on January 1, 2026"):
            accept_agreement(p, 2025, text.id, user, clock.now())
        with pytest.raises(SummaryRefused, match="opens on January 1, 2026"):
            save_draft(p, 2025, FIGURES, 0, user, clock.now())
        steps = _steps(p)
        assert steps["agreement"] is StepState.NOT_OPEN
        assert steps["summary"] is StepState.NOT_OPEN
    db.session.rollback()
    assert db.session.scalar(select(ProgramSummary)) is None

    with time_machine.travel(NEW_YEAR_CENTRAL, tick=False):
        acceptance = accept_agreement(p, 2025, text.id, user, clock.now())
        db.session.commit()
        summary = save_draft(p, 2025, FIGURES, 0, user, clock.now())
        steps = _steps(p)
    assert acceptance.accepted_at == NEW_YEAR_CENTRAL
    assert summary.status == "draft" and summary.registration_fees_cents == 1_250_000
    assert steps["agreement"] is StepState.DONE
    assert steps["summary"] is StepState.TODO


@pytest.mark.parametrize(("moment", "late"), [(ACCME_LAST_SECOND, False), (ACCME_FIRST_LATE, True)])
def test_the_deadlines_last_second_is_on_time_and_the_next_is_late(ctx, moment, late):
    p, user, _ = _provider_with_agreement()
    with time_machine.travel(moment, tick=False):
        before = checklist.checklist_for(p, 2025, clock.now())
        default_year = cycle.default_year(p, clock.now())
        summary = submit(p, 2025, SUBMIT, 0, user, clock.now())
    assert before.late is late
    assert before.days_left == (-1 if late else 0)
    # Until the deadline has passed the dashboard stays on the year being closed out.
    assert default_year == (2026 if late else 2025)
    assert summary.submitted_late is late
    assert summary.submitted_at == moment


def _demo(code: str) -> tuple[Provider, User]:
    p = db.session.scalar(select(Provider).where(Provider.code == code))
    user = db.session.scalar(select(User).where(User.email == f"{code.lower()}@example.org"))
    return p, user


@pytest.mark.parametrize(("moment", "late"), [(CMA_LAST_SECOND, False), (CMA_FIRST_LATE, True)])
def test_cma_sets_west_an_earlier_deadline_than_accme(ctx, moment, late):
    with time_machine.travel(utc(2026, 2, 16, 18), tick=False):
        seed_demo(clock.now())
    west, wes = _demo("WEST")
    demo, _ = _demo("DEMO")
    with time_machine.travel(moment, tick=False):
        west_2025 = checklist.checklist_for(west, 2025, clock.now())
        demo_2025 = checklist.checklist_for(demo, 2025, clock.now())
        west_year = cycle.default_year(west, clock.now())
        demo_year = cycle.default_year(demo, clock.now())
        draft = db.session.scalar(
            select(ProgramSummary).where(
                ProgramSummary.provider_id == west.id, ProgramSummary.year == 2025
            )
        )
        summary = submit(west, 2025, SUBMIT, draft.version, wes, clock.now())

    assert west_2025.deadline == CMA_LAST_SECOND.replace(second=0)
    assert west_2025.late is late
    assert west_year == (2026 if late else 2025)
    assert summary.submitted_late is late
    # The same instant under ACCME's rule: March 31 is still 17 or 18 days away.
    assert demo_2025.deadline == ACCME_LAST_SECOND.replace(second=0)
    assert not demo_2025.late
    assert demo_2025.days_left == (17 if late else 18)
    assert demo_year == 2025

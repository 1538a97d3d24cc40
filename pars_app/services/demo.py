"""Demo data (DESIGN.md §4): two accreditors, two providers, four users, and a realistic spread
of activities over 2025 and 2026. Deterministic (seeded), idempotent, one transaction."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from ..domain import deadlines
from ..domain.formats import max_end_date
from ..extensions import db
from ..models import (
    Accreditor,
    Activity,
    AgreementAcceptance,
    AgreementText,
    CommercialSupporter,
    Contact,
    ContactReview,
    JointProvider,
    LearnerSnapshot,
    Membership,
    MocRegistration,
    ProgramSummary,
    Provider,
    ReportingDeadline,
    User,
    YearLock,
)
from . import audit
from .accounts import hash_password
from .activities import refresh_derived

DEMO_PASSWORD = "demo"
DEMO_USERS = (
    ("demo@example.org", "Dana Morgan", "DEMO", None, "admin"),
    ("west@example.org", "Wes Tanaka", "WEST", None, "admin"),
    ("accreditor@example.org", "Alex Reyes", None, "ACCME", "accreditor"),
    # A state society's staff: sees WEST only (the accreditor console's narrower scope).
    ("cma@example.org", "Casey Moreno", None, "CMA", "accreditor"),
)
TITLES = {
    "C": [
        "Annual Cardiology Update",
        "Advances in Stroke Care",
        "Primary Care Summit",
        "Pediatric Emergencies Workshop",
        "Diabetes Management Symposium",
        "Ultrasound Skills Course",
        "Sepsis Recognition Conference",
    ],
    "RSS": [
        "Internal Medicine Grand Rounds",
        "Tumor Board",
        "Morbidity and Mortality Conference",
        "Surgery Grand Rounds",
        "Psychiatry Case Conference",
        "Neurology Journal Club",
    ],
    "EM": [
        "Opioid Prescribing Safety (online module)",
        "Implicit Bias in Clinical Care (podcast)",
        "Antibiotic Stewardship e-Learning",
        "Hypertension Guidelines Review (print)",
    ],
    "JN": ["Journal CME: Heart Failure Therapies", "Journal CME: Vaccine Updates"],
    "MR": ["Manuscript Review: Lakeside Medical Journal"],
    "TIW": ["Board Review Item Writing Panel"],
    "CML": ["Clinical Guidelines Committee", "Patient Safety Committee"],
    "PI": ["PI CME: Improving A1c Control", "PI CME: Colorectal Screening Rates"],
    "ISL": ["Internet Point-of-Care Learning"],
    "LFT": ["Learning from Teaching: Residents' Curriculum"],
}
FORMAT_WEIGHTS = {
    "C": 30,
    "RSS": 22,
    "EM": 8,
    "JN": 6,
    "MR": 4,
    "TIW": 4,
    "CML": 6,
    "PI": 8,
    "ISL": 6,
    "LFT": 6,
}


def seed_demo(now: datetime | None = None) -> bool:
    """Create the demo data unless it is there already. Returns True when it created it."""
    if db.session.scalar(select(Provider.id).where(Provider.code == "DEMO")) is not None:
        return False
    now = now or datetime.now(UTC)
    rng = random.Random(2025)
    accme = Accreditor(code="ACCME", name="ACCME", is_national=True)
    cma = Accreditor(code="CMA", name="California Medical Association", is_national=False)
    demo = Provider(code="DEMO", name="Lakeside University School of Medicine", accreditor=accme)
    west = Provider(code="WEST", name="Western Valley Medical Society", accreditor=cma)
    db.session.add_all([accme, cma, demo, west])
    db.session.flush()
    users = _users({"DEMO": demo, "WEST": west}, {"ACCME": accme, "CMA": cma})
    _deadlines_and_agreements(accme, cma)
    _contacts(demo, users["demo@example.org"], reviewed=datetime(2026, 1, 12, 15, tzinfo=UTC))
    _contacts(west, users["west@example.org"], reviewed=None)
    _activities(demo, rng, now, per_year={2025: 140, 2026: 120}, late_open=0)
    _activities(west, rng, now, per_year={2025: 45, 2026: 38}, late_open=5)
    _close_out_demo_2025(demo, users["demo@example.org"])
    _west_2025(west, users["west@example.org"])
    audit.record("demo.seeded", user_id=None, via="cli")
    db.session.commit()
    return True


def _users(providers: dict, accreditors: dict) -> dict[str, User]:
    out = {}
    pw = hash_password(DEMO_PASSWORD)
    for email, name, pcode, acode, role in DEMO_USERS:
        user = User(email=email, name=name, password_hash=pw, session_token=secrets.token_hex(32))
        user.memberships.append(
            Membership(
                provider_id=providers[pcode].id if pcode else None,
                accreditor_id=accreditors[acode].id if acode else None,
                role=role,
            )
        )
        db.session.add(user)
        out[email] = user
    db.session.flush()
    return out


def _deadlines_and_agreements(accme: Accreditor, cma: Accreditor) -> None:
    # CMA sets earlier dates than ACCME, as Recognized Accreditors may (spec §2).
    for year, day in ((2025, date(2026, 3, 13)), (2026, date(2027, 3, 12))):
        db.session.add(
            ReportingDeadline(
                accreditor_id=cma.id,
                year=year,
                due_at=deadlines.deadline_from_local(day),
                reason="CMA board calendar: reports are due before the March meeting.",
            )
        )
    for acc in (accme, cma):
        for year in (2024, 2025, 2026):
            db.session.add(
                AgreementText(
                    accreditor_id=acc.id,
                    year=year,
                    version=1,
                    title=f"{acc.name} Provider Agreement — {year} reporting cycle",
                    body=_agreement_body(acc.name, year),
                    published_at=datetime(year, 11, 1, 15, tzinfo=UTC),
                )
            )
    db.session.flush()


def _agreement_body(name: str, year: int) -> str:
    return (
        f"By accepting this agreement for the {year} reporting cycle, the provider affirms that "
        f"it will report its {year} activities and Program Summary to {name} accurately and "
        "completely, that its activities comply with the Standards for Integrity and "
        "Independence in Accredited Continuing Education, and that it will keep the records "
        "that support its reports for six years."
    )


def _contacts(p: Provider, user: User, reviewed: datetime | None) -> None:
    people = [
        ("primary", "Dana Morgan", "CME Program Director", "dmorgan"),
        ("billing", "Sam Patel", "Finance Manager", "spatel"),
        ("ceo", "Dr. Robin Lee", "Chief Executive Officer", "rlee"),
    ]
    domain = f"{p.code.lower()}.example.org"
    for role, name, title, handle in people:
        db.session.add(
            Contact(
                provider_id=p.id,
                role=role,
                name=name,
                title=title,
                email=f"{handle}@{domain}",
                phone="(312) 555-0100",
            )
        )
    if reviewed:
        db.session.add(
            ContactReview(
                provider_id=p.id, reviewed_at=reviewed, reviewed_by_id=user.id, changed=False
            )
        )


def _activities(
    p: Provider, rng: random.Random, now: datetime, per_year: dict[int, int], late_open: int
) -> None:
    today = now.astimezone(deadlines.CENTRAL).date()
    counter = 0
    for year, n in per_year.items():
        formats = rng.choices(list(FORMAT_WEIGHTS), weights=list(FORMAT_WEIGHTS.values()), k=n)
        for fmt in formats:
            counter += 1
            a = _make_activity(p, f"{p.code}-{year}-{counter:04d}", fmt, year, rng)
            db.session.add(a)
            _decide_state(a, rng, today, year, late_open)
            refresh_derived(a)
            if a.closed_at is not None and a.completeness != "closable":
                a.closed_at = None  # only a complete activity can have been closed
    db.session.flush()
    _enduring_snapshots(p, rng, today)


def _make_activity(p: Provider, pid: str, fmt: str, year: int, rng: random.Random) -> Activity:
    start = date(year, 1, 6) + timedelta(days=rng.randrange(0, 350))
    end = _end_for(fmt, start, rng)
    delivery = {
        "C": rng.choice(["in_person", "in_person", "live_stream", "hybrid"]),
        "RSS": rng.choice(["in_person", "hybrid"]),
        "EM": rng.choice(["internet", "internet", "print"]),
    }.get(fmt)
    a = Activity(
        provider_id=p.id,
        provider_activity_id=pid,
        format=fmt,
        delivery=delivery,
        title=f"{rng.choice(TITLES[fmt])} {year}",
        start_date=start,
        end_date=end,
        credits=_credits(fmt, rng),
        providership="direct",
        description="Evidence-based update for practising clinicians, with case discussion.",
        passport_listed=rng.random() < 0.3,
        commercial_support=rng.random() < 0.2,
        outcome_competence=True,
        outcome_performance=rng.random() < 0.5,
        outcome_patient_health=rng.random() < 0.15,
    )
    if delivery in ("in_person", "hybrid") or (fmt == "RSS" and delivery is None):
        a.venue, a.city, a.state, a.country = "Lakeside Conference Center", "Chicago", "IL", "USA"
    if a.passport_listed:
        a.passport_fee, a.passport_registration = False, "open"
        a.passport_url = f"https://cme.example.org/activities/{pid.lower()}"
    if rng.random() < 0.15:
        a.providership = "joint"
        a.joint_providers.append(JointProvider(name="Lakeside Nursing Association", position=0))
    if a.commercial_support:
        a.supporters.append(_supporter(rng))
    if fmt in ("C", "RSS") and rng.random() < 0.15:
        points = min(a.credits or Decimal(1), Decimal(10))
        a.moc_registrations.append(
            MocRegistration(
                board="ABIM", credit_types="MK", points=points, practice_areas="Internal Medicine"
            )
        )
    return a


def _end_for(fmt: str, start: date, rng: random.Random) -> date:
    if fmt == "RSS":
        return min(start + timedelta(days=rng.randrange(120, 300)), max_end_date(fmt, start))
    if fmt == "EM":
        return max_end_date(fmt, start) if rng.random() < 0.6 else start + timedelta(days=364)
    if fmt in ("PI", "ISL", "LFT", "CML", "JN", "MR", "TIW"):
        return start + timedelta(days=rng.randrange(30, 200))
    return start + timedelta(days=rng.randrange(0, 3))


def _credits(fmt: str, rng: random.Random) -> Decimal:
    if fmt == "RSS":
        return Decimal(rng.choice([24, 36, 40, 48]))
    if fmt in ("EM", "JN", "ISL"):
        return Decimal(rng.choice(["0.50", "1.00", "1.50", "2.00"]))
    return Decimal(rng.choice(["1.00", "2.50", "6.00", "12.00", "20.00"]))


def _supporter(rng: random.Random) -> CommercialSupporter:
    if rng.random() < 0.7:
        return CommercialSupporter(
            name="Northwind Pharmaceuticals",
            kind="monetary",
            amount_cents=rng.choice([250000, 500000, 1500000]),
            position=0,
        )
    return CommercialSupporter(
        name="Contoso Medical Devices",
        kind="in_kind",
        in_kind_nature="durable_equipment",
        position=0,
    )


def _decide_state(a: Activity, rng: random.Random, today: date, year: int, late_open: int) -> None:
    """Fill learner counts and close most ended activities; leave a realistic remainder open."""
    ended = a.end_date < today
    roll = rng.random()
    if not ended:
        if roll < 0.12:
            a.description = None  # still a draft: the coordinator has not written it yet
        return
    learners = 20 * 40 if a.format == "RSS" else rng.randrange(8, 400)
    if year == 2025 and a.provider_activity_id.startswith("WEST") and roll < late_open / 45 * 2:
        return  # WEST left some 2025 activities open: the late cycle in the demo
    if year >= 2026 and roll < 0.12:
        return  # ended, learner counts not in yet: ready to close with a problem to fix
    a.physician_learners, a.other_learners = learners, rng.randrange(0, 60)
    if year >= 2026 and roll < 0.25:
        return  # ready to close and complete: bulk-close material
    a.closed_at = datetime.combine(a.end_date + timedelta(days=21), datetime.min.time(), UTC)


def _enduring_snapshots(p: Provider, rng: random.Random, today: date) -> None:
    ems = db.session.scalars(
        select(Activity).where(Activity.provider_id == p.id, Activity.format == "EM")
    ).all()
    for a in ems:
        total_phys, total_other = 0, 0
        for year in range(a.start_date.year, min(a.end_date.year, today.year - 1) + 1):
            total_phys += rng.randrange(20, 300)
            total_other += rng.randrange(0, 80)
            db.session.add(
                LearnerSnapshot(
                    provider_id=p.id,
                    activity_id=a.id,
                    year=year,
                    as_of=date(year, 12, 31),
                    physicians=total_phys,
                    others=total_other,
                    recorded_at=datetime(year + 1, 1, 20, 16, tzinfo=UTC),
                )
            )


def _close_out_demo_2025(p: Provider, user: User) -> None:
    """DEMO finished 2025 on time: agreement, summary submitted (year locked), contacts."""
    _accept(p, user, 2025, datetime(2026, 1, 14, 17, tzinfo=UTC))
    for year, submitted in (
        (2024, datetime(2025, 2, 20, 18, tzinfo=UTC)),
        (2025, datetime(2026, 2, 18, 18, tzinfo=UTC)),
    ):
        db.session.add(
            ProgramSummary(
                provider_id=p.id,
                year=year,
                period_start=date(year, 1, 1),
                period_end=date(year, 12, 31),
                advertising_exhibit_cents=4_250_000 + year,
                registration_fees_cents=18_900_000,
                government_grants_cents=0,
                private_donations_cents=1_200_000,
                status="submitted",
                attested=True,
                submitted_at=submitted,
                submitted_by_id=user.id,
            )
        )
        db.session.add(
            YearLock(provider_id=p.id, year=year, locked_at=submitted, locked_by_id=user.id)
        )


def _west_2025(p: Provider, user: User) -> None:
    """WEST accepted the 2025 agreement but is late: summary in draft, contacts unreviewed."""
    _accept(p, user, 2025, datetime(2026, 2, 2, 17, tzinfo=UTC))
    db.session.add(
        ProgramSummary(
            provider_id=p.id,
            year=2025,
            period_start=date(2024, 7, 1),
            period_end=date(2025, 6, 30),
            advertising_exhibit_cents=900_000,
            registration_fees_cents=None,
            status="draft",
        )
    )


def _accept(p: Provider, user: User, year: int, at: datetime) -> None:
    text = db.session.scalar(
        select(AgreementText).where(
            AgreementText.accreditor_id == p.accreditor_id, AgreementText.year == year
        )
    )
    db.session.add(
        AgreementAcceptance(
            provider_id=p.id, agreement_text_id=text.id, accepted_by_id=user.id, accepted_at=at
        )
    )

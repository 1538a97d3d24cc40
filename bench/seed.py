"""Realistic data at scale, fast: the demo's distributions (pars_app/services/demo.py), written
with bulk `insert()` executemany in batches instead of one ORM object per row.

Primary keys are assigned here, so children (supporters, joint providers, MOC, learner
snapshots) can point at their activity without a round trip per row; PostgreSQL's sequences are
moved past them at the end.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, text

from pars_app.domain import status as rules
from pars_app.domain.deadlines import deadline_from_local
from pars_app.extensions import db
from pars_app.models import (
    Accreditor,
    Activity,
    AgreementAcceptance,
    AgreementText,
    AuditEvent,
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
from pars_app.services.accounts import hash_password

# The demo's own tables and helpers: the bench follows the same distributions by construction.
from pars_app.services.demo import FORMAT_WEIGHTS, TITLES, _credits, _end_for

PASSWORD = "bench-password"
BATCH = 5_000
YEARS = 4  # this year, the year being closed out, and two submitted (locked) years before
_FORMATS = list(FORMAT_WEIGHTS)
_WEIGHTS = list(FORMAT_WEIGHTS.values())
_DESCRIPTION = "Evidence-based update for practising clinicians, with case discussion."


@dataclass(frozen=True)
class SeededProvider:
    id: int
    code: str
    email: str
    activities: int


@dataclass(frozen=True)
class SeededAccreditor:
    """A state society, its providers, and one of its staff (`email`) to sign in as."""

    id: int
    code: str
    email: str
    providers: int
    activities: int


@dataclass
class Seeded:
    """What the measurements need to find again: providers by role, and what was written."""

    big: SeededProvider
    small: SeededProvider
    closer: SeededProvider  # every activity complete, ended and open: bulk-close material
    # Two state societies for the accreditor overview: many providers, and few.
    oversees_many: SeededAccreditor | None = None
    oversees_few: SeededAccreditor | None = None
    password: str = PASSWORD
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class _Ids:
    """Next primary key per table (bulk inserts carry explicit ids)."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        n = self.next.get(table, 1)
        self.next[table] = n + 1
        return n


@dataclass
class _Rows:
    """Rows waiting for their bulk insert, per model, in insert order."""

    by_model: dict[type, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type, row: dict[str, Any]) -> None:
        self.by_model.setdefault(model, []).append(row)


def seed(
    today: date,
    big: int,
    small: int,
    others: int,
    other_size: int,
    close_rows: int,
    rng_seed: int = 2025,
    overview: tuple[int, int] = (0, 0),
    overview_activities: int = 0,
) -> Seeded:
    """Seed one database with a big and a small provider (same distributions), `others` more
    small providers beside them, and one provider whose activities are all ready to close;
    then two state societies with `overview` = (many, few) providers of `overview_activities`
    activities each, for the accreditor overview."""
    rng = random.Random(rng_seed)
    ids = _Ids()
    acc = Accreditor(code="ACCME", name="ACCME", is_national=True)
    db.session.add(acc)
    db.session.flush()
    _agreements(acc, today)
    pw = hash_password(PASSWORD)  # argon2 once: every bench user shares it
    plan = [("BIG", big), ("SMALL", small), ("CLOSE", close_rows)]
    plan += [(f"OTHER{i:02d}", other_size) for i in range(others)]
    made: dict[str, SeededProvider] = {}
    counts: dict[str, int] = {}
    for code, n in plan:
        p, email = _provider(acc, code, pw, today)
        rows = _Rows()
        if code == "CLOSE":
            _closable_activities(rows, ids, p.id, n, today, rng)
        else:
            _activities(rows, ids, p.id, n, today, rng)
        _flush(rows, counts)
        made[code] = SeededProvider(p.id, code, email, n)
    societies = [
        _society(code, n, overview_activities, pw, today, rng, ids, counts) if n else None
        for code, n in zip(("RA-MANY", "RA-FEW"), overview, strict=True)
    ]
    _move_sequences(ids)
    db.session.commit()
    return Seeded(
        big=made["BIG"],
        small=made["SMALL"],
        closer=made["CLOSE"],
        oversees_many=societies[0],
        oversees_few=societies[1],
        rows=counts,
    )


def _agreements(acc: Accreditor, today: date) -> None:
    for year in range(today.year - YEARS + 1, today.year + 1):
        db.session.add(
            AgreementText(
                accreditor_id=acc.id,
                year=year,
                version=1,
                title=f"ACCME Provider Agreement — {year} reporting cycle",
                body="The provider will report its activities accurately and completely.",
                published_at=datetime(year, 11, 1, 15, tzinfo=UTC),
            )
        )
    db.session.flush()


def _provider(acc: Accreditor, code: str, pw: str, today: date) -> tuple[Provider, str]:
    """A provider with one admin, contacts, and a close-out history: years before the last
    submitted and locked; last year in progress (agreement accepted, summary in draft)."""
    p = Provider(code=code, name=f"Bench provider {code}", accreditor_id=acc.id)
    db.session.add(p)
    db.session.flush()
    email = f"{code.lower()}@bench.example.org"
    user = User(email=email, name=code, password_hash=pw, session_token=secrets.token_hex(32))
    user.memberships.append(Membership(provider_id=p.id, role="admin"))
    db.session.add(user)
    for role, name in (("primary", "Dana Morgan"), ("billing", "Sam Patel"), ("ceo", "Robin Lee")):
        db.session.add(Contact(provider_id=p.id, role=role, name=name, email=f"{role}@x.org"))
    db.session.flush()
    db.session.add(
        ContactReview(provider_id=p.id, reviewed_at=_at(today.year, 1, 12), reviewed_by_id=user.id)
    )
    texts = {t.year: t.id for t in db.session.scalars(db.select(AgreementText))}
    for year in range(today.year - YEARS + 1, today.year):
        accepted = _at(year + 1, 1, 14)
        db.session.add(
            AgreementAcceptance(
                provider_id=p.id,
                agreement_text_id=texts[year],
                accepted_by_id=user.id,
                accepted_at=accepted,
            )
        )
        submitted = year < today.year - 1
        db.session.add(_summary(p.id, year, user.id if submitted else None))
        if submitted:
            db.session.add(YearLock(provider_id=p.id, year=year, locked_at=_at(year + 1, 2, 20)))
    db.session.flush()
    return p, email


def _summary(provider_id: int, year: int, submitted_by: int | None) -> ProgramSummary:
    return ProgramSummary(
        provider_id=provider_id,
        year=year,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        advertising_exhibit_cents=4_250_000,
        registration_fees_cents=18_900_000,
        government_grants_cents=0,
        private_donations_cents=1_200_000,
        status="submitted" if submitted_by else "draft",
        attested=submitted_by is not None,
        submitted_at=_at(year + 1, 2, 18) if submitted_by else None,
        submitted_by_id=submitted_by,
    )


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 16, tzinfo=UTC)


# --- State societies, for the accreditor overview ---------------------------------------------

FINISHED = 0.35  # share of a society's providers that submitted last year on time


def _society(
    code: str,
    n: int,
    per_provider: int,
    pw: str,
    today: date,
    rng: random.Random,
    ids: _Ids,
    counts: dict[str, int],
) -> SeededAccreditor:
    """A state society with `n` providers in mid close-out, and a staff member.

    Its deadline for last year (February 13) has just passed at the bench's clock, as a
    society that asks for reports before ACCME's March 31 would have it: about a third of its
    providers finished last year; the rest are late, each short of a different step.
    """
    acc = Accreditor(code=code, name=f"Bench state society {code}", is_national=False)
    db.session.add(acc)
    db.session.flush()
    _agreements(acc, today)
    last = today.year - 1
    due = deadline_from_local(date(today.year, 2, 13))
    db.session.add(ReportingDeadline(accreditor_id=acc.id, year=last, due_at=due, reason="Board"))
    email = f"{code.lower()}@bench.example.org"
    staff = User(email=email, name=code, password_hash=pw, session_token=secrets.token_hex(32))
    staff.memberships.append(Membership(accreditor_id=acc.id, role="accreditor"))
    db.session.add(staff)
    text_id = db.session.scalar(
        db.select(AgreementText.id).where(
            AgreementText.accreditor_id == acc.id, AgreementText.year == last
        )
    )
    db.session.execute(
        insert(Provider),
        [
            dict(code=f"{code}-{i:04d}", name=f"{code} provider {i:04d}", accreditor_id=acc.id)
            for i in range(n)
        ],
    )
    pids = list(db.session.scalars(db.select(Provider.id).where(Provider.accreditor_id == acc.id)))
    rows = _Rows()
    for i, pid in enumerate(pids):
        if i % 100 == 0:  # a hundred providers' rows at a time, not 300,000 dicts in memory
            _flush(rows, counts)
            rows = _Rows()
        finished = rng.random() < FINISHED
        _activities(rows, ids, pid, per_provider, today, rng, closed_out=finished)
        if finished or rng.random() < 0.8:
            rows.add(
                AgreementAcceptance,
                dict(
                    provider_id=pid, agreement_text_id=text_id, accepted_at=_at(today.year, 1, 14)
                ),
            )
        if finished or rng.random() < 0.5:
            rows.add(ProgramSummary, _summary_row(pid, last, finished))
        if finished:
            rows.add(YearLock, dict(provider_id=pid, year=last, locked_at=_at(today.year, 2, 9)))
        reviewed = _at(today.year, 1, 12) if finished or rng.random() < 0.7 else _at(last, 5, 2)
        rows.add(ContactReview, dict(provider_id=pid, reviewed_at=reviewed))
        for _ in range(3):
            at = _at(today.year, 1, 1) + timedelta(hours=rng.randrange(0, 45 * 24))
            rows.add(AuditEvent, dict(provider_id=pid, action="activity.updated", at=at))
    _flush(rows, counts)
    return SeededAccreditor(acc.id, code, email, n, n * per_provider)


def _summary_row(provider_id: int, year: int, submitted: bool) -> dict[str, Any]:
    return dict(
        provider_id=provider_id,
        year=year,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        status="submitted" if submitted else "draft",
        attested=submitted,
        submitted_at=_at(year + 1, 2, 9) if submitted else None,
    )


# --- Activities -------------------------------------------------------------------------------


def _years(n: int, today: date) -> Iterator[int]:
    """Spread `n` activities evenly over the bench's years, oldest first."""
    first = today.year - YEARS + 1
    for i in range(n):
        yield first + i * YEARS // max(n, 1)


def _activities(
    rows: _Rows,
    ids: _Ids,
    pid: int,
    n: int,
    today: date,
    rng: random.Random,
    closed_out: bool = False,
):
    for i, year in enumerate(_years(n, today)):
        fmt = rng.choices(_FORMATS, weights=_WEIGHTS)[0]
        a, kids = _activity(ids, pid, f"{year}-{i + 1:06d}", fmt, year, rng)
        _decide_state(a, rng, today, closed_out)
        _derive(a, kids, today)
        _add(rows, a, kids)
        if fmt == "EM":
            _snapshots(rows, ids, a, today, rng)


def _closable_activities(rows: _Rows, ids: _Ids, pid: int, n: int, today: date, rng):
    """`n` activities that ended last year, complete, open: what a bulk close closes."""
    year = today.year - 1
    made = 0
    for _ in range(20 * n):  # most draws qualify; the bound only stops a broken generator
        if made == n:
            return
        fmt = rng.choices(["C", "RSS", "PI", "CML"], weights=[4, 3, 1, 1])[0]
        a, kids = _activity(ids, pid, f"{year}-{made + 1:06d}", fmt, year, rng)
        a["end_date"] = min(a["end_date"], date(year, 12, 31))
        a["physician_learners"], a["other_learners"] = rng.randrange(8, 400), rng.randrange(60)
        a["commercial_support"], kids["supporters"] = False, []
        _derive(a, kids, today)
        if a["completeness"] != "closable":
            ids.next["activities"] -= 1  # give the id back: it was never written
            continue
        _add(rows, a, kids)
        made += 1
    if made < n:
        raise RuntimeError(f"only {made} of {n} drawn activities were closable")


def _activity(ids: _Ids, pid: int, code: str, fmt: str, year: int, rng: random.Random):
    """One activity row and its children, drawn like demo._make_activity."""
    start = date(year, 1, 6) + timedelta(days=rng.randrange(0, 350))
    delivery = {
        "C": rng.choice(["in_person", "in_person", "live_stream", "hybrid"]),
        "RSS": rng.choice(["in_person", "hybrid"]),
        "EM": rng.choice(["internet", "internet", "print"]),
    }.get(fmt)
    a: dict[str, Any] = dict(_BLANK, id=ids.take("activities"), provider_id=pid)
    a.update(
        provider_activity_id=code,
        format=fmt,
        delivery=delivery,
        title=f"{rng.choice(TITLES[fmt])} {year}",
        start_date=start,
        end_date=_end_for(fmt, start, rng),
        credits=_credits(fmt, rng),
        passport_listed=rng.random() < 0.3,
        commercial_support=rng.random() < 0.2,
        outcome_performance=rng.random() < 0.5,
        outcome_patient_health=rng.random() < 0.15,
        created_at=_at(year, 1, 2),
        updated_at=_at(year, 1, 2),
    )
    if delivery in ("in_person", "hybrid") or fmt == "RSS":
        a.update(venue="Lakeside Conference Center", city="Chicago", state="IL", country="USA")
    if a["passport_listed"]:
        a["passport_fee"], a["passport_registration"] = False, "open"
        a["passport_url"] = f"https://cme.example.org/activities/{code.lower()}"
    return a, _children(ids, a, fmt, rng)


# Columns every activity starts from (what demo._make_activity sets before drawing).
_BLANK: dict[str, Any] = dict(
    providership="direct",
    description=_DESCRIPTION,
    outcome_competence=True,
    outcome_community_health=False,
    venue=None,
    city=None,
    state=None,
    country=None,
    passport_fee=None,
    passport_registration=None,
    passport_url=None,
    physician_learners=None,
    other_learners=None,
    closed_at=None,
    version=1,
)


def _children(ids: _Ids, a: dict[str, Any], fmt: str, rng: random.Random) -> dict[str, list]:
    kids: dict[str, list] = {"joint": [], "supporters": [], "moc": []}
    if rng.random() < 0.15:
        a["providership"] = "joint"
        kids["joint"].append(dict(name="Lakeside Nursing Association", position=0))
    if a["commercial_support"]:
        if rng.random() < 0.7:
            amount = rng.choice([250000, 500000, 1500000])
            kids["supporters"].append(
                dict(
                    name="Northwind Pharmaceuticals",
                    kind="monetary",
                    amount_cents=amount,
                    in_kind_nature=None,
                )
            )
        else:
            kids["supporters"].append(
                dict(
                    name="Contoso Medical Devices",
                    kind="in_kind",
                    amount_cents=None,
                    in_kind_nature="durable_equipment",
                )
            )
    if fmt in ("C", "RSS") and rng.random() < 0.15:
        points = min(a["credits"] or Decimal(1), Decimal(10))
        kids["moc"].append(
            dict(board="ABIM", credit_types="MK", points=points, practice_areas="Internal Medicine")
        )
    return kids


def _decide_state(a: dict[str, Any], rng: random.Random, today: date, closed_out: bool) -> None:
    """demo._decide_state at scale, in the close-out season: learner counts and closing.

    Years before last are submitted: everything that ended is closed. Last year is being
    closed out: what ended in its last quarter is still open (half of it with counts in), the
    rest as the demo's current year (12% awaiting counts, 13% ready to close, the rest closed).
    A provider that has `closed_out` last year already has it like the years before.
    """
    end = a["end_date"]
    roll = rng.random()
    if end >= today:
        if roll < 0.12:
            a["description"] = None  # a draft: the description is not written yet
        return
    learners = 20 * 40 if a["format"] == "RSS" else rng.randrange(8, 400)
    closing_out = end.year >= today.year - (0 if closed_out else 1)
    if closing_out and (roll < 0.12 or (end.month >= 10 and roll < 0.5)):
        return  # ended, learner counts not in yet
    a["physician_learners"], a["other_learners"] = learners, rng.randrange(0, 60)
    if closing_out and (roll < 0.25 or end.month >= 10):
        return  # complete and ready to close
    a["closed_at"] = datetime.combine(end + timedelta(days=21), datetime.min.time(), UTC)


def _derive(a: dict[str, Any], kids: dict[str, list], today: date) -> None:
    """Stored completeness and problem count, by the domain's own rules (as refresh_derived)."""
    facts = rules.ActivityFacts(
        **{k: a[k] for k in _FACT_COLUMNS},
        joint_providers=tuple(j["name"] for j in kids["joint"]),
        supporters=tuple(
            rules.SupporterFacts(
                name=s["name"],
                kind=s["kind"],
                amount_cents=s["amount_cents"],
                in_kind_nature=s["in_kind_nature"],
            )
            for s in kids["supporters"]
        ),
        moc=tuple(
            rules.MocFacts(m["board"], (m["credit_types"],), m["points"], (m["practice_areas"],))
            for m in kids["moc"]
        ),
        closed=a["closed_at"] is not None,
    )
    report = rules.evaluate(facts, today)
    a["completeness"], a["problem_count"] = report.level, len(report.problems)
    if a["closed_at"] is not None and report.level != "closable":
        a["closed_at"] = None  # only a complete activity can have been closed (as the demo)


# The facts that are plain columns (the rest come from child rows).
_FACT_COLUMNS = [
    f.name
    for f in fields(rules.ActivityFacts)
    if f.name not in ("joint_providers", "supporters", "moc", "closed")
]


def _add(rows: _Rows, a: dict[str, Any], kids: dict[str, list]) -> None:
    rows.add(Activity, a)
    for model, key in ((JointProvider, "joint"), (CommercialSupporter, "supporters")):
        for pos, kid in enumerate(kids[key]):
            rows.add(model, dict(kid, activity_id=a["id"], position=pos))
    for kid in kids["moc"]:
        rows.add(MocRegistration, dict(kid, activity_id=a["id"]))


def _snapshots(rows: _Rows, ids: _Ids, a: dict[str, Any], today: date, rng: random.Random):
    """Cumulative December 31 learner counts of an enduring material, as the demo records."""
    phys = other = 0
    for year in range(a["start_date"].year, min(a["end_date"].year, today.year - 1) + 1):
        phys, other = phys + rng.randrange(20, 300), other + rng.randrange(0, 80)
        rows.add(
            LearnerSnapshot,
            dict(
                id=ids.take("learner_snapshots"),
                provider_id=a["provider_id"],
                activity_id=a["id"],
                year=year,
                as_of=date(year, 12, 31),
                physicians=phys,
                others=other,
                recorded_at=_at(year + 1, 1, 20),
                version=1,
            ),
        )


def _flush(rows: _Rows, counts: dict[str, int]) -> None:
    """Bulk-insert the gathered rows, parents first, `BATCH` rows per statement.

    Core inserts into the tables, not ORM bulk inserts: those leave out a row's None values,
    so rows differing in which columns are empty went out one statement each."""
    order = (Activity, JointProvider, CommercialSupporter, MocRegistration, LearnerSnapshot)
    order += (AgreementAcceptance, ProgramSummary, YearLock, ContactReview, AuditEvent)
    for model in order:
        pending = rows.by_model.get(model, [])
        for i in range(0, len(pending), BATCH):
            db.session.execute(insert(model.__table__), pending[i : i + BATCH])
        if pending:
            counts[model.__tablename__] = counts.get(model.__tablename__, 0) + len(pending)


def _move_sequences(ids: _Ids) -> None:
    """PostgreSQL: serial sequences must start after the ids written explicitly."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ids.next:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )

"""Plain `make_*` factories. Call them inside an app context; they flush, the caller commits."""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

from pars_app.extensions import db
from pars_app.models import (
    Accreditor,
    Activity,
    AgreementAcceptance,
    AgreementText,
    CommercialSupporter,
    JointProvider,
    LearnerSnapshot,
    Membership,
    Provider,
    User,
)
from pars_app.services.accounts import hash_password
from pars_app.services.activities import refresh_derived

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
_HASH = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:  # argon2 is slow on purpose; hash the shared test password once
        _HASH = hash_password(PASSWORD)
    return _HASH


def make_accreditor(code: str | None = None, national: bool = False) -> Accreditor:
    n = next(_seq)
    acc = Accreditor(code=code or f"ACC{n}", name=f"Accreditor {n}", is_national=national)
    db.session.add(acc)
    db.session.flush()
    return acc


def make_provider(code: str | None = None, accreditor: Accreditor | None = None) -> Provider:
    n = next(_seq)
    p = Provider(
        code=code or f"P{n}", name=f"Provider {n}", accreditor=accreditor or make_accreditor()
    )
    db.session.add(p)
    db.session.flush()
    return p


def make_user(
    email: str | None = None,
    provider: Provider | None = None,
    role: str = "admin",
    accreditor: Accreditor | None = None,
) -> User:
    n = next(_seq)
    u = User(
        email=email or f"user{n}@example.org",
        name=f"User {n}",
        password_hash=_password_hash(),
        session_token=secrets.token_hex(32),
    )
    u.memberships.append(
        Membership(
            provider_id=provider.id if provider else None,
            accreditor_id=accreditor.id if accreditor else None,
            role="accreditor" if accreditor else role,
        )
    )
    db.session.add(u)
    db.session.flush()
    return u


def make_activity(provider: Provider, complete: bool = True, **fields) -> Activity:
    """An activity; `complete=True` fills every field needed to close it."""
    n = next(_seq)
    values: dict = dict(
        provider_id=provider.id,
        provider_activity_id=f"A-{n:05d}",
        title=f"Activity {n}",
        format="JN",
        start_date=date(2025, 3, 1),
        end_date=date(2025, 3, 31),
    )
    if complete:
        values.update(
            credits=Decimal("1.50"),
            description="An update.",
            providership="direct",
            passport_listed=False,
            commercial_support=False,
            outcome_competence=True,
            physician_learners=10,
            other_learners=2,
        )
    joint = fields.pop("joint_providers", None)
    supporters = fields.pop("supporters", None)
    values.update(fields)
    a = Activity(**values)
    for i, name in enumerate(joint or []):
        a.joint_providers.append(JointProvider(name=name, position=i))
    for i, s in enumerate(supporters or []):
        a.supporters.append(CommercialSupporter(position=i, **s))
    db.session.add(a)
    refresh_derived(a)
    db.session.flush()
    return a


def make_snapshot(activity: Activity, year: int, physicians: int = 10, others: int = 1):
    s = LearnerSnapshot(
        provider_id=activity.provider_id,
        activity_id=activity.id,
        year=year,
        as_of=date(year, 12, 31),
        physicians=physicians,
        others=others,
    )
    db.session.add(s)
    db.session.flush()
    return s


def make_agreement(accreditor: Accreditor, year: int, version: int = 1) -> AgreementText:
    t = AgreementText(
        accreditor_id=accreditor.id, year=year, version=version, title="Agreement", body="Text"
    )
    db.session.add(t)
    db.session.flush()
    return t


def accept_agreement(provider: Provider, text: AgreementText, user: User, at: datetime):
    acc = AgreementAcceptance(
        provider_id=provider.id,
        agreement_text_id=text.id,
        accepted_by_id=user.id,
        accepted_at=at,
    )
    db.session.add(acc)
    db.session.flush()
    return acc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token the server put in a page's meta tag (what app.js sends for htmx)."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD, follow: bool = False):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=follow,
    )


# --- Added for the web and security tests (append only) -------------------------------------


def make_summary(provider: Provider, year: int, submitted_at: datetime | None = None):
    """A Program Summary for `year`; submitted (status "submitted") when `submitted_at` is given."""
    from pars_app.models import ProgramSummary

    s = ProgramSummary(
        provider_id=provider.id,
        year=year,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        status="submitted" if submitted_at else "draft",
        attested=submitted_at is not None,
        submitted_at=submitted_at,
    )
    db.session.add(s)
    db.session.flush()
    return s


def make_contact_review(provider: Provider, at: datetime, user: User | None = None):
    from pars_app.models import ContactReview

    r = ContactReview(
        provider_id=provider.id, reviewed_at=at, reviewed_by_id=user.id if user else None
    )
    db.session.add(r)
    db.session.flush()
    return r


def make_contact(provider: Provider, role: str = "primary", name: str = "Pat Primary"):
    from pars_app.models import Contact

    c = Contact(provider_id=provider.id, role=role, name=name, email="pat@example.org")
    db.session.add(c)
    db.session.flush()
    return c


def make_import_job(provider: Provider, filename: str = "activities.xlsx"):
    from pars_app.models import ImportJob

    job = ImportJob(provider_id=provider.id, filename=filename, kind="xlsx", status="previewed")
    db.session.add(job)
    db.session.flush()
    return job


def make_enduring(provider: Provider, start: date, end: date, **fields) -> Activity:
    """A complete enduring material delivered over the internet."""
    return make_activity(
        provider, format="EM", delivery="internet", start_date=start, end_date=end, **fields
    )


def htmx_headers() -> dict[str, str]:
    return {"HX-Request": "true"}

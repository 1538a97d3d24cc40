"""Demo data and the `flask pars` commands."""

import json
from datetime import date

import time_machine
from sqlalchemy import func, select

from pars_app.domain.formats import FORMAT_CODES
from pars_app.extensions import db
from pars_app.models import Activity, LearnerSnapshot, Provider, User
from tests.factories import make_provider, utc

DEMO_NOW = utc(2026, 11, 25, 18)


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


@time_machine.travel(DEMO_NOW, tick=False)
def test_seed_demo_is_realistic_and_idempotent(app):
    first = _run(app, "pars", "seed-demo")
    assert first.exit_code == 0, first.output
    assert "demo@example.org" in first.output
    with app.app_context():
        counts = db.session.execute(select(func.count(Activity.id))).scalar()
        users = db.session.execute(select(func.count(User.id))).scalar()
    second = _run(app, "pars", "seed-demo")
    assert "already present" in second.output
    with app.app_context():
        assert db.session.execute(select(func.count(Activity.id))).scalar() == counts
        assert db.session.execute(select(func.count(User.id))).scalar() == users
        demo = db.session.scalar(select(Provider).where(Provider.code == "DEMO"))
        acts = db.session.scalars(select(Activity).where(Activity.provider_id == demo.id)).all()
        assert {a.format for a in acts} == set(FORMAT_CODES)
        assert {a.start_date.year for a in acts} == {2025, 2026}
        today = date(2026, 11, 25)
        assert any(a.format == "EM" and a.end_date.year - a.start_date.year >= 2 for a in acts)
        assert any(a.closed_at is not None for a in acts)
        ready = [a for a in acts if a.closed_at is None and a.end_date < today]
        assert any(a.completeness == "closable" for a in ready)
        assert any(a.completeness != "closable" for a in ready)
        assert db.session.scalar(select(func.count(LearnerSnapshot.id))) > 0


@time_machine.travel(DEMO_NOW, tick=False)
def test_checklist_command_text_and_json(app):
    _run(app, "pars", "seed-demo")
    out = _run(app, "pars", "checklist", "--provider", "DEMO", "--year", "2025", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["provider"] == "DEMO" and data["year"] == 2025
    assert [s["key"] for s in data["steps"]] == [
        "agreement",
        "activities",
        "enduring",
        "summary",
        "contacts",
    ]
    assert all(s["state"] == "done" for s in data["steps"])  # DEMO finished 2025 on time
    west = json.loads(
        _run(app, "pars", "checklist", "--provider", "WEST", "--year", "2025", "--json").output
    )
    assert west["late"] is True
    text = _run(app, "pars", "checklist", "--provider", "WEST", "--year", "2025")
    assert "LATE" in text.output and "Deadline: Friday March 13, 2026" in text.output


def test_checklist_command_rejects_unknown_provider_and_bad_year(app):
    out = _run(app, "pars", "checklist", "--provider", "NOPE", "--year", "2025")
    assert out.exit_code == 2 and "no provider with code 'NOPE'" in out.output
    out = _run(app, "pars", "checklist", "--provider", "NOPE", "--year", "twenty")
    assert out.exit_code == 2 and "--year" in out.output


def test_create_user_validates_every_argument(app):
    with app.app_context():
        make_provider("ACME")
        db.session.commit()
    ok = _run(
        app,
        "pars",
        "create-user",
        "New@Example.org",
        "--provider",
        "ACME",
        "--role",
        "staff",
        "--password",
        "s3cret-pass",
    )
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new@example.org"))
    for args, message in [
        (["--provider", "NOPE", "--role", "staff"], "No provider with code 'NOPE'"),
        (["--provider", "ACME", "--role", "accreditor"], "needs --accreditor"),
        (["--accreditor", "X", "--role", "admin"], "needs --provider"),
        (["--provider", "ACME", "--role", "owner"], "Invalid value for '--role'"),
    ]:
        out = _run(app, "pars", "create-user", "x@example.org", *args, "--password", "pw12345")
        assert out.exit_code == 2, out.output
        assert message in out.output
    bad = _run(
        app,
        "pars",
        "create-user",
        "not-an-email",
        "--provider",
        "ACME",
        "--role",
        "staff",
        "--password",
        "pw12345",
    )
    assert bad.exit_code == 2 and "is not an email address" in bad.output

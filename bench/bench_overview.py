"""Accreditor overview latency: 2,000 providers (~300,000 activities) against 20 providers.

Seeds two SQLite databases in a temporary directory, signs in as ACCME staff and times
`GET /accreditor/?year=2025` (the default view: a page of 50 providers) and the "late" filter
(every provider's facts, then the page) through the real app, with the query count of each.
Prints ratios measured in one run on this machine; absolute times are noise.

    .venv/bin/python bench/bench_overview.py [--big 2000] [--small 20] [--per-provider 150]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, select

from pars_app import create_app
from pars_app.extensions import db
from pars_app.models import (
    Accreditor,
    Activity,
    AgreementAcceptance,
    AgreementText,
    AuditEvent,
    ContactReview,
    LearnerSnapshot,
    Membership,
    ProgramSummary,
    Provider,
    User,
)
from pars_app.services.accounts import hash_password

PASSWORD = "bench-password"
NOW = datetime(2026, 4, 10, 15, tzinfo=UTC)  # ACCME's 2025 deadline has passed


def seed(n_providers: int, per_provider: int, rng: random.Random) -> None:
    """n providers under ACCME, each with a realistic 2025, in bulk inserts."""
    accme = Accreditor(code="ACCME", name="ACCME", is_national=True)
    db.session.add(accme)
    db.session.flush()
    text = AgreementText(accreditor_id=accme.id, year=2025, version=1, title="A", body="B")
    user = User(email="staff@accme.org", password_hash=hash_password(PASSWORD), session_token="t")
    user.memberships.append(Membership(accreditor_id=accme.id, role="accreditor"))
    db.session.add_all([text, user])
    db.session.flush()
    db.session.execute(
        insert(Provider),
        [
            {"code": f"P{i:05d}", "name": f"Provider {i:05d}", "accreditor_id": accme.id}
            for i in range(n_providers)
        ],
    )
    ids = list(db.session.scalars(select(Provider.id)))
    activities, per_provider_rows = [], []
    for pid in ids:
        for k in range(per_provider):
            start = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 360))
            em = k % 15 == 0
            end = start + timedelta(days=700 if em else rng.randrange(0, 60))
            closed = rng.random() < 0.9
            activities.append(
                {
                    "provider_id": pid,
                    "provider_activity_id": f"{pid}-{k}",
                    "title": f"Activity {k}",
                    "format": "EM" if em else rng.choice(["C", "RSS", "JN", "PI"]),
                    "start_date": start,
                    "end_date": end,
                    "completeness": "closable",
                    "closed_at": NOW - timedelta(days=30) if closed else None,
                }
            )
        per_provider_rows.append(pid)
    for chunk in range(0, len(activities), 20_000):
        db.session.execute(insert(Activity), activities[chunk : chunk + 20_000])
    _seed_steps(per_provider_rows, text.id, rng)
    db.session.commit()


def _seed_steps(ids: list[int], text_id: int, rng: random.Random) -> None:
    ems = db.session.execute(
        select(Activity.id, Activity.provider_id).where(Activity.format == "EM")
    )
    db.session.execute(
        insert(LearnerSnapshot),
        [
            {
                "provider_id": pid,
                "activity_id": aid,
                "year": 2025,
                "as_of": date(2025, 12, 31),
                "physicians": 10,
                "others": 1,
            }
            for aid, pid in ems
            if rng.random() < 0.8
        ],
    )
    done = [pid for pid in ids if rng.random() < 0.7]
    db.session.execute(
        insert(AgreementAcceptance),
        [{"provider_id": pid, "agreement_text_id": text_id, "accepted_at": NOW} for pid in done],
    )
    db.session.execute(
        insert(ProgramSummary),
        [
            {
                "provider_id": pid,
                "year": 2025,
                "period_start": date(2025, 1, 1),
                "period_end": date(2025, 12, 31),
                "status": "submitted",
                "submitted_at": NOW,
            }
            for pid in done[::2]
        ],
    )
    db.session.execute(
        insert(ContactReview), [{"provider_id": pid, "reviewed_at": NOW} for pid in done]
    )
    db.session.execute(
        insert(AuditEvent),
        [
            {"provider_id": pid, "action": "activity.updated", "at": NOW - timedelta(hours=k)}
            for pid in ids
            for k in range(20)
        ],
    )


def measure(n_providers: int, per_provider: int, runs: int) -> dict[str, tuple[float, int]]:
    """Median seconds and query count of each view, on a fresh database of n providers."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                "TESTING": True,
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            db.create_all()
            seed(n_providers, per_provider, random.Random(6))
            db.session.remove()
        client = app.test_client()
        client.post("/login", data={"email": "staff@accme.org", "password": PASSWORD})
        out = {}
        for name, url in (
            ("default view", "/accreditor/?year=2025"),
            ("late filter", "/accreditor/?year=2025&state=late"),
        ):
            out[name] = _time(app, client, url, runs)
        with app.app_context():
            db.engine.dispose()
        return out


def _time(app, client, url: str, runs: int) -> tuple[float, int]:
    queries = []
    with app.app_context():
        engine = db.engine

    def count(*_args):
        queries.append(1)

    client.get(url)  # warm caches (templates, statement cache)
    times = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(runs):
            queries.clear()
            start = time.perf_counter()
            resp = client.get(url)
            times.append(time.perf_counter() - start)
            assert resp.status_code == 200, resp.status_code
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statistics.median(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=2000)
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--per-provider", type=int, default=150)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    small = measure(args.small, args.per_provider, args.runs)
    big = measure(args.big, args.per_provider, args.runs)
    print(
        f"accreditor overview: {args.big} vs {args.small} providers, "
        f"{args.per_provider} activities each"
    )
    print(f"{'view':<14} {'small ms':>9} {'big ms':>9} {'ratio':>6} {'queries':>9}")
    for name in small:
        (t_small, q_small), (t_big, q_big) = small[name], big[name]
        print(
            f"{name:<14} {t_small * 1000:9.1f} {t_big * 1000:9.1f} {t_big / t_small:6.2f} "
            f"{q_small:>4}/{q_big:<4}"
        )
    print("target: default view ratio <= 2.0 with an equal query count")
    print("the late filter loads every provider's facts before cutting the page (by design, see")
    print("docs/decisions.md, 'Overview queries are set-based'): its ratio grows with the data")


if __name__ == "__main__":
    main()

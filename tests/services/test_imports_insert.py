"""The commit's bulk insert (`import_commit.insert_many`) stores exactly what Core's own
executemany stores: the same values in the database, read back raw, for every kind of column
the import writes (dates, UTC instants, hundredths, flags, text, NULLs), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, MocRegistration
from pars_app.services.import_commit import insert_many
from tests.factories import make_provider

NOW = datetime(2026, 2, 15, 18, 0, 1, 250, tzinfo=UTC)


def _activity(provider_id: int, i: int, **kw) -> dict:
    values = dict(
        provider_id=provider_id,
        provider_activity_id=f"A-{i}",
        accme_activity_id=800_000_000 + i if i % 3 else None,
        title=f"Title {i} ✓",
        format="C",
        delivery="hybrid" if i % 2 else None,
        start_date=date(2025, 3, 1 + i % 5),
        end_date=date(2025, 3, 2 + i % 5),
        venue=None,
        city="Chicago",
        state="IL",
        country="USA",
        credits=[Decimal("12.25"), Decimal("0.50"), None, Decimal("1")][i % 4],
        description="Line one\nline two",
        providership="joint",
        passport_listed=[True, False, None][i % 3],
        passport_fee=None,
        passport_registration=None,
        passport_url=None,
        commercial_support=bool(i % 2),
        outcome_competence=True,
        outcome_performance=False,
        outcome_patient_health=bool(i % 3),
        outcome_community_health=False,
        physician_learners=[1040, 0, None][i % 3],
        other_learners=12,
        completeness="closable",
        problem_count=i % 2,
        legacy_data=None,
        created_by_id=None,
        updated_by_id=None,
        # One instant for most rows, as a commit writes them; others in another zone.
        created_at=NOW if i % 4 else NOW.astimezone(timezone(timedelta(hours=-6))),
        updated_at=NOW,
        version=1,
        closed_at=NOW + timedelta(seconds=i) if i % 5 == 0 else None,
        closed_by_id=None,
    )
    return values | kw


def _raw(table, where) -> list[tuple]:
    """The rows as the database holds them, without any type processing on the way back."""
    columns = ", ".join(c.name for c in table.c if c.name != "id")
    sql = f"SELECT {columns} FROM {table.name} WHERE {where} ORDER BY id"
    return [tuple(r) for r in db.session.execute(text(sql)).all()]


@pytest.mark.parametrize("rows", [1, 2, 12])
def test_activities_are_stored_as_core_stores_them(ctx, rows):
    core, mine = make_provider(code="CORE"), make_provider(code="MINE")
    db.session.commit()
    table = Activity.__table__
    db.session.execute(insert(table), [_activity(core.id, i) for i in range(rows)])
    insert_many(table, [_activity(mine.id, i) for i in range(rows)])
    db.session.commit()
    stored_core = _raw(table, f"provider_id = {core.id}")
    stored_mine = _raw(table, f"provider_id = {mine.id}")
    provider_at = [c.name for c in table.c if c.name != "id"].index("provider_id")
    assert len(stored_mine) == rows
    assert [r[:provider_at] + r[provider_at + 1 :] for r in stored_mine] == [
        r[:provider_at] + r[provider_at + 1 :] for r in stored_core
    ]
    # And the ORM reads them back as it reads its own.
    mine_rows = select(Activity).where(Activity.provider_id == mine.id).order_by(Activity.id)
    got = db.session.scalars(mine_rows).all()
    assert [(a.credits, a.created_at, a.passport_listed) for a in got] == [
        (v["credits"], v["created_at"], v["passport_listed"])
        for v in (_activity(mine.id, i) for i in range(rows))
    ]


def test_child_rows_and_audit_events_are_stored_as_core_stores_them(ctx):
    p = make_provider()
    db.session.commit()
    insert_many(Activity.__table__, [_activity(p.id, i) for i in range(4)])
    ids = db.session.scalars(select(Activity.id).order_by(Activity.id)).all()

    def moc(first: int) -> list[dict]:  # one board per activity: core's rows, then ours
        return [
            dict(activity_id=ids[first + i % 2], board=b, credit_types="MK", points=pts)
            | dict(practice_areas="Cardiology\nPediatrics")
            for i, (b, pts) in enumerate([("ABIM", Decimal("10.50")), ("ABP", None), ("ABS", 3)])
        ]

    db.session.execute(insert(MocRegistration.__table__), moc(0))
    insert_many(MocRegistration.__table__, moc(2))
    events = [
        dict(
            at=NOW,
            user_id=None,
            provider_id=p.id,
            action="activity.created",
            entity_type="Activity",
            entity_id=i,
            via="import",
            details='{"import_id": 1}',
        )
        for i in ids
    ]
    db.session.execute(insert(AuditEvent.__table__), events)
    insert_many(AuditEvent.__table__, events)
    db.session.commit()
    for t, skip in ((MocRegistration.__table__, 0), (AuditEvent.__table__, None)):
        stored = _raw(t, "1 = 1")
        half = len(stored) // 2
        core, mine = stored[:half], stored[half:]
        if skip is not None:  # the activity differs by design: ours are the next two
            core, mine = [r[1:] for r in core], [r[1:] for r in mine]
        assert half and core == mine, t.name


def test_a_column_with_a_default_cannot_be_left_out(ctx):
    p = make_provider()
    db.session.commit()
    values = _activity(p.id, 1)
    del values["version"]
    with pytest.raises(ValueError, match="version"):
        insert_many(Activity.__table__, [values])

"""Bulk close and its Undo are set-based: the statements they issue do not grow with the rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import event, func, insert, select

from pars_app.domain import status as rules
from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, YearLock
from pars_app.services import activity_close as svc
from pars_app.services.activities import facts_of
from pars_app.services.activity_list import ActivityFilter
from tests.factories import make_activity, make_provider, make_user, utc

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
TODAY = date(2026, 2, 15)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _seed(provider, n: int, prefix: str) -> list[int]:
    template = make_activity(provider, provider_activity_id=f"{prefix}-T", title="Template")
    columns = {
        c.key: getattr(template, c.key)
        for c in Activity.__table__.columns
        if c.key not in ("id", "provider_activity_id", "title")
    }
    db.session.execute(
        insert(Activity),
        [
            dict(columns, provider_activity_id=f"{prefix}-{i:04d}", title=f"{prefix} {i}")
            for i in range(n - 1)
        ],
    )
    db.session.flush()
    return list(
        db.session.scalars(
            select(Activity.id).where(Activity.provider_activity_id.startswith(prefix + "-"))
        )
    )


def _kinds(seen: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in seen:
        verb = s.split(" ", 1)[0].upper()
        out[verb] = out.get(verb, 0) + 1
    return out


def _run_bulk(ctx, n: int) -> tuple[dict[str, int], svc.BulkCloseResult]:
    p = make_provider()
    user = make_user(provider=p)
    ids = _seed(p, n, f"B{n}")
    db.session.commit()
    with statements() as seen:
        result = svc.bulk_close(p, user, NOW, ids=ids)
    assert result.closed == n
    return _kinds(seen), result


def test_bulk_close_issues_the_same_statements_for_3_and_300_rows(ctx):
    small, _ = _run_bulk(ctx, 3)
    large, result = _run_bulk(ctx, 300)
    assert large == small, (small, large)
    # One UPDATE … WHERE of the activities, whatever the size, and one of the provider's data
    # version (services/data_version.py).
    assert large["UPDATE"] == 2, large
    assert large["INSERT"] == 2  # the operation's event, then one INSERT … SELECT per-activity
    closed = db.session.scalar(
        select(func.count())
        .select_from(Activity)
        .where(Activity.id.in_(result.closed_ids), Activity.closed_at == NOW)
    )
    assert closed == 300
    per_activity = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "activity.closed", AuditEvent.via == "bulk")
    )
    assert per_activity == 303


def test_undo_issues_the_same_statements_for_3_and_300_rows(ctx):
    counts = []
    for n in (3, 300):
        p = make_provider()
        user = make_user(provider=p)
        ids = _seed(p, n, f"U{n}")
        db.session.commit()
        result = svc.bulk_close(p, user, NOW, ids=ids)
        with statements() as seen:
            undo = svc.undo_bulk_close(p, result.operation_id, user, NOW)
        assert undo.reopened == n and undo.changed == 0
        counts.append(_kinds(seen))
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.id.in_(ids), Activity.closed_at.is_not(None))
            )
            == 0
        )
    assert counts[0] == counts[1]
    assert counts[1]["UPDATE"] == 2  # the activities, the provider's data version


def test_eligibility_matches_the_domain_rule(ctx):
    p = make_provider()
    user = make_user(provider=p)
    made = {
        "closable": make_activity(p),
        "incomplete": make_activity(p, outcome_competence=False),
        "draft": make_activity(p, complete=False),
        "running": make_activity(p, start_date=date(2026, 2, 1), end_date=date(2026, 2, 15)),
        "closed": make_activity(p, closed_at=utc(2025, 5, 1)),
        "locked": make_activity(p, start_date=date(2024, 1, 5), end_date=date(2024, 1, 6)),
        "unlocked": make_activity(p, start_date=date(2023, 1, 5), end_date=date(2023, 1, 6)),
    }
    db.session.add(YearLock(provider_id=p.id, year=2024, locked_at=utc(2025, 2, 1)))
    db.session.add(  # 2023 was locked, then unlocked: its activities can be closed again
        YearLock(
            provider_id=p.id, year=2023, locked_at=utc(2024, 2, 1), unlocked_at=utc(2024, 3, 1)
        )
    )
    db.session.commit()
    expected = {
        key for key, a in made.items()
        if rules.evaluate(facts_of(a), TODAY).closable and key != "locked"
    }  # fmt: skip
    result = svc.bulk_close(p, user, NOW, ids=[a.id for a in made.values()])
    closed = {key for key, a in made.items() if a.id in result.closed_ids}
    assert closed == expected == {"closable", "unlocked"}
    assert result.already_closed == 1
    reasons = {r.provider_activity_id: r.reasons for r in result.refused}
    assert reasons[made["running"].provider_activity_id] == (
        "The activity can be closed after it ends on 02/15/2026.",
    )
    assert reasons[made["locked"].provider_activity_id] == (
        "The 2024 report is submitted and locked: its activities stay as they are.",
    )
    missing = rules.evaluate(facts_of(made["draft"]), TODAY).missing_to_close
    assert reasons[made["draft"].provider_activity_id] == tuple(m.message for m in missing)
    assert result.refused_total == 4
    closed_by = db.session.get(Activity, made["closable"].id)
    assert (closed_by.closed_by_id, closed_by.updated_by_id, closed_by.version) == (
        user.id,
    ) * 2 + (2,)


def test_the_refused_list_is_capped_and_counted(ctx, monkeypatch):
    monkeypatch.setattr(svc, "REFUSED_CAP", 5)
    p = make_provider()
    user = make_user(provider=p)
    ids = [make_activity(p, physician_learners=None).id for _ in range(8)]
    db.session.commit()
    result = svc.bulk_close(p, user, NOW, ids=ids)
    assert (result.closed, len(result.refused), result.refused_total) == (0, 5, 8)
    assert result.refused_more == 3
    assert result.operation_id is None  # nothing closed: nothing recorded, nothing to undo
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_filter_selection_and_ids_intersect(ctx):
    p = make_provider()
    user = make_user(provider=p)
    in_2025 = make_activity(p, title="Alpha course")
    other = make_activity(p, title="Beta course")
    db.session.commit()
    result = svc.bulk_close(p, user, NOW, ids=[in_2025.id, other.id], f=ActivityFilter(q="alpha"))
    assert result.closed_ids == (in_2025.id,)
    with pytest.raises(ValueError, match="never closes everything"):
        svc.bulk_close(p, user, NOW)


def test_another_providers_operation_cannot_be_undone(ctx):
    p, q = make_provider(), make_provider()
    user = make_user(provider=p)
    a = make_activity(p)
    db.session.commit()
    result = svc.bulk_close(p, user, NOW, ids=[a.id])
    with pytest.raises(svc.OperationNotFound):
        svc.undo_bulk_close(q, result.operation_id, user, NOW)
    details = json.loads(db.session.get(AuditEvent, result.operation_id).details)
    assert details["ids"] == [a.id]
    assert db.session.get(Activity, a.id).closed_at == NOW


def test_undo_leaves_activities_of_a_year_locked_since(ctx):
    p = make_provider()
    user = make_user(provider=p)
    a, b = (
        make_activity(p),
        make_activity(p, start_date=date(2024, 5, 1), end_date=date(2024, 5, 2)),
    )
    db.session.commit()
    result = svc.bulk_close(p, user, NOW, ids=[a.id, b.id])
    db.session.add(YearLock(provider_id=p.id, year=2024, locked_at=NOW))
    db.session.commit()
    undo = svc.undo_bulk_close(p, result.operation_id, user, NOW)
    assert (undo.reopened_ids, undo.locked, undo.changed) == ((a.id,), 1, 0)
    assert db.session.get(Activity, b.id).closed_at == NOW
    with pytest.raises(svc.CloseRefused, match="already undone"):
        svc.undo_bulk_close(p, result.operation_id, user, NOW)

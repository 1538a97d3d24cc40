"""Concurrency with real separate processes (issue 8 point 3): two users saving the same activity,
and a bulk close ("select all matching") racing an inline learner-count edit. Each user is its
own process with its own app, on one database: a SQLite file in WAL mode, or the PostgreSQL
suite's database in the PostgreSQL pass.

Every round starts both processes at a barrier. Most rounds are free races (whoever the
scheduler lets through first); in the "held" rounds a hook orders the two UPDATEs: one process's
UPDATE has run and its transaction is still open when the other's UPDATE is sent, so the second
really waits on the first (PostgreSQL's row lock, SQLite's write lock). The outcome of a held
round is fixed by that order, whatever the timing; a free round may end either way, and both
ways must leave the row, the answer and the audit trail agreeing.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from pars_app.domain import status as rules
from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, Provider, User
from pars_app.services import activity_close as closing
from pars_app.services import activity_edit as editing
from pars_app.services import activity_input as inp
from pars_app.services import learner_counts as counts
from pars_app.services.activity_list import ActivityFilter
from tests.factories import make_activity, make_provider, make_user
from tests.processes import SPAWN, WAIT, app_for, collect, on_statement, shared_database, start

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
TODAY = date(2026, 2, 15)
# Long enough for the other process's UPDATE to reach the database and wait there. Not an
# assertion: if it were too short the second UPDATE would come after the commit instead of
# waiting for it, and the held round's outcome would be the same.
HOLD_SECONDS = 0.05
UPDATE = "UPDATE ACTIVITIES"

SAVE_FREE_ROUNDS = 8
SAVE_HELD = ("A", "B")  # then a round where A holds its UPDATE open while B waits, and B, A
CLOSE_FREE_ROUNDS = 8
CLOSE_ROWS = 150  # activities each round's bulk close selects
# Held rounds of the bulk close race: who holds its transaction open, and whether the edit
# keeps the activity closable (new counts) or not (the physician count cleared).
CLOSE_HELD = (("edit", True), ("edit", False), ("bulk", True), ("bulk", False))


@pytest.fixture
def shared(request, tmp_path):
    with shared_database(request, tmp_path) as (app, url):
        yield app, url


def _order(holds: bool, written, contending):
    """The held rounds' hook: the holder runs its UPDATE, then keeps its transaction open until
    the other process is about to send its own UPDATE (and a moment more); the other sends its
    UPDATE only once the holder's has run. Returns the hook's remover."""
    if holds:

        def hold() -> None:
            written.set()
            contending.wait(WAIT)
            time.sleep(HOLD_SECONDS)

        return on_statement("after", UPDATE, hold)

    def follow() -> None:
        written.wait(WAIT)
        contending.set()

    return on_statement("before", UPDATE, follow)


# --- Two users saving the same activity -------------------------------------------------------


def _user_saves(url, name, user_id, provider_id, plan, barrier, orders, results) -> None:
    """One user in its own process: each round, open the activity's form, wait, save it."""
    app = app_for(url)
    with app.app_context():
        for n, activity_id, holder in plan:
            provider = db.session.get(Provider, provider_id)
            user = db.session.get(User, user_id)
            activity = db.session.get(Activity, activity_id)
            version = activity.version  # what the form carries in its hidden field
            data, errors = inp.read_form(inp.form_of(activity))
            assert not errors, errors
            data = replace(
                data, title=f"Saved by {name} in round {n}", joint_providers=(f"{name} {n}",)
            )
            remove = _order(holder == name, *orders[n]) if holder else None
            barrier.wait(WAIT)
            try:
                editing.save_activity(provider, activity, data, user, version, NOW)
                results.put(("saved", n, name, data.title))
            except editing.ActivityConflict as err:
                results.put(("conflict", n, name, err.current.title))
            finally:
                if remove:
                    remove()
            db.session.remove()


def _updates_of(activity_id: int, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "Activity",
                AuditEvent.entity_id == activity_id,
                AuditEvent.action == action,
            )
            .order_by(AuditEvent.id)
        )
    )


def test_two_users_saving_one_activity_one_wins_the_other_gets_the_conflict(shared):
    app, url = shared
    holders = [None] * SAVE_FREE_ROUNDS + list(SAVE_HELD)
    with app.app_context():
        p = make_provider("RACE")
        users = {"A": make_user(provider=p).id, "B": make_user(provider=p).id}
        activities = [make_activity(p, joint_providers=["Original"]) for _ in holders]
        db.session.commit()
        plan = [
            (n, a.id, holder) for n, (a, holder) in enumerate(zip(activities, holders, strict=True))
        ]
        start_versions = {a.id: a.version for a in activities}
        titles = {a.id: a.title for a in activities}
        provider_id = p.id
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    orders = [(SPAWN.Event(), SPAWN.Event()) for _ in plan]
    children = [
        start(_user_saves, url, name, uid, provider_id, plan, barrier, orders, results)
        for name, uid in users.items()
    ]
    got = collect(results, 2 * len(plan), children)

    wins = {"A": 0, "B": 0}
    with app.app_context():
        for n, activity_id, holder in plan:
            answers = {name: (kind, title) for kind, m, name, title in got if m == n}
            winners = [name for name, (kind, _) in answers.items() if kind == "saved"]
            assert len(winners) == 1, (n, answers)  # exactly one wins, the other conflicts
            winner = winners[0]
            loser = "B" if winner == "A" else "A"
            wins[winner] += 1
            if holder:  # its UPDATE ran first, so it must be the one that won
                assert winner == holder, (n, answers)
            won_title = f"Saved by {winner} in round {n}"
            assert answers[loser] == ("conflict", won_title)  # the conflict shows the winner's
            row = db.session.get(Activity, activity_id)
            assert row.title == won_title
            assert [j.name for j in row.joint_providers] == [f"{winner} {n}"]
            assert row.version == start_versions[activity_id] + 1
            history = _updates_of(activity_id, "activity.updated")
            assert len(history) == 1, n  # one change, the winner's
            changes = json.loads(history[0].details)["changes"]
            assert changes["title"] == [titles[activity_id], won_title]
            assert history[0].user_id == users[winner]
    print(f"\nsave races: {len(plan)} rounds ({len(SAVE_HELD)} held), wins {wins}, 0 lost")


# --- Bulk close racing an inline learner-count edit --------------------------------------------


def _closes_all_matching(url, user_id, provider_id, plan, barrier, orders, results) -> None:
    """The bulk-closing user: each round, "select all matching" R<n>- and close them."""
    app = app_for(url)
    with app.app_context():
        for n, _target, holder, _keeps in plan:
            provider = db.session.get(Provider, provider_id)
            user = db.session.get(User, user_id)
            remove = _order(holder == "bulk", *orders[n]) if holder else None
            barrier.wait(WAIT)
            try:
                f = ActivityFilter(q=f"R{n:02d}-")
                result = closing.bulk_close(provider, user, NOW, f=f, today=TODAY)
            finally:
                if remove:
                    remove()
            refused = [r.activity_id for r in result.refused]
            results.put(("bulk", n, list(result.closed_ids), refused, result.refused_total,
                         result.already_closed, result.operation_id))  # fmt: skip
            db.session.remove()


def _edits_counts(url, user_id, provider_id, plan, barrier, orders, results) -> None:
    """The other user: each round, open one of those activities' counts inline and save."""
    app = app_for(url)
    with app.app_context():
        for n, target_id, holder, keeps_closable in plan:
            provider = db.session.get(Provider, provider_id)
            user = db.session.get(User, user_id)
            activity = db.session.get(Activity, target_id)
            version = activity.version
            remove = _order(holder == "edit", *orders[n]) if holder else None
            barrier.wait(WAIT)
            try:
                counts.update_counts(provider, activity, _typed(keeps_closable), version, user, NOW)
                results.put(("edit", n, "saved"))
            except counts.CountsConflict:
                results.put(("edit", n, "conflict"))
            finally:
                if remove:
                    remove()
            db.session.remove()


def _typed(keeps_closable: bool) -> dict[str, str]:
    """What the inline edit posts: new counts, or the physician count cleared (which makes the
    activity no longer closable)."""
    return {"physicians": "77" if keeps_closable else "", "others": "5"}


def _seed_round(provider: Provider, n: int) -> tuple[list[int], int]:
    """CLOSE_ROWS closable activities R<n>-0000…; returns their ids and the edited one's."""
    template = make_activity(provider, provider_activity_id=f"R{n:02d}-T", title=f"Round {n}")
    columns = {
        c.key: getattr(template, c.key)
        for c in Activity.__table__.columns
        if c.key not in ("id", "provider_activity_id")
    }
    rows = [dict(columns, provider_activity_id=f"R{n:02d}-{i:04d}") for i in range(CLOSE_ROWS - 1)]
    db.session.execute(insert(Activity), rows)
    ids = sorted(
        db.session.scalars(
            select(Activity.id).where(Activity.provider_activity_id.startswith(f"R{n:02d}-"))
        )
    )
    return ids, ids[len(ids) // 2]


def _expected(holder: str | None, keeps_closable: bool) -> set[tuple[str, bool]]:
    """(edit's answer, target closed) allowed for a round."""
    edit_first = ("saved", keeps_closable)  # the close sees the new counts
    close_first = ("conflict", True)  # the edit started from the version the close replaced
    if holder == "edit":
        return {edit_first}
    if holder == "bulk":
        return {close_first}
    return {edit_first, close_first}


def test_bulk_close_racing_an_inline_edit_loses_no_update(shared):
    app, url = shared
    holders = [(None, n % 2 == 0) for n in range(CLOSE_FREE_ROUNDS)] + list(CLOSE_HELD)
    with app.app_context():
        p = make_provider("RACE")
        closer, editor = make_user(provider=p), make_user(provider=p)
        rounds = [_seed_round(p, n) for n in range(len(holders))]
        db.session.commit()
        plan = [
            (n, target, holder, keeps)
            for n, ((_ids, target), (holder, keeps)) in enumerate(zip(rounds, holders, strict=True))
        ]
        opened = [db.session.get(Activity, target) for _ids, target in rounds]
        # (counts, version) of each round's edited activity, as both users opened it
        before = {a.id: (a.physician_learners, a.other_learners, a.version) for a in opened}
        ids_p, closer_id, editor_id = p.id, closer.id, editor.id
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    orders = [(SPAWN.Event(), SPAWN.Event()) for _ in plan]
    children = [
        start(_closes_all_matching, url, closer_id, ids_p, plan, barrier, orders, results),
        start(_edits_counts, url, editor_id, ids_p, plan, barrier, orders, results),
    ]
    got = collect(results, 2 * len(plan), children)

    tally: dict[tuple[str, bool], int] = {}
    with app.app_context():
        for (n, target, holder, keeps), (ids, _) in zip(plan, rounds, strict=True):
            bulk = next(r for r in got if r[:2] == ("bulk", n))
            _, _, closed_ids, refused_ids, refused_total, already, operation_id = bulk
            answer = next(r[2] for r in got if r[:2] == ("edit", n))
            row = db.session.get(Activity, target)
            outcome = (answer, row.closed_at is not None)
            assert outcome in _expected(holder, keeps), (n, holder, keeps, outcome)
            tally[outcome] = tally.get(outcome, 0) + 1
            typed = _typed(keeps)
            physicians = int(typed["physicians"]) if typed["physicians"] else None
            if answer == "saved":  # the edit's values are there, closed with them or not
                assert (row.physician_learners, row.other_learners) == (physicians, 5)
            else:  # nothing of the edit was written
                assert (row.physician_learners, row.other_learners) == before[target][:2]
            if row.closed_at is not None:  # never closed without what closing requires
                assert row.completeness == rules.LEVEL_CLOSABLE
                assert row.physician_learners is not None
            assert row.version == before[target][2] + (answer == "saved") + outcome[1]

            # The bulk close's answer, the rows and the audit trail tell one story.
            now_closed = set(
                db.session.scalars(
                    select(Activity.id).where(Activity.id.in_(ids), Activity.closed_at.isnot(None))
                )
            )
            assert set(closed_ids) == now_closed
            assert now_closed == set(ids) - ({target} if not outcome[1] else set())
            assert len(closed_ids) + refused_total + already == len(ids), (n, bulk)
            assert refused_ids == ([] if outcome[1] else [target])
            op = db.session.get(AuditEvent, operation_id)
            details = json.loads(op.details)
            assert sorted(details["ids"]) == sorted(closed_ids)
            assert details["refused"] == refused_total
            events = db.session.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.action == closing.CLOSED_ACTION,
                    AuditEvent.entity_type == "Activity",
                    AuditEvent.entity_id.in_(ids),
                )
            ).all()
            assert sorted(events) == sorted(closed_ids)
            edits = _updates_of(target, counts.ACTION)
            assert len(edits) == (answer == "saved")
            if edits:
                changes = json.loads(edits[0].details)["changes"]
                assert changes["physician_learners"][1] == physicians
                if outcome[1]:  # the history lists the edit before the close, as they happened
                    closed_event = _updates_of(target, closing.CLOSED_ACTION)[0]
                    assert edits[0].id < closed_event.id
    rounds_run = len(plan)
    print(f"\nclose races: {rounds_run} rounds of {CLOSE_ROWS} ({len(CLOSE_HELD)} held), {tally}")

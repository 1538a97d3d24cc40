"""December 31 learner counts of enduring materials: the year's list and recording snapshots."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import event, select

from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, LearnerSnapshot, YearLock
from pars_app.services import learner_snapshots as svc
from tests.factories import make_activity, make_enduring, make_provider, make_snapshot, make_user

# February 15, 2026: the 2025 counts are being entered.
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(ctx):
    p = make_provider("END")
    user = make_user("editor@example.org", p)
    # Runs 2024 to 2026, counted at the end of 2024: the usual case.
    ongoing = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31), provider_activity_id="EM-1")
    make_snapshot(ongoing, 2024, physicians=100, others=10)
    # First available in 2025: its whole 2025 total is this year's increase.
    new = make_enduring(p, date(2025, 3, 1), date(2028, 2, 28), provider_activity_id="EM-2")
    # Ends in 2025: its 2025 count is its final total. No counts on the activity yet.
    ending = make_enduring(
        p,
        date(2023, 1, 1),
        date(2025, 6, 30),
        provider_activity_id="EM-3",
        physician_learners=None,
        other_learners=None,
    )
    make_snapshot(ending, 2023, physicians=50, others=5)  # 2024 was never recorded
    # Expired before 2025, and a journal activity: neither is listed for 2025.
    make_enduring(p, date(2022, 1, 1), date(2024, 12, 31), provider_activity_id="EM-OLD")
    make_activity(p, provider_activity_id="JN-1")
    other = make_provider("OTHER")
    make_enduring(other, date(2025, 1, 1), date(2025, 12, 31), provider_activity_id="EM-X")
    db.session.commit()
    return dict(provider=p, user=user, ongoing=ongoing, new=new, ending=ending)


def _save(w, activity, physicians, others, version=0, year=2025):
    return svc.record_snapshot(
        w["provider"],
        activity,
        year,
        {"physicians": physicians, "others": others},
        version,
        w["user"],
        NOW,
    )


def _events(action="snapshot.recorded"):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_every_material_available_in_the_year_with_its_previous_count(world):
    page = svc.list_enduring(world["provider"].id, 2025, missing_only=False, page=1)
    by_id = {r.activity.provider_activity_id: r for r in page.rows}
    assert list(by_id) == ["EM-1", "EM-2", "EM-3"]
    assert (page.available, page.missing, page.total) == (3, 3, 3)
    assert by_id["EM-1"].previous.year == 2024 and by_id["EM-1"].previous.physicians == 100
    assert by_id["EM-2"].previous is None and by_id["EM-2"].first_year
    # The latest earlier snapshot, even when a year was skipped.
    assert by_id["EM-3"].previous.year == 2023
    assert by_id["EM-3"].final and not by_id["EM-1"].final
    assert all(r.current is None and r.version == 0 for r in page.rows)


def test_missing_only_leaves_out_materials_with_their_count(world):
    _save(world, world["ongoing"], "150", "12")
    page = svc.list_enduring(world["provider"].id, 2025, missing_only=True, page=1)
    assert [r.activity.provider_activity_id for r in page.rows] == ["EM-2", "EM-3"]
    assert (page.available, page.missing, page.total) == (3, 2, 2)
    everything = svc.list_enduring(world["provider"].id, 2025, missing_only=False, page=1)
    row = everything.rows[0]
    assert (row.current.physicians, row.current.others) == (150, 12)
    assert row.recorded_by == "editor@example.org"


def test_the_increase_is_this_years_learners(world):
    _save(world, world["ongoing"], "150", "12")
    _save(world, world["new"], "30", "4")
    _save(world, world["ending"], "70", "5")
    rows = {
        r.activity.provider_activity_id: r
        for r in svc.list_enduring(world["provider"].id, 2025, False, 1).rows
    }
    assert rows["EM-1"].increase == svc.rules.Counts(50, 2)
    assert rows["EM-2"].increase == svc.rules.Counts(30, 4)  # first year: all of it
    # Against the 2023 count: two years of learners, the best that can be said.
    assert rows["EM-3"].increase == svc.rules.Counts(20, 0)


def test_pages_hold_fifty_materials(ctx):
    p = make_provider("MANY")
    for i in range(53):
        make_enduring(p, date(2025, 1, 1), date(2026, 12, 31), provider_activity_id=f"M-{i:03d}")
    db.session.commit()
    first = svc.list_enduring(p.id, 2025, False, 1)
    second = svc.list_enduring(p.id, 2025, False, 2)
    assert (len(first.rows), len(second.rows), first.pages) == (50, 3, 2)
    assert (second.first, second.last, second.total) == (51, 53, 53)
    assert svc.list_enduring(p.id, 2025, False, 99).page == 2  # past the end: the last page


def test_the_list_costs_the_same_queries_at_any_size(ctx):
    p = make_provider("SIZE")
    db.session.commit()
    pid = p.id

    def count_queries() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = svc.list_enduring(pid, 2025, False, 1)
            [(r.increase, r.warnings, r.final) for r in page.rows]
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return seen

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            em = make_enduring(
                p, date(2024, 1, 1), date(2026, 12, 31), provider_activity_id=f"S{i}"
            )
            make_snapshot(em, 2024, physicians=5)
            make_snapshot(em, 2025, physicians=3)
        db.session.commit()
        db.session.expire_all()

    add(2, 0)
    small = count_queries()
    add(70, 2)
    large = count_queries()
    assert len(large) == len(small) == 2, "\n\n".join(large)


# --- Recording ---------------------------------------------------------------------------------


def test_recording_creates_the_snapshot_as_of_december_31_and_audits_it(world):
    snapshot = _save(world, world["ongoing"], "1,150", "12")
    assert (snapshot.year, snapshot.as_of) == (2025, date(2025, 12, 31))
    assert (snapshot.physicians, snapshot.others, snapshot.version) == (1150, 12, 1)
    assert snapshot.recorded_by_id == world["user"].id and snapshot.recorded_at == NOW
    (audit,) = _events()
    assert (audit.via, audit.entity_type, audit.entity_id) == (
        "inline",
        "LearnerSnapshot",
        snapshot.id,
    )
    details = json.loads(audit.details)
    assert details["changes"] == {"physicians": [None, 1150], "others": [None, 12]}
    assert details["year"] == 2025 and "activity_changes" not in details


def test_updating_records_before_and_after_and_bumps_the_version(world):
    first = _save(world, world["ongoing"], "150", "12")
    second = _save(world, world["ongoing"], "160", "12", version=first.version)
    assert (second.id, second.physicians, second.version) == (first.id, 160, 2)
    latest = json.loads(_events()[-1].details)
    assert latest["changes"] == {"physicians": [150, 160], "others": [12, 12]}


def test_saving_the_same_values_again_changes_nothing(world):
    _save(world, world["ongoing"], "150", "12")
    again = _save(world, world["ongoing"], "150", "12", version=1)
    assert again.version == 1 and len(_events()) == 1


@pytest.mark.parametrize(
    ("physicians", "others", "field", "message"),
    [
        ("", "3", "physicians", "Enter the cumulative total"),
        ("12", "-1", "others", "not a negative number"),
        ("1.5", "0", "physicians", "whole number"),
        ("many", "0", "physicians", "whole number"),
    ],
)
def test_bad_values_are_refused_with_a_message(world, physicians, others, field, message):
    with pytest.raises(svc.SnapshotInvalid) as err:
        _save(world, world["ongoing"], physicians, others)
    assert message in err.value.errors[field]
    assert db.session.scalar(select(LearnerSnapshot).where(LearnerSnapshot.year == 2025)) is None


def test_zero_is_a_real_count(world):
    assert _save(world, world["new"], "0", "0").physicians == 0


def test_a_stale_version_is_a_conflict_naming_who_saved(world):
    _save(world, world["ongoing"], "150", "12")  # someone saved first
    with pytest.raises(svc.SnapshotConflict) as err:
        _save(world, world["ongoing"], "999", "9", version=0)  # opened before that save
    assert (err.value.by, err.value.at) == ("editor@example.org", NOW)
    stored = db.session.scalar(select(LearnerSnapshot).where(LearnerSnapshot.year == 2025))
    assert stored.physicians == 150


def test_a_lower_total_is_saved_with_a_warning(world):
    _save(world, world["ongoing"], "90", "10")  # 2024 said 100 physicians
    (row,) = [
        r
        for r in svc.list_enduring(world["provider"].id, 2025, False, 1).rows
        if r.activity.id == world["ongoing"].id
    ]
    assert row.current.physicians == 90
    assert len(row.warnings) == 1
    assert "Lower than the 100 physicians of December 31, 2024" in row.warnings[0]


def test_the_last_years_count_becomes_the_activitys_final_total(world):
    ending = world["ending"]
    assert ending.completeness == "active"  # no learner counts: not closable
    _save(world, ending, "70", "5")
    db.session.expire_all()
    activity = db.session.get(Activity, ending.id)
    assert (activity.physician_learners, activity.other_learners) == (70, 5)
    assert activity.completeness == "closable" and activity.updated_by_id == world["user"].id
    details = json.loads(_events()[-1].details)
    assert details["activity_changes"] == {
        "physician_learners": [None, 70],
        "other_learners": [None, 5],
    }


def test_a_closed_materials_final_count_must_match_what_it_was_closed_with(world):
    ending = world["ending"]
    ending.physician_learners, ending.other_learners, ending.closed_at = 70, 5, NOW
    db.session.commit()
    with pytest.raises(svc.SnapshotInvalid) as err:
        _save(world, ending, "80", "5")
    assert "closed with 70 physicians and 5 other learners" in err.value.errors["physicians"]
    assert _save(world, ending, "70", "5").physicians == 70


def test_a_locked_year_is_read_only(world):
    db.session.add(YearLock(provider_id=world["provider"].id, year=2025))
    db.session.commit()
    with pytest.raises(svc.SnapshotRefused, match="2025 report is submitted and locked"):
        _save(world, world["ongoing"], "150", "12")
    assert svc.year_locked_reason(world["provider"].id, 2024) is None


def test_only_materials_available_in_the_year_and_known_years_take_counts(world):
    with pytest.raises(svc.SnapshotRefused, match="not an enduring material available in 2027"):
        _save(world, world["ongoing"], "1", "1", year=2027)
    with pytest.raises(svc.SnapshotRefused, match="cannot be known yet"):
        _save(world, world["new"], "1", "1", year=2027)
    # The current year may be entered ahead of December 31.
    assert _save(world, world["new"], "40", "4", year=2026).year == 2026

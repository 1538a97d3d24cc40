"""The import pipeline end to end at the service level: preview, commit, conflicts, counts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import delete, func, select

from pars_app.extensions import db
from pars_app.io import write_activities, write_activities_xml
from pars_app.models import Activity, AuditEvent, ImportJob, ImportRow, User
from pars_app.services import imports, jobs
from tests.factories import make_activity, make_provider, make_user
from tests.unit.test_io_fixtures import full_record as _full_record


def full_record(i: int = 1) -> dict:
    """The io fixture's record, complete enough to close (ABP needs a practice area)."""
    record = _full_record(i)
    record["moc"][1]["practice_areas"] = ["Pediatrics"]
    return record


NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def who(ctx):
    provider = make_provider()
    user = make_user(provider=provider)
    db.session.commit()
    return provider, user


def preview(provider, user, name: str, data: bytes) -> ImportJob:
    job = imports.create_job(provider, user.id, name, data, NOW, "web")
    jobs.run(job.id)
    return db.session.get(ImportJob, job.id)


def commit(job: ImportJob, user, skip: bool = False) -> ImportJob:
    imports.request_commit(job, user.id, skip, NOW)
    jobs.run(job.id)
    db.session.expire_all()
    return db.session.get(ImportJob, job.id)


def test_full_template_rows_preview_then_commit_create_exactly_what_was_shown(who):
    provider, user = who
    data = write_activities([full_record(1), full_record(2)])
    job = preview(provider, user, "acts.xlsx", data)
    assert job.status == "previewed", job.error
    counts = imports.counts_of(job)
    assert (counts.created, counts.updated, counts.errors) == (2, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    job = commit(job, user)
    assert job.status == "committed", job.error
    acts = db.session.scalars(select(Activity).order_by(Activity.provider_activity_id)).all()
    assert [a.provider_activity_id for a in acts] == ["2025-0001", "2025-0002"]
    a = acts[0]
    assert a.credits == Decimal("12.25")
    assert [j.name for j in a.joint_providers] == ["Lakeside Heart Society", "North Clinic"]
    assert [s.name for s in a.supporters] == ["Acme Pharma", "Scope Co", "Lab Inc"]
    assert {m.board for m in a.moc_registrations} == {"ABIM", "ABP"}
    assert a.closed_at is not None  # Close Activity = Yes, and it is complete and ended
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.via == "import"))
    assert sorted(actions) == sorted(
        ["activity.created"] * 2 + ["activity.closed"] * 2 + ["import.committed"]
    )
    # The same file again: every row unchanged.
    again = preview(provider, user, "acts.xlsx", data)
    c = imports.counts_of(again)
    assert (c.created, c.updated, c.unchanged, c.errors) == (0, 0, 2, 0), [
        (r.number, r.changes_json, r.messages_json)
        for r in db.session.scalars(select(ImportRow).where(ImportRow.job_id == again.id))
    ]


def test_a_row_in_error_blocks_the_commit_and_writes_nothing(who):
    provider, user = who
    bad = full_record(2) | {"start_date": "31/31/2025", "format": "Nonsense"}
    job = preview(provider, user, "acts.xlsx", write_activities([full_record(1), bad]))
    counts = imports.counts_of(job)
    assert (counts.created, counts.errors) == (1, 1)
    row = db.session.scalar(select(ImportRow).where(ImportRow.action == "error"))
    messages = imports.messages_of(row)
    assert row.number == 3
    assert {m["column"] for m in messages} >= {"Start Date", "Format"}
    with pytest.raises(imports.ImportRefused):
        imports.request_commit(job, user.id, False, NOW)
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    job = commit(job, user, skip=True)
    assert job.status == "committed"
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 1


def test_update_shows_before_and_after_and_a_change_since_preview_is_not_overwritten(who):
    provider, user = who
    a = make_activity(provider, provider_activity_id="X-1", title="Old title")
    db.session.commit()
    record = {
        "provider_activity_id": "X-1",
        "title": "New title",
        "format": "JN",
        "start_date": date(2025, 3, 1),
        "end_date": date(2025, 3, 31),
    }
    # Only the columns given: the others are left as they are.
    from tests.unit.test_io_fixtures import xlsx_bytes

    data = xlsx_bytes(
        [
            ["Provider Activity ID", "Activity Title", "Format", "Start Date", "End Date"],
            ["X-1", "New title", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)],
        ]
    )
    del record
    job = preview(provider, user, "upd.xlsx", data)
    row = db.session.scalar(select(ImportRow).where(ImportRow.job_id == job.id))
    assert row.action == "update", row.messages_json
    assert imports.changes_of(row) == {"title": ["Old title", "New title"]}
    a = db.session.get(Activity, a.id)
    a.title = "Someone else's title"
    db.session.commit()
    job = commit(job, user)
    assert job.status == "stale"
    assert "changed since the preview" in job.error
    assert db.session.get(Activity, a.id).title == "Someone else's title"


def test_refused_file_is_reported_and_nothing_is_kept(who):
    provider, user = who
    job = preview(
        provider, user, "evil.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'
    )
    assert job.status == "refused"
    assert "DOCTYPE" in job.error or "entit" in job.error.lower()
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 0


def test_error_file_holds_just_the_rows_in_error_and_reads_back(who):
    provider, user = who
    bad = full_record(2) | {"title": ""}
    job = preview(provider, user, "acts.xlsx", write_activities([full_record(1), bad]))
    data = imports.error_file(job)
    from pars_app.io import read_file

    rows = list(read_file("errors.xlsx", data).rows)
    assert len(rows) == 1
    assert rows[0].values["provider_activity_id"] == "2025-0002"


@pytest.mark.parametrize("kind", ["xlsx", "xml"])
def test_export_of_the_demo_data_then_import_is_every_row_unchanged(ctx, kind):
    """Issue 4's round trip on realistic data: the demo provider's every activity (all formats,
    enduring spans, supporters, closed ones) exported, then imported back: nothing to do."""
    from pars_app.models import Provider
    from pars_app.services import exports
    from pars_app.services.activity_list import ActivityFilter
    from pars_app.services.demo import seed_demo

    seed_demo(NOW)
    provider = db.session.scalar(select(Provider).where(Provider.code == "DEMO"))
    user = db.session.scalar(select(User).where(User.email == "demo@example.org"))
    done = exports.export_activities(provider.id, ActivityFilter(), kind)
    assert done.count > 20
    job = preview(provider, user, f"demo.{kind}", done.data)
    counts = imports.counts_of(job)
    rows = db.session.scalars(
        select(ImportRow).where(ImportRow.job_id == job.id, ImportRow.action != "unchanged")
    ).all()
    assert (counts.unchanged, counts.created, counts.updated, counts.errors) == (
        done.count,
        0,
        0,
        0,
    ), [(r.number, r.action, r.changes_json, r.messages_json) for r in rows[:5]]


def _keyed(input_json: str) -> str:
    """A stored input in the keyed form earlier versions wrote (one object per row)."""
    import json

    from pars_app.services.import_plan import input_from_json

    data, _legacy, derived = input_from_json(input_json)
    payload = {name: getattr(data, name) for name in type(data).__dataclass_fields__}
    payload["supporters"] = [s.__dict__ for s in data.supporters]
    payload["moc"] = [m.__dict__ for m in data.moc]
    payload["derived"] = derived
    return json.dumps(payload, default=str)


def test_a_plan_stored_by_an_earlier_version_still_commits_or_asks_for_a_new_preview(who):
    provider, user = who
    job = preview(provider, user, "acts.xlsx", write_activities([full_record(1), full_record(2)]))
    rows = db.session.scalars(select(ImportRow).where(ImportRow.job_id == job.id)).all()
    first = min(rows, key=lambda r: r.number)
    first.input_json = _keyed(first.input_json)  # keyed: read as before
    db.session.commit()
    done = commit(job, user)
    assert done.status == "committed", done.error
    assert imports.counts_of(done).created == 2
    stored = db.session.scalars(select(Activity).order_by(Activity.provider_activity_id)).all()
    assert [a.title for a in stored] == [full_record(1)["title"], full_record(2)["title"]]

    # A plan whose fields this version does not know: previewed again, nothing written.
    job = preview(provider, user, "more.xlsx", write_activities([full_record(3)]))
    row = db.session.scalar(select(ImportRow).where(ImportRow.job_id == job.id))
    row.input_json = row.input_json.replace("[[", '[["an extra field",', 1)
    db.session.commit()
    done = commit(job, user)
    assert done.status == "stale"
    assert "updated since the preview" in done.error
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 2


def test_a_mixed_file_commits_in_file_order_across_chunks(who, monkeypatch):
    """The commit reads creates, updates and closing rows as three ordered streams and merges
    them: with one row per chunk every write follows the file's order."""
    from pars_app.services import import_commit

    provider, user = who

    def rec(i: int, **changes) -> dict:
        return full_record(i) | {"provider_activity_id": f"M-{i}", "close": False} | changes

    first = preview(provider, user, "first.xlsx", write_activities([rec(1), rec(2), rec(3)]))
    assert commit(first, user).status == "committed"
    data = write_activities(
        [
            rec(1, title="Renamed one"),  # update
            rec(4),  # create
            rec(2, close=True),  # unchanged, closes
            rec(5),  # create
            rec(3, title="Renamed three", close=True),  # update, then close
            rec(1, provider_activity_id="", title="No ID"),  # create, its ID generated
        ]
    )
    job = preview(provider, user, "mixed.xlsx", data)
    counts = imports.counts_of(job)
    assert (counts.created, counts.updated, counts.unchanged, counts.closed) == (3, 2, 1, 2)
    monkeypatch.setattr(import_commit, "CHUNK", 1)
    done = commit(job, user)
    assert done.status == "committed", done.error
    written = db.session.execute(
        select(AuditEvent.action, Activity.provider_activity_id)
        .join(Activity, Activity.id == AuditEvent.entity_id)
        .where(
            AuditEvent.entity_type == "Activity",
            AuditEvent.details.contains(f'"import_id": {job.id}'),
        )
        .order_by(AuditEvent.id)
    ).all()
    assert [(action.split(".")[1], pid) for action, pid in written] == [
        ("updated", "M-1"),
        ("created", "M-4"),
        ("closed", "M-2"),
        ("created", "M-5"),
        ("updated", "M-3"),
        ("closed", "M-3"),
        ("created", "2025-0001"),
    ]
    # The import took its activities' ids ahead of the INSERT (from PostgreSQL's sequence, or
    # after SQLite's largest): the next activity saved the usual way gets a fresh one.
    after = make_activity(provider, provider_activity_id="AFTER")
    db.session.commit()
    assert after.id > max(db.session.scalars(select(AuditEvent.entity_id)).all())


def test_a_close_it_cannot_do_is_a_warning_naming_each_reason_as_a_sentence(who):
    """Close Activity = Yes on an activity that has not ended and lacks its learner counts:
    the row is still created, and the warning lists the reasons as the form words them."""
    provider, user = who
    record = full_record(1) | {
        "provider_activity_id": "OPEN-1",
        "start_date": date(2026, 2, 1),
        "end_date": date(2026, 3, 20),
        "physician_learners": None,
        "other_learners": None,
    }
    job = preview(provider, user, "open.xlsx", write_activities([record]))
    counts = imports.counts_of(job)
    assert (counts.created, counts.closed, counts.close_refused, counts.warnings) == (1, 0, 1, 1)
    row = db.session.scalars(select(ImportRow).where(ImportRow.job_id == job.id)).one()
    assert imports.messages_of(row) == [
        {
            "column": "Close Activity",
            "level": "warning",
            "text": "Not closed: Enter the number of physician learners (0 if none). "
            "Enter the number of other learners (0 if none). "
            "The activity can be closed after it ends on 03/20/2026.",
        }
    ]


def test_an_id_taken_by_someone_else_since_the_preview_stops_the_commit(who):
    provider, user = who
    record = full_record(1) | {"provider_activity_id": "N-1", "close": False}
    job = preview(provider, user, "new.xlsx", write_activities([record, full_record(2)]))
    assert imports.counts_of(job).created == 2
    make_activity(provider, provider_activity_id="N-1", title="Typed in meanwhile")
    db.session.commit()
    done = commit(job, user)
    assert done.status == "stale"
    assert "1 row(s) changed since the preview" in done.error
    assert [r["message"] for r in json.loads(done.report_json)] == [
        "“N-1” was created by someone else since the preview."
    ]
    titles = db.session.scalars(select(Activity.title)).all()
    assert titles == ["Typed in meanwhile"]  # nothing of the file was written


def test_discard_drops_the_plan_and_the_file_and_a_failed_job_retries_only_with_its_file(who):
    from pars_app.models import ImportFile

    provider, user = who
    data = write_activities([full_record(1)])
    job = preview(provider, user, "acts.xlsx", data)
    imports.discard(job, user.id, NOW)
    job = db.session.get(ImportJob, job.id)
    assert (job.status, job.content) == ("discarded", None)
    assert db.session.scalar(select(func.count()).select_from(ImportRow)) == 0
    assert db.session.scalar(select(func.count()).select_from(ImportFile)) == 0

    failed = imports.create_job(provider, user.id, "again.xlsx", data, NOW, "web")
    failed.status = imports.FAILED
    db.session.commit()
    imports.retry(failed)
    assert (failed.status, failed.next_step) == (imports.QUEUED, "preview")
    failed.status = imports.FAILED
    db.session.execute(delete(ImportFile))
    db.session.commit()
    with pytest.raises(imports.ImportRefused):
        imports.retry(failed)


def test_where_a_preview_runs_follows_the_files_size_read_without_loading_it(who, monkeypatch):
    from flask import current_app

    provider, user = who
    data = write_activities([full_record(1)])
    job = imports.create_job(provider, user.id, "acts.xlsx", data, NOW, "web")
    assert imports.file_size(job.id) == len(data)
    monkeypatch.setitem(current_app.config, "PARS_IMPORT_INLINE_BYTES", len(data))
    assert jobs._small(job)  # up to the limit: in the request
    monkeypatch.setitem(current_app.config, "PARS_IMPORT_INLINE_BYTES", len(data) - 1)
    assert not jobs._small(job)  # beyond it: on the queue
    assert "file" not in db.inspect(job).dict  # the decision never loaded the file


@pytest.mark.parametrize("data", [bytes(range(256)) * 9_000, b""], ids=["binary", "empty"])
def test_an_upload_is_stored_byte_for_byte_and_read_where_it_lies(who, data):
    # On SQLite the file is written and read through the blob API (never one bound or fetched
    # value): what was sent is what is kept, and an empty file is refused as empty.
    provider, user = who
    job = preview(provider, user, "a.xml", data)
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).content == data
    assert job.status == "refused"
    assert ("The file is empty." in job.error) == (not data), job.error


def test_an_xml_upload_is_parsed_from_the_stored_file(who):
    provider, user = who
    data = write_activities_xml([full_record(1), full_record(2)])
    job = preview(provider, user, "a.xml", data)
    assert job.status == "previewed" and imports.counts_of(job).created == 2
    assert db.session.get(ImportJob, job.id).content == data

"""Each batch format through the whole pipeline: legacy Template C/D, XML, learner counts, and
the CLI's output line and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from pars_app.extensions import db
from pars_app.io import write_activities, write_activities_xml
from pars_app.io.xlsx import build_counts_template
from pars_app.models import Activity, AuditEvent, ImportRow, LearnerSnapshot, YearLock
from pars_app.services import imports
from tests.factories import (
    make_activity,
    make_enduring,
    make_provider,
    make_snapshot,
    make_user,
    utc,
)
from tests.services.test_imports import commit, full_record, preview
from tests.unit.test_io_legacy import c_cells, d_cells, txt

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def who(ctx):
    provider = make_provider("FMT")
    user = make_user(provider=provider)
    db.session.commit()
    return provider, user


def test_legacy_template_c_and_d_lines_create_activities_with_mapped_fields(who):
    provider, user = who
    data = txt(c_cells({3: "LEG-C"}), d_cells({3: "LEG-D"}))
    job = preview(provider, user, "legacy.txt", data)
    assert job.status == "previewed", job.error
    assert job.kind == "legacy"
    rows = db.session.scalars(select(ImportRow).order_by(ImportRow.number)).all()
    assert [r.number for r in rows] == [1, 2]  # the text file's own line numbers
    assert all(r.action == "create" for r in rows), [r.messages_json for r in rows]
    job = commit(job, user)
    assert job.status == "committed", job.error
    c = db.session.scalar(select(Activity).where(Activity.provider_activity_id == "LEG-C"))
    assert c.outcome_competence or c.outcome_performance or c.outcome_patient_health
    legacy = json.loads(c.legacy_data)
    assert legacy["advertising_exhibit_income"] == "100"  # kept read-only, nothing lost
    d = db.session.scalar(select(Activity).where(Activity.provider_activity_id == "LEG-D"))
    assert "advertising_exhibit_income" not in json.loads(d.legacy_data)


def test_xml_round_trip_then_reimport_is_all_unchanged(who):
    provider, user = who
    data = write_activities_xml([full_record(1), full_record(2) | {"close": False}])
    job = preview(provider, user, "acts.xml", data)
    assert (job.kind, job.status) == ("xml", "previewed"), job.error
    c = imports.counts_of(job)
    assert (c.created, c.closed, c.errors) == (2, 1, 0)
    commit(job, user)
    again = imports.counts_of(preview(provider, user, "acts.xml", data))
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, 0)


def _as_csv(xlsx: bytes, delimiter: str = ",") -> bytes:
    """The workbook's first sheet as Excel's "Save as CSV" writes it: what each cell shows
    (dates mm/dd/yyyy, numbers as typed), quoted where a value holds the delimiter."""
    import csv
    import io

    from openpyxl import load_workbook

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in load_workbook(io.BytesIO(xlsx)).worksheets[0].iter_rows(values_only=True):
        writer.writerow(
            "" if v is None else v.strftime("%m/%d/%Y") if isinstance(v, datetime) else v
            for v in row
        )
    return out.getvalue().encode("utf-8-sig")


@pytest.mark.parametrize("name", ["acts.csv", "acts-saved-as-text.txt"])
def test_the_template_saved_as_csv_creates_then_reimports_unchanged(who, name):
    """Excel's "Save as CSV" of the template (or of an export) reads as the template does; a
    CSV given a .txt name is told by its first line (commas, no tab)."""
    provider, user = who
    records = [full_record(1) | {"title": "Heart, lungs and more"}, full_record(2)]
    data = _as_csv(write_activities(records))
    job = preview(provider, user, name, data)
    assert (job.kind, job.status) == ("xlsx", "previewed"), job.error
    c = imports.counts_of(job)
    assert (c.created, c.closed, c.errors) == (2, 2, 0), imports.report_of(job)
    assert commit(job, user).status == "committed"
    titles = db.session.scalars(select(Activity.title).order_by(Activity.title)).all()
    assert titles == ["Cardiology grand rounds 2", "Heart, lungs and more"]  # quoted comma
    again = imports.counts_of(preview(provider, user, name, data))
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, 0)


def test_learner_counts_as_csv(who):
    provider, user = who
    make_activity(provider, provider_activity_id="J-1", physician_learners=5)
    db.session.commit()
    data = b"Provider Activity ID,Physician Learners,Other Learners\r\nJ-1,40,3\r\n"
    job = preview(provider, user, "counts.csv", data)
    assert (job.kind, job.status) == ("counts", "previewed"), job.error
    assert commit(job, user).status == "committed"
    assert db.session.scalar(select(Activity.physician_learners)) == 40


def test_xml_schema_errors_refuse_the_file_with_line_numbers(who):
    provider, user = who
    bad = b'<?xml version="1.0"?>\n<ACCMEActivities>\n  <Nonsense/>\n</ACCMEActivities>\n'
    job = preview(provider, user, "bad.xml", bad)
    assert job.status == "refused"
    assert any("line 3" in item["message"] for item in imports.report_of(job))


def test_learner_count_template_updates_totals_and_records_enduring_snapshots(who):
    provider, user = who
    journal = make_activity(provider, provider_activity_id="J-1", physician_learners=5)
    em = make_enduring(provider, date(2024, 6, 1), date(2026, 5, 31), provider_activity_id="EM-1")
    make_snapshot(em, 2024, physicians=100, others=10)
    db.session.commit()
    data = build_counts_template(
        [
            {"provider_activity_id": "J-1", "physician_learners": 40, "other_learners": 3},
            {
                "provider_activity_id": "EM-1",
                "physician_learners": 90,
                "other_learners": 20,
                "counts_year": 2025,
            },
            {"provider_activity_id": "NOPE", "physician_learners": 1, "other_learners": 1},
        ]
    )
    job = preview(provider, user, "counts.xlsx", data)
    assert (job.kind, job.status) == ("counts", "previewed"), job.error
    c = imports.counts_of(job)
    assert (c.updated, c.errors, c.warnings) == (2, 1, 1)  # the EM total went down: a warning
    job = commit(job, user, skip=True)
    assert job.status == "committed", job.error
    assert db.session.get(Activity, journal.id).physician_learners == 40
    snap = db.session.scalar(
        select(LearnerSnapshot).where(
            LearnerSnapshot.activity_id == em.id, LearnerSnapshot.year == 2025
        )
    )
    assert (snap.physicians, snap.others) == (90, 20)
    vias = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.via == "import")))
    assert {"activity.counts_updated", "snapshot.recorded", "import.committed"} <= vias


def test_an_enduring_row_left_blank_changes_nothing_and_half_a_count_is_an_error(who):
    """The pre-filled template lists every material still without its December 31 count: the
    rows not filled in yet are unchanged, not errors; one count without the other is."""
    provider, user = who
    for pid in ("EM-BLANK", "EM-HALF", "EM-FULL"):
        make_enduring(provider, date(2024, 6, 1), date(2026, 5, 31), provider_activity_id=pid)
    db.session.commit()
    data = build_counts_template(
        [
            {"provider_activity_id": "EM-BLANK", "counts_year": 2025},
            {"provider_activity_id": "EM-HALF", "physician_learners": 9, "counts_year": 2025},
            {
                "provider_activity_id": "EM-FULL",
                "physician_learners": 9,
                "other_learners": 0,
                "counts_year": 2025,
            },
        ]
    )
    job = preview(provider, user, "counts.xlsx", data)
    c = imports.counts_of(job)
    assert (c.updated, c.unchanged, c.errors, c.warnings) == (1, 1, 1, 0)
    rows = db.session.scalars(
        select(ImportRow).where(ImportRow.job_id == job.id).order_by(ImportRow.number)
    ).all()
    assert [(r.provider_activity_id, r.action) for r in rows] == [
        ("EM-BLANK", "unchanged"),
        ("EM-HALF", "error"),
        ("EM-FULL", "update"),
    ]
    assert rows[0].messages_json is None
    assert [m["text"] for m in imports.messages_of(rows[1])] == [
        "Enter the cumulative total (0 if none)."
    ]
    assert commit(job, user, skip=True).status == "committed"
    recorded = db.session.scalars(
        select(Activity.provider_activity_id).join(
            LearnerSnapshot, LearnerSnapshot.activity_id == Activity.id
        )
    ).all()
    assert recorded == ["EM-FULL"]


def test_counts_for_a_locked_year_or_a_closed_activity_are_errors(who):
    provider, user = who
    make_activity(
        provider,
        provider_activity_id="LCK",
        start_date=date(2024, 3, 1),
        end_date=date(2024, 3, 31),
    )
    make_activity(provider, provider_activity_id="CLS", closed_at=utc(2025, 6, 1))
    db.session.add(YearLock(provider_id=provider.id, year=2024, locked_at=utc(2025, 2, 1)))
    db.session.commit()
    data = build_counts_template(
        [
            {"provider_activity_id": "LCK", "physician_learners": 1, "other_learners": 1},
            {"provider_activity_id": "CLS", "physician_learners": 1, "other_learners": 1},
        ]
    )
    job = preview(provider, user, "counts.xlsx", data)
    texts = [
        json.loads(r.messages_json)[0]["text"]
        for r in db.session.scalars(select(ImportRow).order_by(ImportRow.number))
    ]
    assert "locked" in texts[0] and "reopen" in texts[1].lower()
    assert imports.counts_of(job).errors == 2


def test_a_locked_year_refuses_rows_ending_in_it(who):
    provider, user = who
    db.session.add(YearLock(provider_id=provider.id, year=2025, locked_at=utc(2026, 2, 1)))
    db.session.commit()
    job = preview(provider, user, "acts.xml", write_activities_xml([full_record(1)]))
    row = db.session.scalar(select(ImportRow))
    assert row.action == "error"
    assert "locked" in row.messages_json
    assert imports.counts_of(job).errors == 1


# --- CLI -------------------------------------------------------------------------------------


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["pars", *args])


def test_cli_dry_run_then_commit_with_exit_codes(app, tmp_path):
    with app.app_context():
        make_provider("CLI")
        db.session.commit()
    good = tmp_path / "good.xml"
    good.write_bytes(write_activities_xml([full_record(1)]))
    result = _cli(app, "import", str(good), "--provider", "CLI")
    assert result.exit_code == 0, result.output
    assert "created 1, updated 0, closed 1, unchanged 0, errors 0" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    result = _cli(app, "import", str(good), "--provider", "CLI", "--commit")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1
        assert (
            db.session.scalar(select(AuditEvent.via).where(AuditEvent.action == "import.uploaded"))
            == "cli"
        )


def test_cli_row_errors_exit_1_with_row_and_column(app, tmp_path):
    with app.app_context():
        make_provider("CLI")
        db.session.commit()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(txt(c_cells({3: "X1", 6: "02/30/2025"})))
    result = _cli(app, "import", str(bad), "--provider", "CLI", "--commit")
    assert result.exit_code == 1, result.output
    assert "errors 1" in result.output
    assert "row 1, column" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0


@pytest.mark.parametrize(
    ("content", "provider"),
    [(b"", "CLI"), (b"<!DOCTYPE x><x/>", "CLI"), (b"fine", "NOPE")],
)
def test_cli_unreadable_file_or_unknown_provider_exit_2(app, tmp_path, content, provider):
    with app.app_context():
        make_provider("CLI")
        db.session.commit()
    path = tmp_path / "f.xml"
    path.write_bytes(content)
    result = _cli(app, "import", str(path), "--provider", provider, "--commit")
    assert result.exit_code == 2, result.output


def test_worker_once_runs_queued_jobs(app):
    with app.app_context():
        provider = make_provider("WRK")
        job = imports.create_job(
            provider, None, "a.xml", write_activities_xml([full_record(1)]), NOW, "web"
        )
        job_id = job.id
    result = _cli(app, "worker", "--once")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(type(job), job_id).status == "previewed"


def test_learner_counts_as_xml_record_the_enduring_snapshot(who):
    provider, user = who
    em = make_enduring(provider, date(2025, 1, 1), date(2027, 12, 31), provider_activity_id="EMX")
    db.session.commit()
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ACCMELearnerCounts>\n'
        b"  <LearnerCount><Identifier>EMX</Identifier><PhysicianLearners>300</PhysicianLearners>"
        b"<OtherLearners>45</OtherLearners><AsOfYear>2025</AsOfYear></LearnerCount>\n"
        b"</ACCMELearnerCounts>\n"
    )
    job = preview(provider, user, "counts.xml", data)
    assert (job.kind, job.status) == ("counts", "previewed"), job.error
    assert commit(job, user).status == "committed"
    snap = db.session.scalar(select(LearnerSnapshot).where(LearnerSnapshot.activity_id == em.id))
    assert (snap.year, snap.physicians, snap.others) == (2025, 300, 45)
    # The same file again changes nothing.
    assert imports.counts_of(preview(provider, user, "counts.xml", data)).unchanged == 1

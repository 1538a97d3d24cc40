"""Batch files through the browser's forms: upload, preview, confirm, error file, history,
and the tenancy and role rules of every import route."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from pars_app.extensions import db
from pars_app.io import build_template
from pars_app.io.safety import OLE_MAGIC
from pars_app.models import Activity, ImportJob, Provider
from pars_app.services import activity_list, exports
from tests.factories import csrf_token, login, make_activity, make_provider, make_user
from tests.unit.test_io_fixtures import rezip, xlsx_bytes
from tests.web.html import by_id, parse, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
EMAIL = "importer@example.org"
HEAD = ["Provider Activity ID", "Activity Title", "Format", "Start Date", "End Date"]


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict[str, int]:
    with app.app_context():
        p = make_provider("IMP")
        make_user(EMAIL, p)
        make_user("viewer@example.org", p, role="reviewer")
        a = make_activity(p, provider_activity_id="J-1", title="Journal one")
        other = make_provider("OTH")
        make_user("other@example.org", other)
        db.session.commit()
        return {"provider": p.id, "activity": a.id}


def upload(client, name: str, data: bytes):
    token = csrf_token(client, "/imports/new")
    return client.post(
        "/imports/new",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def journal_rows(*rows) -> bytes:
    return xlsx_bytes([HEAD, *rows])


def test_upload_preview_confirm_and_history(client, ids, app):
    login(client, EMAIL)
    data = journal_rows(
        ["J-1", "Journal one, revised", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)],
        ["", "New journal", "Journal-based CME", date(2025, 4, 1), date(2025, 4, 30)],
    )
    resp = upload(client, "journals.xlsx", data)
    assert resp.status_code == 302
    page = parse(client.get(resp.headers["Location"]))
    assert text(by_id(page, "import-status")) == "Preview ready: nothing written yet"
    assert text(by_id(page, "count-created")) == "1"
    assert text(by_id(page, "count-updated")) == "1"
    row = by_id(page, "row-2")
    assert "Journal one → Journal one, revised" in text(row).replace("  ", " ") or (
        "Journal one" in text(row) and "Journal one, revised" in text(row)
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1  # nothing yet
        job_id = db.session.scalar(select(ImportJob.id))
    token = csrf_token(client, f"/imports/{job_id}")
    resp = client.post(f"/imports/{job_id}/commit", data={"csrf_token": token})
    assert resp.status_code == 302
    page = parse(client.get(f"/imports/{job_id}"))
    assert text(by_id(page, "import-status")) == "Imported"
    with app.app_context():
        titles = set(db.session.scalars(select(Activity.title)))
        assert {"Journal one, revised", "New journal"} <= titles
        new = db.session.scalar(select(Activity).where(Activity.title == "New journal"))
        assert new.provider_activity_id == "2025-0001"  # generated, as in the form
    history = parse(client.get("/imports"))
    assert "journals.xlsx" in text(by_id(history, f"import-{job_id}"))


def test_errors_are_listed_by_row_and_column_and_download_as_a_workbook(client, ids, app):
    login(client, EMAIL)
    data = journal_rows(
        ["J-9", "Fine", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)],
        ["J-10", "Bad dates", "Journal-based CME", "13/45/2025", date(2025, 3, 31)],
        ["J-9", "Twice", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)],
    )
    resp = upload(client, "mixed.xlsx", data)
    page = parse(client.get(resp.headers["Location"]))
    assert text(by_id(page, "count-errors")) == "2"
    assert "Start Date" in text(by_id(page, "row-3"))
    assert "also on row 2" in text(by_id(page, "row-4"))
    views = [text(a) for a in page.xpath("//nav[@aria-label='Show rows']/a")]
    assert views == [
        "All (3)",
        "To create (1)",
        "To update (0)",
        "Close = Yes (0)",
        "Unchanged (0)",
        "Errors (2)",
        "Warnings (0)",
    ]
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    # Confirming is refused while rows are in error (unless they are explicitly left out).
    token = csrf_token(client, f"/imports/{job_id}")
    client.post(f"/imports/{job_id}/commit", data={"csrf_token": token})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1
    got = client.get(f"/imports/{job_id}/errors.xlsx")
    assert got.status_code == 200
    assert "mixed-errors.xlsx" in got.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(got.data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[-2:] == ("Row in your file", "Errors")
    assert [r[-2] for r in rows[1:]] == [3, 4]
    # What the reader understood comes back typed (a date cell, not its ISO text); what it
    # refused comes back as the user typed it.
    starts = [r[header.index("Start Date")] for r in rows[1:]]
    assert starts == ["13/45/2025", datetime(2025, 3, 1)]
    assert rows[1][header.index("End Date")] == datetime(2025, 3, 31)
    # Leaving the rows in error out imports the rest.
    client.post(f"/imports/{job_id}/commit", data={"csrf_token": token, "skip_errors": "yes"})
    with app.app_context():
        assert (
            db.session.scalar(select(Activity.title).where(Activity.provider_activity_id == "J-9"))
            == "Fine"
        )


def _bomb() -> bytes:
    # 200 MB of zeros deflates to ~200 KB; the zip directory gives it away.
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("xl/worksheets/sheet1.xml", "w") as member,
    ):
        for _ in range(200):
            member.write(b"\0" * 1024 * 1024)
    return out.getvalue()


HOSTILE = [
    ("bomb.xlsx", _bomb, "zip bomb"),
    (
        "macro.xlsx",
        lambda: rezip(build_template(), add={"xl/vbaProject.bin": b"\x01" * 100}),
        "macros",
    ),
    ("macro.xlsm", build_template, "macros"),
    ("old.xls", lambda: OLE_MAGIC + b"\0" * 600, "save it as .xlsx"),
    ("wrong.xlsx", lambda: xlsx_bytes([["Name", "Colour"], ["a", "b"]]), "not a column we know"),
    (
        "laughs.xml",
        lambda: (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>'
        ),
        "DOCTYPE",
    ),
    ("broken.xml", lambda: b"<ACCMEActivities><MedicalEducationMetrics>", "line"),
    ("headeronly.xlsx", lambda: xlsx_bytes([HEAD]), "no rows"),
    # Written by a script: a formula and no saved result would import as a blank title.
    (
        "formulas.xlsx",
        lambda: xlsx_bytes([HEAD, ["F-1", "=UPPER(A2)", "C", "2025-03-01", "2025-03-01"]]),
        "formula whose result was never saved",
    ),
]


@pytest.mark.parametrize(("name", "build", "words"), HOSTILE)
def test_every_hostile_file_is_refused_through_the_upload(client, ids, app, name, build, words):
    login(client, EMAIL)
    resp = upload(client, name, build())
    page = parse(client.get(resp.headers["Location"]))
    assert text(by_id(page, "import-status")) == "File refused"
    assert words.lower() in text(by_id(page, "import-error")).lower()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.xlsx", b"", "empty"),
        ("notzip.xlsx", b"this is not a zip file at all", "xlsx"),
        (
            "evil.xml",
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
            "DOCTYPE",
        ),
        ("wide.txt", ("\t".join(["x"] * 10_001) + "\n").encode(), "column"),
    ],
)
def test_hostile_and_broken_files_are_refused_with_a_message(client, ids, app, name, data, words):
    login(client, EMAIL)
    resp = upload(client, name, data)
    page = parse(client.get(resp.headers["Location"]))
    assert text(by_id(page, "import-status")) == "File refused"
    assert words.lower() in text(by_id(page, "import-error")).lower()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 1


def test_oversized_upload_gets_the_413_page(app, client, ids):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    login(client, EMAIL)
    resp = upload(client, "big.xlsx", b"x" * 5000)
    assert resp.status_code == 413
    assert "too large" in resp.get_data(as_text=True).lower() or "413" in resp.get_data(
        as_text=True
    )


def test_reviewer_sees_history_but_cannot_upload_or_confirm(client, ids, app):
    login(client, EMAIL)
    resp = upload(
        client,
        "j.xlsx",
        journal_rows(["J-2", "Another", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)]),
    )
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    client = app.test_client()
    login(client, "viewer@example.org")
    assert client.get("/imports").status_code == 200
    assert client.get(f"/imports/{job_id}").status_code == 200
    assert client.get("/imports/new").status_code == 403
    token = csrf_token(client, "/imports")
    assert client.post(f"/imports/{job_id}/commit", data={"csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.get(ImportJob, job_id).status == "previewed"


def test_imports_are_reached_from_the_nav_the_activity_list_and_the_enduring_counts(
    client, ids, app
):
    """An editor finds the upload where the work is (the list, the December 31 counts) and the
    history in the main navigation; a reviewer finds the history only."""
    login(client, EMAIL)
    doc = parse(client.get("/activities"))
    nav = {text(a): a.get("href") for a in doc.xpath("//nav[@aria-label='Main']//ul//a")}
    assert nav["Imports"] == "/imports"
    assert by_id(doc, "import-activities").get("href") == "/imports/new"
    imports_nav = parse(client.get("/imports")).xpath("//nav[@aria-label='Main']//a[@aria-current]")
    assert [text(a) for a in imports_nav] == ["Imports"]
    enduring = by_id(parse(client.get("/enduring/2025")), "counts-by-file")
    hrefs = [a.get("href") for a in enduring.xpath(".//a")]
    assert hrefs == ["/templates/learner-counts.xlsx?year=2025", "/imports/new"]

    reviewer = app.test_client()
    login(reviewer, "viewer@example.org")
    doc = parse(reviewer.get("/activities"))
    assert "Imports" in [text(a) for a in doc.xpath("//nav[@aria-label='Main']//ul//a")]
    assert by_id(doc, "import-activities") is None
    assert by_id(parse(reviewer.get("/enduring/2025")), "counts-by-file") is None


def test_another_providers_import_is_404_on_every_route(client, ids, app):
    login(client, EMAIL)
    resp = upload(
        client,
        "j.xlsx",
        journal_rows(["J-2", "Another", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)]),
    )
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    client = app.test_client()
    login(client, "other@example.org")
    for path in ("", "/progress", "/errors.xlsx"):
        assert client.get(f"/imports/{job_id}{path}").status_code == 404
    token = csrf_token(client, "/imports")
    for path in ("/commit", "/discard", "/retry"):
        assert (
            client.post(f"/imports/{job_id}{path}", data={"csrf_token": token}).status_code == 404
        )
    with app.app_context():
        assert db.session.get(ImportJob, job_id).status == "previewed"


def test_the_uploaded_file_downloads_as_sent_until_the_import_is_discarded(client, ids, app):
    login(client, EMAIL)
    data = journal_rows(["J-3", "Kept", "Journal-based CME", date(2025, 3, 1), date(2025, 3, 31)])
    resp = upload(client, "Jan batch (final).xlsx", data)
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    link = by_id(parse(client.get(f"/imports/{job_id}")), "uploaded-file")
    assert link.get("href") == f"/imports/{job_id}/file"
    assert text(link.getparent()).endswith(f"({(len(data) + 1023) // 1024} KB)")
    got = client.get(f"/imports/{job_id}/file")
    assert got.status_code == 200 and got.data == data
    # A download, never rendered: whatever was uploaded is served as opaque bytes.
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == 'attachment; filename="Jan batch _final_.xlsx"'
    reviewer = app.test_client()
    login(reviewer, "viewer@example.org")
    assert reviewer.get(f"/imports/{job_id}/file").data == data  # any reader of the provider
    token = csrf_token(client, f"/imports/{job_id}")
    client.post(f"/imports/{job_id}/discard", data={"csrf_token": token})
    gone = client.get(f"/imports/{job_id}/file")
    assert (gone.status_code, gone.headers["Location"]) == (302, f"/imports/{job_id}")
    assert by_id(parse(client.get(f"/imports/{job_id}")), "uploaded-file") is None


def test_history_says_who_uploaded_each_file_and_the_command_line_for_the_cli(
    client, ids, app, tmp_path
):
    path = tmp_path / "from-cli.xlsx"
    path.write_bytes(journal_rows(["J-5", "By script", "JN", date(2025, 5, 1), date(2025, 5, 1)]))
    result = app.test_cli_runner().invoke(args=["pars", "import", str(path), "--provider", "IMP"])
    assert result.exit_code == 0, result.output
    login(client, EMAIL)
    upload(
        client, "by-hand.xlsx", journal_rows(["J-6", "By hand", "JN", "2025-06-01", "2025-06-01"])
    )
    with app.app_context():
        jobs = dict(db.session.execute(select(ImportJob.filename, ImportJob.id)).all())
    history = parse(client.get("/imports"))
    assert "command line" in text(by_id(history, f"import-{jobs['from-cli.xlsx']}"))
    assert EMAIL in text(by_id(history, f"import-{jobs['by-hand.xlsx']}"))
    page = parse(client.get(f"/imports/{jobs['from-cli.xlsx']}"))
    assert "from the command line" in text(page.xpath("//p[@class='page-head__meta']")[0])


def test_the_preview_says_what_each_close_activity_yes_will_do(client, ids, app):
    # Close Activity = Yes on three rows: one closes, one cannot yet (no learner counts), and
    # one names an activity closed before: the tile counts the first, notes the other two.
    with app.app_context():
        provider = db.session.get(Provider, ids["provider"])
        make_activity(
            provider,
            provider_activity_id="J-2",
            title="Closed journal",
            format="JN",
            start_date=date(2025, 2, 1),
            end_date=date(2025, 2, 1),
            closed_at=NOW,
        )
        db.session.commit()
        data = exports.export_activities(
            provider.id, activity_list.parse_filter({}), "xlsx", date(2026, 2, 15)
        ).data
    sheet = load_workbook(io.BytesIO(data))
    rows = sheet["Activities"]
    header = [c.value for c in rows[1]]
    close, physicians = header.index("Close Activity"), header.index("Physician Learners")
    for row in rows.iter_rows(min_row=2):
        row[close].value = "Yes"
    new = [None] * len(header)
    new[header.index("Activity Title")], new[header.index("Format")] = "Uncounted", "JN"
    new[header.index("Start Date")] = new[header.index("End Date")] = date(2025, 5, 1)
    new[close], new[physicians] = "Yes", None
    rows.append(new)
    out = io.BytesIO()
    sheet.save(out)
    login(client, EMAIL)
    page = parse(client.get(upload(client, "closing.xlsx", out.getvalue()).headers["Location"]))
    assert text(by_id(page, "count-closed")) == "1"
    assert text(by_id(page, "count-close-refused")) == "1 cannot close yet"
    assert text(by_id(page, "count-already-closed")) == "1 already closed"
    views = [text(a) for a in page.xpath("//nav[@aria-label='Show rows']/a")]
    assert "Close = Yes (3)" in views
    happens = {text(r.xpath("td")[1]): text(r.xpath("td")[3]) for r in page.xpath("//tr[@id]")}
    assert happens["J-1"] == "Unchanged, then close"
    assert happens["J-2"] == "Unchanged (already closed)"
    assert happens["(new ID)"] == "Create (not closed)"

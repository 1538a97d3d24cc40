"""Downloads: the list's activities as .xlsx and XML, the templates and the published XSD."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from lxml import etree
from openpyxl import load_workbook

from pars_app.extensions import db
from pars_app.io import XSD_PATH, read_file
from pars_app.models import Provider
from tests.factories import (
    htmx_headers,
    login,
    make_accreditor,
    make_activity,
    make_enduring,
    make_provider,
    make_user,
    utc,
)
from tests.web.html import by_id, parse, text

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class World:
    demo: int
    west: int


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        acc = make_accreditor("ACC")
        elsewhere = make_accreditor("ELSE")
        demo = make_provider("DEMO", acc)
        west = make_provider("WEST", elsewhere)
        make_user("admin@demo.org", demo, role="admin")
        make_user("reviewer@demo.org", demo, role="reviewer")
        make_user("admin@west.org", west, role="admin")
        make_user("staff@acc.org", accreditor=acc)
        make_user("staff@else.org", accreditor=elsewhere)
        make_activity(demo, provider_activity_id="D-C-25", format="C", delivery="in_person")
        make_activity(demo, provider_activity_id="D-JN-25", title="Journal club")
        make_activity(
            demo,
            provider_activity_id="D-JN-24",
            start_date=date(2024, 4, 1),
            end_date=date(2024, 4, 30),
            closed_at=utc(2024, 6, 1),
        )
        make_activity(west, provider_activity_id="W-1", title="West only")
        db.session.commit()
        return World(demo.id, west.id)


def _ids(resp, name: str) -> list[str]:
    return sorted(r.values["provider_activity_id"] for r in read_file(name, resp.data).rows)


def _filename(resp) -> str:
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    return disposition.split('filename="')[1].rstrip('"')


# --- Exports ------------------------------------------------------------------------------------


def test_xlsx_export_is_a_download_of_every_activity_matching_the_filter(client, world):
    login(client, "admin@demo.org")
    resp = client.get("/exports/activities.xlsx?year=2025&per_page=25&page=3")
    assert resp.status_code == 200
    assert resp.mimetype == XLSX
    assert _filename(resp) == "activities-DEMO-2025.xlsx"
    assert _ids(resp, "x.xlsx") == ["D-C-25", "D-JN-25"]
    everything = client.get("/exports/activities.xlsx")
    assert _filename(everything) == "activities-DEMO.xlsx"
    assert _ids(everything, "x.xlsx") == ["D-C-25", "D-JN-24", "D-JN-25"]
    closed = read_file("x.xlsx", client.get("/exports/activities.xlsx?status=closed").data)
    assert [(r.values["provider_activity_id"], r.values["close"]) for r in closed.rows] == [
        ("D-JN-24", "Yes")
    ]


def test_filters_are_the_lists_own(client, world):
    login(client, "admin@demo.org")
    assert _ids(client.get("/exports/activities.xlsx?format=C"), "x.xlsx") == ["D-C-25"]
    assert _ids(client.get("/exports/activities.xlsx?q=journal"), "x.xlsx") == ["D-JN-25"]
    odd = client.get("/exports/activities.xlsx?format=NOPE&year=abc")  # ignored, as the list does
    assert odd.status_code == 200 and len(_ids(odd, "x.xlsx")) == 3


def test_xml_export_validates_against_the_published_xsd(client, world):
    login(client, "admin@demo.org")
    resp = client.get("/exports/activities.xml?year=2025")
    assert resp.status_code == 200
    assert resp.mimetype == "application/xml"
    assert _filename(resp) == "activities-DEMO-2025.xml"
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    doc = etree.fromstring(resp.data)
    assert schema.validate(doc), schema.error_log
    ids = doc.xpath("//MedicalEducationMetrics/ActivityDescription/Identifier/text()")
    assert sorted(ids) == ["D-C-25", "D-JN-25"]


def test_text_that_looks_like_a_formula_never_becomes_one(app, client, world):
    titles = ['=HYPERLINK("http://evil.example","Click")', "+1+2", "-2+3", "@SUM(A1:A2)"]
    with app.app_context():
        demo = db.session.get(Provider, world.demo)
        for i, title in enumerate(titles):
            make_activity(demo, provider_activity_id=f"F-{i}", title=title, description=title)
        db.session.commit()
    login(client, "admin@demo.org")
    resp = client.get("/exports/activities.xlsx?q=F-")
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet  # no formula anywhere in the sheet
    ws = load_workbook(io.BytesIO(resp.data))["Activities"]
    header = [c.value for c in ws[1]]
    title_col = header.index("Activity Title")
    cells = [row[title_col] for row in ws.iter_rows(min_row=2)]
    assert sorted(c.value for c in cells) == sorted(titles)
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    read_back = {r.values["title"] for r in read_file("x.xlsx", resp.data).rows}
    assert read_back == set(titles)


def test_a_reviewer_may_export(client, world):
    login(client, "reviewer@demo.org")
    resp = client.get("/exports/activities.xml")
    assert resp.status_code == 200 and b"D-C-25" in resp.data


def test_another_providers_user_exports_only_its_own_activities(client, world):
    login(client, "admin@west.org")
    for url, name in (("/exports/activities.xlsx", "x.xlsx"), ("/exports/activities.xml", "x.xml")):
        resp = client.get(url)
        assert _ids(resp, name) == ["W-1"]
        assert b"D-C-25" not in resp.data
    assert _filename(client.get("/exports/activities.xlsx")) == "activities-WEST.xlsx"


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    for url in (
        "/exports/activities.xlsx",
        "/exports/activities.xml",
        "/templates/activities.xlsx",
        "/templates/learner-counts.xlsx",
    ):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url


def test_accreditor_staff_export_the_provider_they_are_viewing_read_only(client, world):
    login(client, "staff@acc.org")
    assert client.get("/exports/activities.xlsx").status_code == 404  # no provider chosen
    client.get(f"/accreditor/providers/{world.demo}")
    resp = client.get("/exports/activities.xlsx")
    assert resp.status_code == 200
    assert _ids(resp, "x.xlsx") == ["D-C-25", "D-JN-24", "D-JN-25"]


def test_an_accreditor_of_another_accreditor_gets_404(client, world):
    login(client, "staff@else.org")
    assert client.get(f"/accreditor/providers/{world.demo}").status_code == 404
    assert client.get("/exports/activities.xlsx").status_code == 404
    assert client.get("/exports/activities.xml").status_code == 404
    # Viewing its own provider exports that one only.
    client.get(f"/accreditor/providers/{world.west}")
    assert _ids(client.get("/exports/activities.xlsx"), "x.xlsx") == ["W-1"]


# --- Links on the list ---------------------------------------------------------------------------


def _export_links(doc) -> dict[str, dict[str, list[str]]]:
    found = {}
    for id_ in ("export-xlsx", "export-xml"):
        link = by_id(doc, id_)
        assert link is not None and link.tag == "a", id_
        url = urlsplit(link.get("href"))
        found[url.path] = parse_qs(url.query)
    return found


def test_the_list_links_to_exports_of_its_current_filter(client, world):
    login(client, "admin@demo.org")
    doc = parse(client.get("/activities?year=2025&format=C&per_page=25&page=1&sort=id"))
    links = _export_links(doc)
    want = {"year": ["2025"], "format": ["C"], "sort": ["id"]}
    assert links == {"/exports/activities.xlsx": want, "/exports/activities.xml": want}
    assert text(by_id(doc, "export-xlsx")) == "Export to Excel"
    assert text(by_id(doc, "export-xml")) == "Export to XML"
    # A filter changed through htmx swaps the table, links included.
    fragment = parse(client.get("/activities?q=journal", headers=htmx_headers()))
    assert all(q == {"q": ["journal"]} for q in _export_links(fragment).values())
    empty = parse(client.get("/activities?q=nothing-matches"))
    assert by_id(empty, "export-xlsx") is None


def test_a_reviewer_and_a_viewing_accreditor_see_the_links_too(app, client, world):
    login(client, "reviewer@demo.org")
    assert len(_export_links(parse(client.get("/activities")))) == 2
    staff = app.test_client()
    login(staff, "staff@acc.org")
    staff.get(f"/accreditor/providers/{world.demo}")
    assert len(_export_links(parse(staff.get("/activities?year=2024")))) == 2


# --- Templates and the schema -------------------------------------------------------------------


def test_the_blank_template_is_a_download_for_any_signed_in_user(client, world):
    login(client, "staff@acc.org")  # no provider needed
    resp = client.get("/templates/activities.xlsx")
    assert resp.status_code == 200 and resp.mimetype == XLSX
    assert _filename(resp) == "activities-template.xlsx"
    result = read_file("activities-template.xlsx", resp.data)
    assert result.kind == "xlsx" and list(result.rows) == []
    assert load_workbook(io.BytesIO(resp.data)).sheetnames == [
        "Activities",
        "Instructions",
        "Lists",
    ]


def test_the_learner_count_template_is_prefilled_with_what_needs_counts(app, client, world):
    with app.app_context():
        demo = db.session.get(Provider, world.demo)
        make_enduring(demo, date(2024, 1, 1), date(2026, 12, 31), provider_activity_id="EM-1")
        make_activity(demo, provider_activity_id="JN-NO-COUNTS", physician_learners=None)
        db.session.commit()
    login(client, "admin@demo.org")
    resp = client.get("/templates/learner-counts.xlsx?year=2025")
    assert resp.status_code == 200 and resp.mimetype == XLSX
    assert _filename(resp) == "learner-counts-DEMO-2025.xlsx"
    result = read_file("counts.xlsx", resp.data)
    assert result.kind == "counts"
    rows = [(r.values["provider_activity_id"], r.values.get("counts_year")) for r in result.rows]
    assert rows == [("EM-1", 2025), ("JN-NO-COUNTS", None)]
    # Without ?year= it is the year being closed out (2025 in February 2026).
    assert _filename(client.get("/templates/learner-counts.xlsx")) == (
        "learner-counts-DEMO-2025.xlsx"
    )


def test_accreditor_staff_get_a_blank_learner_count_template(client, world):
    login(client, "staff@acc.org")
    resp = client.get("/templates/learner-counts.xlsx")
    assert _filename(resp) == "learner-counts-template.xlsx"
    result = read_file("counts.xlsx", resp.data)
    assert result.kind == "counts" and list(result.rows) == []


def test_the_xsd_is_published_to_everyone(client, world):
    resp = client.get("/schema/activities.xsd")  # signed out
    assert resp.status_code == 200
    assert resp.mimetype == "application/xml"
    assert resp.data == XSD_PATH.read_bytes()
    etree.XMLSchema(etree.fromstring(resp.data))  # a schema lxml can compile
    login(client, "admin@demo.org")
    assert client.get("/schema/activities.xsd").data == resp.data

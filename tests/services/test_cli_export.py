"""`flask pars export --provider CODE [--year Y] --format xlsx|xml -o PATH`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from pars_app.extensions import db
from pars_app.io import XSD_PATH, read_file
from pars_app.models import MocRegistration
from tests.factories import make_activity, make_provider, utc


@pytest.fixture
def demo(app):
    with app.app_context():
        p = make_provider("DEMO")
        make_activity(p, provider_activity_id="A-2025", start_date=date(2025, 3, 1))
        make_activity(
            p,
            provider_activity_id="B-2025",
            start_date=date(2025, 11, 1),
            end_date=date(2026, 1, 15),
        )
        make_activity(
            p,
            provider_activity_id="C-2024",
            start_date=date(2024, 5, 1),
            end_date=date(2024, 5, 2),
        )
        make_activity(make_provider("WEST"), provider_activity_id="W-2025")
        db.session.commit()


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["pars", "export", *args])


def _ids(data: bytes, name: str) -> list[str]:
    return sorted(r.values["provider_activity_id"] for r in read_file(name, data).rows)


def test_exports_a_year_to_xlsx_and_says_how_many(app, demo, tmp_path):
    out = tmp_path / "demo.xlsx"
    result = _run(app, "--provider", "DEMO", "--year", "2025", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Exported 2 activities of DEMO starting in 2025 to {out}."
    assert _ids(out.read_bytes(), "demo.xlsx") == ["A-2025", "B-2025"]
    assert not list(tmp_path.glob("*.partial"))


def test_year_by_end_date_and_every_year_without_year(app, demo, tmp_path):
    out = tmp_path / "demo.xlsx"
    by_end = _run(app, "--provider", "DEMO", "--year", "2025", "--by", "end", "--format", "xlsx")
    assert by_end.exit_code == 2  # -o is required
    args = ["--provider", "DEMO", "--year", "2025", "--by", "end", "--format", "xlsx"]
    assert _run(app, *args, "-o", str(out)).exit_code == 0
    assert _ids(out.read_bytes(), "demo.xlsx") == ["A-2025"]
    every = _run(app, "--provider", "DEMO", "--format", "xlsx", "-o", str(out))
    assert "Exported 3 activities of DEMO to" in every.output
    assert _ids(out.read_bytes(), "demo.xlsx") == ["A-2025", "B-2025", "C-2024"]


def test_exports_xml_that_validates_against_the_published_schema(app, demo, tmp_path):
    out = tmp_path / "demo.xml"
    result = _run(app, "--provider", "DEMO", "--format", "xml", "-o", str(out))
    assert result.exit_code == 0, result.output
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    doc = etree.parse(str(out))
    assert schema.validate(doc), schema.error_log
    assert _ids(out.read_bytes(), "demo.xml") == ["A-2025", "B-2025", "C-2024"]


def test_one_activity_is_singular(app, tmp_path):
    with app.app_context():
        make_activity(make_provider("ONE"))
        db.session.commit()
    out = tmp_path / "one.xml"
    result = _run(app, "--provider", "ONE", "--format", "xml", "-o", str(out))
    assert result.output.startswith("Exported 1 activity of ONE to")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "NOPE", "--format", "xlsx"], "no provider with code 'NOPE'"),
        (["--provider", "DEMO", "--format", "csv"], "'csv' is not one of 'xlsx', 'xml'"),
        (["--provider", "DEMO", "--format", "xlsx", "--year", "1800"], "1800 is not in the range"),
        (["--provider", "DEMO", "--format", "xlsx", "--year", "last"], "'last' is not a valid"),
        (["--format", "xlsx"], "Missing option '--provider'"),
        (["--provider", "DEMO"], "Missing option '--format'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message_and_write_nothing(
    app, demo, tmp_path, args, message
):
    out = tmp_path / "out.xlsx"
    result = _run(app, *args, "-o", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_a_path_that_contradicts_the_format_or_has_no_directory_is_refused(app, demo, tmp_path):
    wrong = _run(app, "--provider", "DEMO", "--format", "xml", "-o", str(tmp_path / "a.xlsx"))
    assert wrong.exit_code == 2
    assert "a.xlsx ends in .xlsx but --format is xml" in wrong.output
    nowhere = tmp_path / "missing" / "a.xlsx"
    lost = _run(app, "--provider", "DEMO", "--format", "xlsx", "-o", str(nowhere))
    assert lost.exit_code == 2 and "no directory" in lost.output
    assert not (tmp_path / "a.xlsx").exists() and not nowhere.parent.exists()


def test_an_existing_file_is_replaced_whole(app, demo, tmp_path):
    out = tmp_path / "demo.xlsx"
    out.write_bytes(b"old contents " * 10_000)
    assert _run(app, "--provider", "DEMO", "--format", "xlsx", "-o", str(out)).exit_code == 0
    assert _ids(out.read_bytes(), "demo.xlsx") == ["A-2025", "B-2025", "C-2024"]


def test_an_export_imports_back_with_every_row_unchanged(app, tmp_path):
    """Export → import (dry run) is all "unchanged", children and closed activities included."""
    with app.app_context():
        p = make_provider("TRIP")
        joint = make_activity(
            p,
            provider_activity_id="JOINT",
            title="=Not a formula",
            format="C",
            delivery="hybrid",
            venue="Hall",
            city="Chicago",
            state="IL",
            country="USA",
            providership="joint",
            joint_providers=["Lakeside Society", "North Clinic"],
            commercial_support=True,
            supporters=[
                dict(name="Acme", kind="monetary", amount_cents=1_250_055),
                dict(name="Lab", kind="in_kind", in_kind_nature="other", in_kind_other="Models"),
            ],
            passport_listed=True,
            passport_fee=False,
            passport_registration="open",
            passport_url="https://example.org/c",
            outcome_performance=True,
        )
        joint.moc_registrations.append(
            MocRegistration(
                board="ABIM",
                credit_types="Medical Knowledge, Practice Assessment",
                points=Decimal("1.50"),
                practice_areas="Cardiology\nInternal Medicine",
            )
        )
        make_activity(p, provider_activity_id="SHUT", closed_at=utc(2025, 4, 15))
        make_activity(p, provider_activity_id="DRAFT", complete=False, title="-draft")
        db.session.commit()
    for kind in ("xlsx", "xml"):
        out = tmp_path / f"trip.{kind}"
        assert _run(app, "--provider", "TRIP", "--format", kind, "-o", str(out)).exit_code == 0
        back = app.test_cli_runner().invoke(args=["pars", "import", str(out), "--provider", "TRIP"])
        assert back.output.splitlines()[0] == (
            "created 0, updated 0, closed 0, unchanged 3, errors 0"
        ), (kind, back.output)
        assert back.exit_code == 0

"""Exporting the list's activities: every match (not one page), children included, closed ones
marked to close, in the io writers' record shape, with a bounded number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import event, insert, select

from pars_app.extensions import db
from pars_app.io import read_file
from pars_app.models import Activity, CommercialSupporter, JointProvider, MocRegistration
from pars_app.services import exports
from pars_app.services.activity_list import ActivityFilter, parse_filter
from tests.factories import make_activity, make_enduring, make_provider, make_snapshot, utc
from tests.unit.test_io_fixtures import stored, typed, without_numbers

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
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _ids(f: ActivityFilter, provider) -> list[str]:
    return [r["provider_activity_id"] for r in exports.activity_records(provider.id, f, TODAY)]


def _full(provider, **fields) -> Activity:
    """A closed joint course with two supporters and two MOC boards."""
    a = make_activity(
        provider,
        provider_activity_id="2025-FULL",
        title="Cardiology update",
        format="C",
        delivery="hybrid",
        venue="Main hall",
        city="Chicago",
        state="IL",
        country="USA",
        accme_activity_id=123_456_789_012_345_678,
        providership="joint",
        joint_providers=["Lakeside Society", "North Clinic"],
        commercial_support=True,
        supporters=[
            dict(name="Acme Pharma", kind="monetary", amount_cents=1_250_055),
            dict(name="Lab Inc", kind="in_kind", in_kind_nature="other", in_kind_other="Models"),
        ],
        passport_listed=True,
        passport_fee=False,
        passport_registration="open",
        passport_url="https://example.org/c",
        credits=Decimal("12.25"),
        outcome_patient_health=True,
        physician_learners=1040,
        other_learners=0,
        legacy_data='{"hours": 12}',
        **fields,
    )
    a.moc_registrations.append(
        MocRegistration(
            board="ABP",
            credit_types="Lifelong Learning",
            points=Decimal("10"),
            practice_areas="",
        )
    )
    a.moc_registrations.append(
        MocRegistration(
            board="ABIM",
            credit_types="Medical Knowledge, Practice Assessment",
            points=Decimal("10.50"),
            practice_areas="Cardiology\nInternal Medicine",
        )
    )
    db.session.flush()
    return a


# --- Record shape and round trip ------------------------------------------------------------


def test_a_record_carries_every_field_typed_as_stored_and_children_in_order(ctx):
    p = make_provider("DEMO")
    _full(p, closed_at=utc(2025, 4, 1))
    db.session.commit()
    [record] = exports.activity_records(p.id, ActivityFilter(), TODAY)
    assert record["provider_activity_id"] == "2025-FULL"
    assert record["accme_activity_id"] == 123_456_789_012_345_678
    assert record["format"] == "C" and record["delivery"] == "hybrid"
    assert record["start_date"] == date(2025, 3, 1) and record["credits"] == Decimal("12.25")
    assert record["passport_listed"] is True and record["passport_registration"] == "open"
    assert record["outcome_patient_health"] is True and record["outcome_performance"] is False
    assert record["physician_learners"] == 1040 and record["other_learners"] == 0
    assert record["joint_providers"] == ["Lakeside Society", "North Clinic"]
    assert record["supporters"] == [
        {
            "name": "Acme Pharma",
            "kind": "monetary",
            "amount_cents": 1_250_055,
            "nature": None,
            "other": None,
        },
        {"name": "Lab Inc", "kind": "in_kind", "amount_cents": None, "nature": "other"}
        | {"other": "Models"},
    ]
    # MOC in board order, as the activity page shows them; lists split as the form stored them.
    assert record["moc"] == [
        {
            "board": "ABIM",
            "credit_types": ["Medical Knowledge", "Practice Assessment"],
            "points": Decimal("10.50"),
            "practice_areas": ["Cardiology", "Internal Medicine"],
        },
        {
            "board": "ABP",
            "credit_types": ["Lifelong Learning"],
            "points": Decimal("10.00"),
            "practice_areas": [],
        },
    ]
    assert record["close"] is True
    assert "legacy_data" not in record and not any("hours" in str(v) for v in record.values())


def test_closed_activities_say_close_yes_and_open_ones_leave_it_blank(ctx):
    p = make_provider()
    make_activity(p, provider_activity_id="OPEN")
    make_activity(p, provider_activity_id="SHUT", closed_at=utc(2025, 4, 2))
    db.session.commit()
    records = {
        r["provider_activity_id"]: r for r in exports.activity_records(p.id, ActivityFilter())
    }
    assert records["SHUT"]["close"] is True
    assert records["OPEN"]["close"] is None
    rows = {r.values["provider_activity_id"]: r.values for r in _read_back(p).rows}
    assert rows["SHUT"]["close"] == "Yes" and rows["OPEN"]["close"] is None


def _read_back(provider, f: ActivityFilter | None = None):
    data = exports.export_xlsx(provider.id, f or ActivityFilter())
    return read_file("activities.xlsx", data)


def test_the_xlsx_export_reads_back_as_the_same_values(ctx):
    p = make_provider()
    _full(p, closed_at=utc(2025, 4, 1))
    make_activity(p, provider_activity_id="=1+2", title="-minus", description="@handle")
    make_activity(p, provider_activity_id="DRAFT", complete=False, format="EM", delivery="print")
    db.session.commit()
    records = list(exports.activity_records(p.id, ActivityFilter()))
    result = _read_back(p)
    assert result.kind == "xlsx"
    rows = list(result.rows)
    assert all(r.problems == () for r in rows)
    assert [typed(without_numbers(r.values)) for r in rows] == [stored(r) for r in records]
    formula_like = next(r.values for r in rows if r.values["provider_activity_id"] == "=1+2")
    assert (formula_like["title"], formula_like["description"]) == ("-minus", "@handle")


def test_the_xml_export_reads_back_as_the_same_values(ctx):
    p = make_provider()
    _full(p)
    make_activity(p, provider_activity_id="PLAIN")
    db.session.commit()
    records = list(exports.activity_records(p.id, ActivityFilter()))
    result = read_file("activities.xml", exports.export_xml(p.id, ActivityFilter()))
    assert result.kind == "xml"
    assert [typed(without_numbers(r.values)) for r in result.rows] == [stored(r) for r in records]


# --- Which activities ------------------------------------------------------------------------


def test_every_page_is_exported_whatever_page_the_list_shows(ctx):
    p = make_provider()
    for i in range(60):
        make_activity(p, provider_activity_id=f"A{i:03d}")
    db.session.commit()
    f = parse_filter({"page": "2", "per_page": "25"})
    assert len(_ids(f, p)) == 60
    done = exports.export_activities(p.id, f, "xlsx", TODAY)
    assert done.count == 60
    assert len(list(read_file("x.xlsx", done.data).rows)) == 60


def test_the_lists_filters_choose_the_activities_and_its_sort_their_order(ctx):
    p = make_provider()
    make_activity(p, provider_activity_id="C25", format="C", delivery="in_person", title="Heart")
    make_activity(p, provider_activity_id="JN25", title="Heart journal")
    make_activity(
        p,
        provider_activity_id="JN24",
        title="Heart",
        start_date=date(2024, 5, 1),
        end_date=date(2024, 5, 31),
    )
    make_activity(p, provider_activity_id="JN25-END", start_date=date(2024, 12, 1))
    make_activity(p, provider_activity_id="SHUT", closed_at=utc(2025, 4, 1), title="Lungs")
    make_activity(
        make_provider(), provider_activity_id="ELSEWHERE", title="Heart"
    )  # another provider's
    db.session.commit()

    def ids(**args):
        return sorted(_ids(parse_filter(args), p))

    assert ids() == ["C25", "JN24", "JN25", "JN25-END", "SHUT"]
    assert ids(year="2025") == ["C25", "JN25", "SHUT"]
    assert ids(year="2025", by="end") == ["C25", "JN25", "JN25-END", "SHUT"]
    assert ids(year="2025", format="JN") == ["JN25", "SHUT"]
    assert ids(q="heart") == ["C25", "JN24", "JN25"]
    assert ids(status="closed") == ["SHUT"]
    assert ids(view="ended_open", year="2025") == ["C25", "JN25", "JN25-END"]
    ordered = _ids(parse_filter({"sort": "id", "dir": "asc"}), p)
    assert ordered == ["C25", "JN24", "JN25", "JN25-END", "SHUT"]


def test_chunks_keep_every_activity_with_its_own_children(ctx, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 4)  # 10 activities: three chunks
    p = make_provider()
    for i in range(10):
        make_activity(
            p,
            provider_activity_id=f"A{i:02d}",
            providership="joint",
            joint_providers=[f"Partner {i}"],
            supporters=[dict(name=f"Sponsor {i}", kind="monetary", amount_cents=100 * i + 1)],
        )
    db.session.commit()
    records = list(exports.activity_records(p.id, parse_filter({"sort": "id", "dir": "asc"})))
    assert [r["provider_activity_id"] for r in records] == [f"A{i:02d}" for i in range(10)]
    for i, r in enumerate(records):
        assert r["joint_providers"] == [f"Partner {i}"]
        assert [s["name"] for s in r["supporters"]] == [f"Sponsor {i}"]
        assert r["supporters"][0]["amount_cents"] == 100 * i + 1


# --- Queries do not grow with the activities --------------------------------------------------


def _seed(provider, n: int) -> None:
    """n activities, each with a joint provider, a supporter and a MOC registration."""
    template = make_activity(provider, provider_activity_id="T-0", title="Template")
    skip = ("id", "provider_activity_id", "title")
    columns = {c.key: getattr(template, c.key) for c in Activity.__table__.columns}
    columns = {k: v for k, v in columns.items() if k not in skip}
    db.session.execute(
        insert(Activity),
        [dict(columns, provider_activity_id=f"T-{i}", title=f"T {i}") for i in range(1, n)],
    )
    ids = list(db.session.scalars(select(Activity.id).where(Activity.provider_id == provider.id)))
    db.session.execute(
        insert(JointProvider), [dict(activity_id=i, name="Partner", position=0) for i in ids]
    )
    db.session.execute(
        insert(CommercialSupporter),
        [dict(activity_id=i, name="S", kind="monetary", amount_cents=5, position=0) for i in ids],
    )
    db.session.execute(
        insert(MocRegistration),
        [dict(activity_id=i, board="ABIM", credit_types="MK", practice_areas="") for i in ids],
    )
    db.session.commit()


def _export_statements(provider) -> tuple[int, list[dict]]:
    pid = provider.id  # read before counting: the commit expired it
    with statements() as seen:
        records = list(exports.activity_records(pid, ActivityFilter(), TODAY))
    return len(seen), records


def test_the_number_of_queries_does_not_grow_with_the_activities(ctx):
    small, big = make_provider(), make_provider()
    _seed(small, 30)
    _seed(big, 300)
    small_queries, small_records = _export_statements(small)
    big_queries, big_records = _export_statements(big)
    assert (len(small_records), len(big_records)) == (30, 300)
    assert all(r["joint_providers"] == ["Partner"] and r["moc"] for r in big_records)
    assert small_queries == big_queries <= 4  # activities, then joint, supporters, MOC


# --- The learner-count template ---------------------------------------------------------------


def test_learner_count_rows_are_what_still_needs_counts(ctx):
    p = make_provider()
    make_enduring(p, date(2024, 1, 1), date(2026, 12, 31), provider_activity_id="EM-NEEDS")
    done = make_enduring(p, date(2024, 1, 1), date(2026, 12, 31), provider_activity_id="EM-DONE")
    make_snapshot(done, 2025)
    make_activity(p, provider_activity_id="C-HALF", end_date=date(2025, 6, 1), other_learners=None)
    make_activity(p, provider_activity_id="C-FULL", end_date=date(2025, 6, 1))
    make_activity(
        p,
        provider_activity_id="C-SHUT",
        end_date=date(2025, 6, 1),
        physician_learners=None,
        closed_at=utc(2025, 7, 1),
    )
    make_activity(
        p, provider_activity_id="C-FUTURE", end_date=date(2026, 6, 1), physician_learners=None
    )
    make_activity(p, provider_activity_id="C-OLD", end_date=date(2024, 6, 1), other_learners=None)
    # Closed in its last year: only the totals it was closed with can be its count.
    make_enduring(
        p,
        date(2024, 1, 1),
        date(2025, 10, 31),
        provider_activity_id="EM-SHUT",
        physician_learners=70,
        other_learners=4,
        closed_at=utc(2025, 11, 2),
    )
    db.session.commit()
    rows = exports.learner_count_records(p.id, 2025, TODAY)
    assert rows == [
        {
            "provider_activity_id": "EM-NEEDS",
            "title": rows[0]["title"],
            "physician_learners": None,
            "other_learners": None,
            "counts_year": 2025,
        },
        {
            "provider_activity_id": "EM-SHUT",
            "title": rows[1]["title"],
            "physician_learners": 70,
            "other_learners": 4,
            "counts_year": 2025,
        },
        {
            "provider_activity_id": "C-HALF",
            "title": rows[2]["title"],
            "physician_learners": 10,
            "other_learners": None,
            "counts_year": None,
        },
    ]
    result = read_file("counts.xlsx", exports.learner_counts_xlsx(p.id, 2025, TODAY))
    assert result.kind == "counts"
    read = [r.values for r in result.rows]
    assert [(v["provider_activity_id"], v.get("counts_year")) for v in read] == [
        ("EM-NEEDS", 2025),
        ("EM-SHUT", 2025),
        ("C-HALF", None),
    ]


def test_the_sheet_widens_for_many_supporters_even_if_they_arrive_mid_export(ctx, monkeypatch):
    p = make_provider()
    sponsors = [dict(name=f"Sponsor {i}", kind="monetary", amount_cents=100 + i) for i in range(7)]
    make_activity(p, provider_activity_id="MANY", commercial_support=True, supporters=sponsors)
    make_activity(p, provider_activity_id="NONE")
    db.session.commit()
    assert exports.group_widths(p.id, ActivityFilter()) == (7, 0)

    def read(data: bytes) -> list[str]:
        [many] = [
            r for r in read_file("x.xlsx", data).rows if r.values["provider_activity_id"] == "MANY"
        ]
        return [s["name"] for s in many.values["supporters"]]

    expected = [f"Sponsor {i}" for i in range(7)]
    assert read(exports.export_xlsx(p.id, ActivityFilter())) == expected
    # Widths read before a supporter was added: the export starts again, wider.
    monkeypatch.setattr(exports, "group_widths", lambda *args: (1, 0))
    assert read(exports.export_xlsx(p.id, ActivityFilter())) == expected

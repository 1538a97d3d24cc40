"""The dashboard's charts: activities and learners by format and the five steps' progress, drawn
as inline SVG from the year's data, with their numbers in words and in a table, at a fixed
number of queries whatever the provider's size."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from sqlalchemy import event

from pars_app.extensions import db
from pars_app.models import Provider
from tests.factories import (
    login,
    make_activity,
    make_enduring,
    make_provider,
    make_snapshot,
    make_user,
    utc,
)
from tests.web.html import by_id, parse, text

FEB_15 = utc(2026, 2, 15, 18)  # the 2025 cycle is open, its deadline ahead


@pytest.fixture(autouse=True)
def _in_cycle():
    with time_machine.travel(FEB_15, tick=False):
        yield


def _seed(app) -> None:
    """CHART: 2025 has three courses (one without counts), one series, one enduring material
    started in 2025 and two with a December 31, 2025 count. Other years and another provider
    have data that must not show."""
    with app.app_context():
        p = make_provider("CHART")
        make_user("chart@example.org", p)
        for phys, other in ((100, 10), (250, 0), (None, None)):
            make_activity(
                p, format="C", delivery="in_person", physician_learners=phys, other_learners=other
            )
        # A weekly series: 20 physicians at 52 sessions count 1,040 (spec §5).
        make_activity(
            p,
            format="RSS",
            start_date=date(2025, 1, 6),
            end_date=date(2025, 12, 29),
            physician_learners=1040,
            other_learners=12,
        )
        em_2025 = make_enduring(
            p,
            date(2025, 2, 1),
            date(2027, 1, 31),
            physician_learners=None,
            other_learners=None,
        )
        make_snapshot(em_2025, 2025, physicians=300, others=30)
        older = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31))
        make_snapshot(older, 2024, physicians=5, others=5)
        make_snapshot(older, 2025, physicians=40, others=7)
        # Started in 2024: neither an activity nor learners of 2025.
        make_activity(p, format="C", start_date=date(2024, 5, 1), end_date=date(2024, 5, 2))
        other = make_provider("OTHER")
        make_activity(other, format="PI", physician_learners=9_999, other_learners=9_999)
        db.session.commit()


def _table(doc, table_id: str) -> list[list[str]]:
    table = by_id(doc, table_id)
    assert table is not None, f"no #{table_id}"
    return [[text(cell) for cell in tr.xpath("./th|./td")] for tr in table.xpath(".//tbody/tr")]


def _dashboard(client):
    login(client, "chart@example.org")
    return parse(client.get("/?year=2025"))


def test_activities_by_format_counts_the_years_activities_of_this_provider(app, client):
    _seed(app)
    doc = _dashboard(client)
    assert _table(doc, "chart-formats-data") == [
        ["Course", "3"],
        ["Regularly Scheduled Series", "1"],
        ["Enduring Material", "1"],
    ]
    svg = by_id(doc, "chart-formats").xpath(".//*[local-name()='svg']")[0]
    assert text(svg.xpath(".//*[local-name()='title']")[0]) == "Activities by format, 2025"
    assert text(svg.xpath(".//*[local-name()='desc']")[0]) == (
        "Course: 3; Regularly Scheduled Series: 1; Enduring Material: 1."
    )
    # One bar per format, the longest for the most activities, each with its number beside it.
    bars = svg.xpath(".//*[local-name()='rect']")
    widths = [float(b.get("width")) for b in bars]
    assert len(bars) == 3 and widths[0] > widths[1] == widths[2] > 0
    values = [text(t) for t in svg.xpath(".//*[local-name()='text'][@class='chart__value']")]
    assert values == ["3", "1", "1"]


def test_learners_by_format_separate_physicians_and_others(app, client):
    _seed(app)
    doc = _dashboard(client)
    assert _table(doc, "chart-learners-data") == [
        ["Course", "350", "10", "1"],
        ["Regularly Scheduled Series", "1,040", "12", "0"],
        # Enduring materials: the December 31, 2025 cumulative counts of both materials.
        ["Enduring Material", "340", "37", "0"],
    ]
    svg = by_id(doc, "chart-learners").xpath(".//*[local-name()='svg']")[0]
    desc = text(svg.xpath(".//*[local-name()='desc']")[0])
    assert "Regularly Scheduled Series: 1,040 physicians, 12 other learners" in desc
    physicians = svg.xpath(".//*[local-name()='rect'][contains(@class,'chart__bar--physicians')]")
    others = svg.xpath(".//*[local-name()='rect'][contains(@class,'chart__bar--others')]")
    assert len(physicians) == len(others) == 3
    # The series has the most physicians: its bar is the longest.
    widths = [float(r.get("width")) for r in physicians]
    assert widths[1] == max(widths)
    note = text(by_id(doc, "chart-learners").xpath(".//p[contains(@class,'chart__note')]")[0])
    assert "(1 still without counts)" in note
    assert "cumulative counts as of December 31, 2025" in note


def test_progress_shows_each_step_state_and_agrees_with_the_checklist(app, client):
    _seed(app)
    doc = _dashboard(client)
    headline = text(by_id(doc, "steps-title"))  # "1 of 5 steps done"
    done = int(headline.split()[0])
    figure = by_id(doc, "chart-progress")
    assert text(figure.xpath(".//figcaption")[0]) == f"Progress: {done} of 5 steps done"
    desc = text(figure.xpath(".//*[local-name()='desc']")[0])
    assert desc.startswith(f"{done} of 5 steps done. 1 Agreement: ")
    segments = figure.xpath(".//*[local-name()='rect']")
    states = [s.get("class").split("chart__step--")[1] for s in segments]
    for key, state in zip(
        ("agreement", "activities", "enduring", "summary", "contacts"), states, strict=True
    ):
        assert f"step--{state}" in by_id(doc, f"step-{key}").get("class")
    assert states.count("done") == done


def test_charts_are_safe_under_the_csp_and_name_themselves(app, client):
    _seed(app)
    doc = _dashboard(client)
    charts = by_id(doc, "dashboard-charts")
    assert charts.xpath(".//*[@style]") == []  # no inline style: CSP style-src 'self'
    assert charts.xpath(".//script") == []
    for svg in charts.xpath(".//*[local-name()='svg']"):
        assert svg.get("role") == "img"
        for ref in svg.get("aria-labelledby").split():
            assert by_id(doc, ref) is not None and text(by_id(doc, ref))


def test_a_year_without_activities_says_so_instead_of_drawing(app, client):
    with app.app_context():
        p = make_provider("EMPTY")
        make_user("empty@example.org", p)
        db.session.commit()
    login(client, "empty@example.org")
    doc = parse(client.get("/?year=2025"))
    formats = by_id(doc, "chart-formats")
    assert text(formats).endswith("No activities entered for 2025 yet.")
    assert formats.xpath(".//*[local-name()='svg']") == []
    assert "No learners recorded for 2025 yet." in text(by_id(doc, "chart-learners"))
    assert by_id(doc, "chart-progress").xpath(".//*[local-name()='svg']")  # always drawn


def _queries(app, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def test_the_dashboard_costs_the_same_queries_at_any_size(app, client):
    _seed(app)
    login(client, "chart@example.org")
    # Both sides measured as a second view of unchanged data: the first view of a data
    # version counts, the next ones reuse the counts (services/data_version.py).
    client.get("/?year=2025")
    small = _queries(app, client, "/?year=2025")
    with app.app_context():
        p = db.session.scalar(db.select(Provider).filter_by(code="CHART"))
        for i in range(30):
            fmt = ("C", "RSS", "PI", "ISL", "LFT", "MR")[i % 6]
            make_activity(p, format=fmt, start_date=date(2025, 1 + i % 12, 1 + i % 20))
        for i in range(10):
            em = make_enduring(p, date(2025, 1, 1 + i), date(2026, 12, 31))
            make_snapshot(em, 2025, physicians=i, others=i)
        db.session.commit()
    doc = parse(client.get("/?year=2025"))
    assert "Performance Improvement" in text(by_id(doc, "chart-formats-data"))
    assert _queries(app, client, "/?year=2025") == small

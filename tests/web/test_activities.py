"""The activities list (filters, search, sorting, paging, htmx fragment) and the detail page."""

# The en dash of "1–25 of 60" and the non-ASCII digits are what users see and type.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
import time_machine
from sqlalchemy import event

from pars_app.extensions import db
from tests.factories import (
    login,
    make_activity,
    make_enduring,
    make_provider,
    make_snapshot,
    make_user,
    utc,
)
from tests.web.html import by_class, by_id, parse, result_count, rows, spoken_text, text

# Sunday February 15, 2026: everything that ended in 2025 has ended.
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _setup(app, build) -> str:
    """A provider with a signed-in-able user; `build(provider)` adds the activities."""
    with app.app_context():
        p = make_provider("LIST")
        make_user("list@example.org", p)
        build(p)
        # Another provider's rows must never show up, whatever the filter.
        other = make_provider("ELSE")
        make_activity(other, title="Other provider course", provider_activity_id="ZZ-1")
        make_activity(other, title="100% other", provider_activity_id="A_1-OTHER")
        db.session.commit()
    return "list@example.org"


def _get(client, **params):
    resp = client.get("/activities?" + urlencode(params))
    assert resp.status_code == 200, resp.status_code
    return parse(resp)


def _titles(doc) -> list[str]:
    return [text(tr.xpath("./td")[1]) for tr in rows(doc)]


def _ids(doc) -> list[str]:
    return [text(tr.xpath("./td")[0]) for tr in rows(doc)]


def _column(doc, index: int) -> list[str]:
    return [text(tr.xpath("./td")[index]) for tr in rows(doc)]


def _warnings(doc) -> list[str]:
    return [text(el) for el in by_class(by_id(doc, "activities-table"), "flash--warning")]


# --- Filters -----------------------------------------------------------------------------------


def _mixed(p):
    """One activity per status and a few formats, all in 2025 unless said otherwise."""
    make_activity(p, title="Draft journal", complete=False, provider_activity_id="D-1")
    make_activity(
        p,
        title="Active journal",
        provider_activity_id="AC-1",
        start_date=date(2026, 1, 10),
        end_date=date(2026, 6, 30),
    )
    make_activity(p, title="Ready journal", provider_activity_id="R-1")
    make_activity(p, title="Closed journal", provider_activity_id="C-1", closed_at=utc(2026, 1, 5))
    make_activity(
        p,
        title="Manuscript review",
        format="MR",
        provider_activity_id="MR-1",
        start_date=date(2025, 6, 1),
        end_date=date(2025, 6, 30),
    )
    make_enduring(p, date(2025, 2, 1), date(2027, 1, 31), title="Online module")


def test_list_shows_the_providers_activities_only(app, client):
    login(client, _setup(app, _mixed))
    doc = _get(client)
    assert sorted(_titles(doc)) == sorted(
        [
            "Draft journal",
            "Active journal",
            "Ready journal",
            "Closed journal",
            "Manuscript review",
            "Online module",
        ]
    )
    assert result_count(doc) == "1–6 of 6"


FORMAT_CASES = [
    ("JN", {"Draft journal", "Active journal", "Ready journal", "Closed journal"}),
    ("MR", {"Manuscript review"}),
    ("EM", {"Online module"}),
    ("C", set()),
]


def test_format_filter(app, client):
    login(client, _setup(app, _mixed))
    for fmt, expected in FORMAT_CASES:
        doc = _get(client, format=fmt)
        assert set(_titles(doc)) == expected, fmt
        assert set(_column(doc, 2)) <= {fmt}, fmt
        # The filter form shows the format chosen.
        assert by_id(doc, "f-format").xpath("./option[@selected]")[0].get("value") == fmt
    doc = _get(client, format="C")
    assert "No activities match these filters." in text(by_id(doc, "activities-table"))
    assert result_count(doc) == "0 activities"


STATUS_CASES = [
    ("draft", "Draft", {"Draft journal"}),
    ("active", "Active", {"Active journal", "Online module"}),
    ("ready_to_close", "Ready to Close", {"Ready journal", "Manuscript review"}),
    ("closed", "Closed", {"Closed journal"}),
]


def test_status_filter_and_status_column(app, client):
    login(client, _setup(app, _mixed))
    for status, label, expected in STATUS_CASES:
        doc = _get(client, status=status)
        assert set(_titles(doc)) == expected, status
        badges = [spoken_text(by_class(tr, "badge")[0]) for tr in rows(doc)]
        assert set(badges) == {label}, status


def _views(p):
    # Ended in 2025 and open: complete (closable), and one with problems.
    make_activity(p, title="Ended complete", provider_activity_id="V-1")
    make_activity(p, title="Ended with gaps", provider_activity_id="V-2", outcome_competence=False)
    # Ended in 2025, closed.
    make_activity(p, title="Ended closed", provider_activity_id="V-3", closed_at=utc(2026, 1, 2))
    # Running: complete but not ended, so not closable.
    make_activity(
        p,
        title="Still running",
        provider_activity_id="V-4",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 3, 31),
    )
    # Started 2024, ended 2025, open and complete.
    make_activity(
        p,
        title="Year straddler",
        provider_activity_id="V-5",
        start_date=date(2024, 12, 1),
        end_date=date(2025, 1, 15),
    )
    # Enduring: one with its 2025 count, one without.
    counted = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31), title="EM counted")
    make_snapshot(counted, 2025)
    make_enduring(p, date(2025, 3, 1), date(2026, 2, 28), title="EM uncounted")


VIEW_CASES = [
    ("ended_open", {"Ended complete", "Ended with gaps", "Year straddler"}),
    ("needs_counts", {"EM uncounted"}),
    ("problems", {"Ended with gaps"}),
    ("closable", {"Ended complete", "Year straddler"}),  # "ended" views go by the end date
]


def test_named_views_for_2025(app, client):
    login(client, _setup(app, _views))
    for view, expected in VIEW_CASES:
        doc = _get(client, year=2025, view=view)
        assert set(_titles(doc)) == expected, view
        assert result_count(doc) == f"1–{len(expected)} of {len(expected)}", view
        assert "Showing:" in text(by_id(doc, "activities-table")), view


def test_closable_view_places_activities_by_end_date_whatever_by_says(app, client):
    login(client, _setup(app, _views))
    for by in ("start", "end"):
        doc = _get(client, year=2025, view="closable", by=by)
        assert set(_titles(doc)) == {"Ended complete", "Year straddler"}, by


def test_views_without_a_year(app, client):
    login(client, _setup(app, _views))
    # No year: every open activity with problems, and every closable one, whenever it ran.
    assert set(_titles(_get(client, view="problems"))) == {"Ended with gaps"}
    assert set(_titles(_get(client, view="closable"))) == {"Ended complete", "Year straddler"}


def test_year_by_start_and_by_end(app, client):
    login(client, _setup(app, _views))
    by_start = set(_titles(_get(client, year=2025)))
    by_end = set(_titles(_get(client, year=2025, by="end")))
    assert "Year straddler" not in by_start  # started in 2024
    assert "Year straddler" in by_end  # ended in 2025
    assert "Still running" not in by_start | by_end
    assert "EM uncounted" in by_start and "EM uncounted" not in by_end
    assert set(_titles(_get(client, year=2024))) == {"Year straddler", "EM counted"}


# --- Search ------------------------------------------------------------------------------------


def _searchable(p):
    make_activity(p, title="Cardiology Grand Rounds", provider_activity_id="RSS-2025-01")
    make_activity(p, title="Oncology update", provider_activity_id="RSS-2025-02")
    make_activity(p, title="Pediatric cardiology", provider_activity_id="XRSS-2025")
    make_activity(p, title="100% attendance award", provider_activity_id="P-1")
    make_activity(p, title="1000 attendees summit", provider_activity_id="P-2")
    make_activity(p, title="snake_case naming", provider_activity_id="P-3")
    make_activity(p, title="snakeXcase naming", provider_activity_id="P-4")
    make_activity(p, title="Underscore id", provider_activity_id="A_1")
    make_activity(p, title="Letter id", provider_activity_id="AB1")


SEARCH_CASES = [
    ("cardiology", {"Cardiology Grand Rounds", "Pediatric cardiology"}),
    ("CARDIO", {"Cardiology Grand Rounds", "Pediatric cardiology"}),
    ("grand round", {"Cardiology Grand Rounds"}),
    # Provider Activity ID: a prefix, case-insensitive; "XRSS-2025" does not start with it.
    ("rss-2025", {"Cardiology Grand Rounds", "Oncology update"}),
    ("RSS-2025-02", {"Oncology update"}),
    # % and _ are literal characters, not wildcards.
    ("100%", {"100% attendance award"}),
    ("%", {"100% attendance award"}),
    ("snake_case", {"snake_case naming"}),
    ("a_", {"Underscore id"}),
    ("_", {"snake_case naming"}),
    ("no such thing", set()),
]


def test_search_by_title_and_provider_activity_id(app, client):
    login(client, _setup(app, _searchable))
    for q, expected in SEARCH_CASES:
        doc = _get(client, q=q)
        assert set(_titles(doc)) == expected, q
        # The search box keeps what was typed.
        assert by_id(doc, "q").get("value") == q


def test_search_with_backslash_and_quotes_is_literal(app, client):
    def build(p):
        make_activity(p, title=r"Path C:\cme\ 'quoted' \"x\"", provider_activity_id="BS-1")
        make_activity(p, title="Plain", provider_activity_id="BS-2")

    login(client, _setup(app, build))
    assert _titles(_get(client, q=r"C:\cme\ 'quoted'")) == [r"Path C:\cme\ 'quoted' \"x\""]


def test_search_with_a_nul_byte_is_not_a_500(app, client):
    login(client, _setup(app, _searchable))
    resp = client.get("/activities?q=card%00io")
    assert resp.status_code == 200


# --- Sorting and paging ------------------------------------------------------------------------


def _alphabet(p):
    for i, (title, start) in enumerate(
        [("Bravo", 3), ("alpha", 1), ("Delta", 4), ("Charlie", 2)], start=1
    ):
        make_activity(
            p,
            title=title,
            provider_activity_id=f"S-{i}",
            start_date=date(2025, start, 1),
            end_date=date(2025, start, 20),
        )


SORT_CASES = [
    ("start", "asc", ["alpha", "Charlie", "Bravo", "Delta"]),
    ("start", "desc", ["Delta", "Bravo", "Charlie", "alpha"]),
    ("id", "asc", ["Bravo", "alpha", "Delta", "Charlie"]),
    ("id", "desc", ["Charlie", "Delta", "alpha", "Bravo"]),
    ("end", "asc", ["alpha", "Charlie", "Bravo", "Delta"]),
    ("end", "desc", ["Delta", "Bravo", "Charlie", "alpha"]),
]


def test_sorting_both_directions(app, client):
    login(client, _setup(app, _alphabet))
    for sort, direction, expected in SORT_CASES:
        assert _titles(_get(client, sort=sort, dir=direction)) == expected, (sort, direction)
    # Titles: the database's collation decides case order, but desc is asc reversed.
    ascending = _titles(_get(client, sort="title", dir="asc"))
    descending = _titles(_get(client, sort="title", dir="desc"))
    assert sorted(ascending, key=str.lower) == sorted(descending, key=str.lower)
    assert ascending == list(reversed(descending))
    assert ascending[0] != descending[0]


def test_default_order_is_newest_start_first(app, client):
    login(client, _setup(app, _alphabet))
    assert _titles(_get(client)) == ["Delta", "Bravo", "Charlie", "alpha"]


def test_sort_header_link_flips_direction(app, client):
    login(client, _setup(app, _alphabet))
    doc = _get(client, sort="title", dir="asc")
    header = next(th for th in doc.xpath("//thead//th") if "Title" in text(th))
    assert header.get("aria-sort") == "ascending"
    href = header.xpath(".//a")[0].get("href")
    flipped = parse(client.get(href))
    assert _titles(flipped) == list(reversed(_titles(doc)))


def _sixty(p):
    for i in range(60):
        make_activity(
            p,
            title=f"Session {i:02d}",
            provider_activity_id=f"PG-{i:03d}",
            start_date=date(2025, 1 + i // 5, 1 + i % 5),
            end_date=date(2025, 1 + i // 5, 20),
        )


def test_pagination(app, client):
    login(client, _setup(app, _sixty))
    first = _get(client, per_page=25, sort="id", dir="asc")
    assert result_count(first) == "1–25 of 60"
    assert len(rows(first)) == 25
    assert _ids(first)[0] == "PG-000"
    assert "Page 1 of 3" in text(by_class(first, "pagination")[0])

    third = _get(client, per_page=25, page=3, sort="id", dir="asc")
    assert len(rows(third)) == 10
    assert result_count(third) == "51–60 of 60"
    assert _ids(third) == [f"PG-{i:03d}" for i in range(50, 60)]
    nav = by_class(third, "pagination")[0]
    assert "Page 3 of 3" in text(nav)
    assert not nav.xpath(".//a[@rel='next']")
    # "Previous" keeps the filter and the page size.
    prev = parse(client.get(nav.xpath(".//a[@rel='prev']")[0].get("href")))
    assert result_count(prev) == "26–50 of 60"
    assert _ids(prev)[0] == "PG-025"


def test_page_past_the_end_shows_the_last_page(app, client):
    login(client, _setup(app, _sixty))
    doc = _get(client, per_page=25, page=99)
    assert result_count(doc) == "51–60 of 60"
    assert len(rows(doc)) == 10


def test_default_page_size_is_50(app, client):
    login(client, _setup(app, _sixty))
    doc = _get(client)
    assert result_count(doc) == "1–50 of 60"
    assert len(rows(doc)) == 50


# --- Unknown filter values ---------------------------------------------------------------------


UNKNOWN_CASES = [
    ({"format": "XYZ"}, "Ignored format “XYZ”: not a known value."),
    ({"status": "finished"}, "Ignored status “finished”: not a known value."),
    ({"view": "everything"}, "Ignored view “everything”: not a known value."),
    ({"sort": "password_hash"}, "Ignored sort “password_hash”: not a known value."),
    ({"dir": "sideways"}, "Ignored dir “sideways”: not a known value."),
    ({"by": "middle"}, "Ignored by “middle”: not a known value."),
    ({"year": "abcd"}, "Ignored year “abcd”: not a number from 1950 to 2100."),
    ({"year": "1800"}, "Ignored year “1800”: not a number from 1950 to 2100."),
    ({"year": "-2025"}, "Ignored year “-2025”"),
    ({"page": "0"}, "Ignored page “0”"),
    ({"page": "-1"}, "Ignored page “-1”"),
    ({"page": "1e3"}, "Ignored page “1e3”"),
    ({"per_page": "7"}, "Page size must be one of 25, 50, 100, 200."),
    ({"per_page": "99999999999999999999"}, "Ignored per_page"),
    ({"format": "JN' OR 1=1 --"}, "Ignored format"),
    ({"sort": "title; DROP TABLE activities"}, "Ignored sort"),
    ({"q": "x" * 5000}, None),  # long searches are cut, not refused
]


def test_unknown_filter_values_are_ignored_with_a_message(app, client):
    login(client, _setup(app, _mixed))
    for params, message in UNKNOWN_CASES:
        doc = _get(client, **params)
        if message is None:
            continue
        assert any(w.startswith(message) for w in _warnings(doc)), (params, _warnings(doc))
        # The ignored value does not filter anything out.
        assert result_count(doc) == "1–6 of 6", params


def test_several_unknown_values_each_get_a_message(app, client):
    login(client, _setup(app, _mixed))
    doc = _get(client, format="Q", status="Q", view="Q", page="x", format_extra="ignored")
    assert len(_warnings(doc)) == 4


def test_repeated_and_empty_parameters_are_harmless(app, client):
    login(client, _setup(app, _mixed))
    resp = client.get("/activities?format=&status=&view=&year=&page=&q=&format=JN")
    assert resp.status_code == 200
    assert result_count(parse(resp)) == "1–6 of 6"


def test_non_ascii_digits_are_ignored_not_a_500(app, client):
    # str.isdigit() is true for these, but int() rejects "²": it once crashed the list.
    login(client, _setup(app, _mixed))
    for param in ("page", "year", "per_page"):
        for value in ("²", "٢٠٢٥", "１"):
            resp = client.get(f"/activities?{param}={value}")
            assert resp.status_code == 200, (param, value)
            doc = parse(resp)
            assert any(w.startswith(f"Ignored {param}") for w in _warnings(doc)), (param, value)
            assert result_count(doc) == "1–6 of 6"


# --- htmx --------------------------------------------------------------------------------------


def test_htmx_request_gets_only_the_table_fragment(app, client):
    login(client, _setup(app, _mixed))
    resp = client.get("/activities?format=JN", headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert "HX-Request" in resp.headers.get("Vary", "")
    body = resp.get_data(as_text=True)
    assert "<html" not in body.lower() and "<body" not in body.lower()
    fragment = parse(body)
    assert fragment.tag == "section" and fragment.get("id") == "activities-table"
    assert len(fragment.xpath(".//tbody/tr")) == 4


def test_full_page_also_varies_on_hx_request(app, client):
    login(client, _setup(app, _mixed))
    resp = client.get("/activities")
    assert "HX-Request" in resp.headers.get("Vary", "")
    doc = parse(resp)
    assert doc.tag == "html"
    assert by_id(doc, "activity-filters") is not None
    assert by_id(doc, "activities-table") is not None


def test_htmx_history_restore_gets_the_full_page(app, client):
    login(client, _setup(app, _mixed))
    resp = client.get(
        "/activities?format=JN",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert resp.status_code == 200
    assert parse(resp).tag == "html"


# --- Detail page -------------------------------------------------------------------------------


def _details(p):
    make_activity(
        p,
        title="Gaps to fill",
        provider_activity_id="DT-1",
        outcome_competence=False,
        physician_learners=None,
    )
    make_activity(p, title="Bare draft", provider_activity_id="DT-2", complete=False)
    make_activity(p, title="All filled", provider_activity_id="DT-3")
    make_activity(
        p, title="Done and closed", provider_activity_id="DT-4", closed_at=utc(2026, 1, 9)
    )
    make_activity(
        p,
        title="Not over yet",
        provider_activity_id="DT-5",
        start_date=date(2026, 2, 1),
        end_date=date(2026, 2, 28),
    )


def _detail_for(client, title: str):
    doc = _get(client, q=title)
    links = rows(doc)[0].xpath("./td[1]/a")
    resp = client.get(links[0].get("href"))
    assert resp.status_code == 200
    return parse(resp)


def _missing(doc) -> list[str]:
    box = by_id(doc, "close-readiness")
    return [text(li) for li in box.xpath(".//ul/li")] if box is not None else []


def test_detail_of_an_ended_incomplete_activity_lists_what_is_missing(app, client):
    login(client, _setup(app, _details))
    doc = _detail_for(client, "Gaps to fill")
    assert text(doc.xpath("//h1")[0]) == "Gaps to fill"
    assert spoken_text(by_class(doc, "badge")[0]) == "Ready to Close"
    box = by_id(doc, "close-readiness")
    assert text(box.xpath(".//h2")[0]) == "What is missing to close"
    assert _missing(doc) == [
        "Choose at least one outcome measured: learner competence, learner performance, "
        "patient health, community/population health.",
        "Enter the number of physician learners (0 if none).",
    ]


def test_detail_of_a_draft_names_every_missing_field(app, client):
    login(client, _setup(app, _details))
    doc = _detail_for(client, "Bare draft")
    assert spoken_text(by_class(doc, "badge")[0]) == "Draft"
    missing = _missing(doc)
    for expected in (
        "Enter the AMA PRA Category 1 Credits™ (more than 0).",
        "Enter a description of the content.",
        "Choose the providership: Direct or Joint.",
        "Answer whether the activity is listed in CME Passport (Yes or No).",
        "Answer whether the activity received commercial support (Yes or No).",
        "Enter the number of physician learners (0 if none).",
        "Enter the number of other learners (0 if none).",
    ):
        assert expected in missing
    assert len(missing) == 8  # the seven above and the outcomes


def test_detail_of_a_complete_ended_activity_is_ready(app, client):
    login(client, _setup(app, _details))
    doc = _detail_for(client, "All filled")
    assert spoken_text(by_class(doc, "badge")[0]) == "Ready to Close"
    box = by_id(doc, "close-readiness")
    assert text(box.xpath(".//h2")[0]) == "Ready to close"
    assert "Every field needed to close is complete." in text(box)
    assert _missing(doc) == []


def test_detail_of_a_running_activity_says_when_it_can_close(app, client):
    login(client, _setup(app, _details))
    doc = _detail_for(client, "Not over yet")
    assert spoken_text(by_class(doc, "badge")[0]) == "Active"
    assert "it can be closed once it ends on 02/28/2026" in text(by_id(doc, "close-readiness"))


def test_detail_of_a_closed_activity(app, client):
    login(client, _setup(app, _details))
    doc = _detail_for(client, "Done and closed")
    assert spoken_text(by_class(doc, "badge")[0]) == "Closed"
    assert by_id(doc, "close-readiness") is None
    assert text(by_class(doc, "readonly-banner")[0]).startswith("Closed")


def test_detail_of_a_missing_activity_is_404(app, client):
    login(client, _setup(app, _details))
    assert client.get("/activities/999999").status_code == 404


def test_enduring_detail_shows_its_yearly_counts(app, client):
    def build(p):
        em = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31), title="Counted module")
        make_snapshot(em, 2024, physicians=1200, others=30)
        make_snapshot(em, 2025, physicians=2500, others=45)

    login(client, _setup(app, build))
    doc = _detail_for(client, "Counted module")
    table_rows = doc.xpath("//section[@aria-labelledby='snap-title']//tbody/tr")
    assert [[text(td) for td in tr.xpath("./td")][:3] for tr in table_rows] == [
        ["2024", "1,200", "30"],
        ["2025", "2,500", "45"],
    ]


# --- Query count -------------------------------------------------------------------------------


ALL_FILTERS = dict(
    format="JN",
    status="ready_to_close",
    view="closable",
    year=2025,
    by="end",
    q="course",
    sort="title",
    dir="asc",
)


def _statements(app, client, url: str) -> list[str]:
    with app.app_context():
        engine = db.engine  # shared by every app context of this app
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        resp = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert resp.status_code == 200
    return seen


def _add_courses(app, provider_code: str, start: int, count: int) -> None:
    with app.app_context():
        from pars_app.models import Provider

        p = db.session.scalar(db.select(Provider).where(Provider.code == provider_code))
        for i in range(start, start + count):
            make_activity(
                p,
                title=f"Course {i:03d}",
                provider_activity_id=f"Q-{i:03d}",
                start_date=date(2025, 1 + i % 12, 1),
                end_date=date(2025, 1 + i % 12, 20),
                # Children that would each cost a query if the list loaded them lazily.
                joint_providers=["Partner society"],
                providership="joint",
            )
        db.session.commit()


@pytest.mark.parametrize("filters", [{}, ALL_FILTERS], ids=["no filters", "all filters"])
def test_list_query_count_does_not_grow_with_rows(app, client, filters):
    login(client, _setup(app, lambda p: None))
    _add_courses(app, "LIST", 0, 5)
    url = "/activities?" + urlencode(filters)
    _statements(app, client, url)  # warm-up: first connection, dialect set-up
    small = _statements(app, client, url)
    assert len(rows(parse(client.get(url)))) == 5

    _add_courses(app, "LIST", 5, 115)
    large = _statements(app, client, url)
    assert len(rows(parse(client.get(url)))) == 50  # one full page

    assert len(large) == len(small), "\n\n".join(large)
    assert len(small) <= 6, "\n\n".join(small)  # 4 when this was written

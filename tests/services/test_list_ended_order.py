"""The "ended" views list by end date unless another sort is asked for (docs/performance.md:
that is their index's order, so a page never sorts every match)."""

from datetime import date

import pytest

from pars_app.services.activity_list import (
    ActivityFilter,
    default_sort,
    list_activities,
    parse_filter,
)
from tests.factories import make_activity, make_provider

TODAY = date(2026, 2, 16)


@pytest.mark.parametrize(
    ("args", "sort"),
    [
        ({"view": "ended_open"}, "end"),
        ({"view": "closable"}, "end"),
        ({"view": "problems"}, "start"),
        ({}, "start"),
        ({"view": "ended_open", "sort": "start"}, "start"),
        ({"view": "ended_open", "sort": "nonsense"}, "end"),
    ],
)
def test_default_sort_follows_the_view(args, sort):
    assert parse_filter(args).sort == sort


def test_canonical_arguments_leave_the_views_own_sort_out():
    ended = parse_filter({"view": "ended_open", "year": "2025"})
    assert ended.args() == {"view": "ended_open", "year": 2025}
    assert ended.args(sort="start") == {"view": "ended_open", "year": 2025, "sort": "start"}
    assert ended.args(view="") == {"year": 2025, "sort": "end"}  # the sort no longer implied
    assert ActivityFilter().args() == {} and default_sort("") == "start"


def test_ended_open_lists_by_end_date_newest_first(ctx):
    p = make_provider()
    # Start order is the reverse of end order, so the two sorts cannot agree by accident.
    titles = {
        "ends last": (date(2025, 1, 5), date(2025, 12, 20)),
        "ends in June": (date(2025, 3, 1), date(2025, 6, 30)),
        "ends first": (date(2025, 5, 1), date(2025, 5, 2)),
    }
    for title, (start, end) in titles.items():
        make_activity(p, title=title, format="PI", start_date=start, end_date=end)
    page = list_activities(p.id, parse_filter({"view": "ended_open", "year": "2025"}), TODAY)
    assert [a.title for a in page.rows] == ["ends last", "ends in June", "ends first"]
    by_start = parse_filter({"view": "ended_open", "year": "2025", "sort": "start"})
    assert [a.title for a in list_activities(p.id, by_start, TODAY).rows] == [
        "ends first",
        "ends in June",
        "ends last",
    ]

"""Activity formats: codes, labels, legacy codes, spans and what each format needs."""

import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.formats import (
    DELIVERY_LABELS,
    FORMAT_CODES,
    FORMATS,
    LEGACY_FORMAT_CODES,
    delivery_problem,
    max_end_date,
    needs_delivery,
    needs_location,
    normalize_format,
)


def test_formats_follow_the_pars_order_and_labels():
    assert tuple(FORMATS) == FORMAT_CODES
    assert [info.label for info in FORMATS.values()] == [
        "Course",
        "Regularly Scheduled Series",
        "Enduring Material",
        "Journal-based CME",
        "Manuscript Review",
        "Test Item Writing",
        "Committee Learning",
        "Performance Improvement",
        "Internet Searching and Learning",
        "Learning from Teaching",
    ]


def test_deliveries_and_spans_per_format():
    live = ("in_person", "live_stream", "hybrid")
    assert FORMATS["C"].deliveries == live
    assert FORMATS["RSS"].deliveries == live
    assert FORMATS["EM"].deliveries == ("internet", "print")
    assert all(FORMATS[c].deliveries == () for c in FORMAT_CODES if c not in ("C", "RSS", "EM"))
    assert FORMATS["EM"].max_span_years == 3
    assert all(FORMATS[c].max_span_years == 1 for c in FORMAT_CODES if c != "EM")
    every_delivery = {d for info in FORMATS.values() for d in info.deliveries}
    assert set(DELIVERY_LABELS) == every_delivery
    assert DELIVERY_LABELS["print"] == "Print or other media"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C", ("C", None)),
        ("  rss ", ("RSS", None)),
        ("em", ("EM", None)),
        ("Course", ("C", None)),
        ("regularly  scheduled series", ("RSS", None)),
        ("ENDURING MATERIAL", ("EM", None)),
        ("Journal-based CME", ("JN", None)),
        ("journal based cme", ("JN", None)),
        ("learning from teaching", ("LFT", None)),
        ("IL", ("C", "live_stream")),
        ("iem", ("EM", "internet")),
        ("Internet Live Course", ("C", "live_stream")),
    ],
)
def test_normalize_format(raw, expected):
    assert normalize_format(raw) == expected


def test_legacy_codes_map_to_current_format_and_delivery():
    assert LEGACY_FORMAT_CODES == {"IL": ("C", "live_stream"), "IEM": ("EM", "internet")}


@pytest.mark.parametrize("raw", ["X", "Courses", "webinar", "C RSS"])
def test_normalize_format_names_the_valid_codes(raw):
    with pytest.raises(ValueError, match=r"is not an activity format\. Use one of: C, RSS, EM"):
        normalize_format(raw)


@pytest.mark.parametrize("raw", ["", "  ", None])
def test_normalize_format_blank(raw):
    with pytest.raises(ValueError, match=re.escape("Enter an activity format.")):
        normalize_format(raw)


@pytest.mark.parametrize(
    ("fmt", "start", "end"),
    [
        ("C", date(2025, 1, 1), date(2025, 12, 31)),
        ("C", date(2025, 3, 15), date(2026, 3, 14)),
        ("RSS", date(2025, 7, 1), date(2026, 6, 30)),
        ("EM", date(2025, 1, 1), date(2027, 12, 31)),
        ("EM", date(2024, 3, 1), date(2027, 2, 28)),
        # Feb 29: the anniversary is clamped to Feb 28 (as .NET and Java do), then - 1 day.
        ("C", date(2024, 2, 29), date(2025, 2, 27)),
        ("EM", date(2024, 2, 29), date(2027, 2, 27)),
        ("C", date(2024, 2, 28), date(2025, 2, 27)),
        ("C", date(2024, 3, 1), date(2025, 2, 28)),
        ("C", date(2023, 3, 1), date(2024, 2, 29)),
    ],
)
def test_max_end_date(fmt, start, end):
    assert max_end_date(fmt, start) == end


def test_max_end_date_unknown_format():
    with pytest.raises(ValueError, match="not an activity format"):
        max_end_date("XYZ", date(2025, 1, 1))


@given(
    st.sampled_from(FORMAT_CODES),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)),
)
def test_max_end_date_is_the_day_before_the_anniversary(fmt, start):
    years = FORMATS[fmt].max_span_years
    end = max_end_date(fmt, start)
    day = 28 if (start.month, start.day) == (2, 29) else start.day
    anniversary = date(start.year + years, start.month, day)
    assert start <= end
    assert end + timedelta(days=1) == anniversary
    assert (end - start).days < 366 * years


@pytest.mark.parametrize(
    ("fmt", "delivery", "expected"),
    [
        ("C", "in_person", True),
        ("C", "hybrid", True),
        ("C", "live_stream", False),
        ("C", None, False),
        ("RSS", None, True),
        ("RSS", "in_person", True),
        ("RSS", "live_stream", False),
        ("EM", None, False),
        ("EM", "internet", False),
        ("JN", None, False),
        ("LFT", None, False),
        (None, "in_person", False),
    ],
)
def test_needs_location(fmt, delivery, expected):
    assert needs_location(fmt, delivery) is expected


def test_needs_delivery_only_for_course_and_enduring():
    assert [c for c in FORMAT_CODES if needs_delivery(c)] == ["C", "EM"]
    assert needs_delivery(None) is False


def test_delivery_problem_messages():
    assert delivery_problem("C", "hybrid") is None
    assert delivery_problem("EM", "print") is None
    assert delivery_problem("C", "internet") == (
        'Choose a delivery method for a course: "In person", "Live-streamed" or "Hybrid".'
    )
    assert delivery_problem("EM", "in_person") == (
        'Choose a delivery method for an enduring material: "Internet" or "Print or other media".'
    )
    assert delivery_problem("JN", "internet") == (
        "Journal-based CME has no delivery method: leave it blank."
    )

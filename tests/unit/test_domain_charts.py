"""Chart geometry: round scales, proportional bars that stay inside the chart, readable numbers,
a text alternative that says every value, and the five steps' progress segments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.charts import (
    MIN_VISIBLE,
    WIDTH,
    Series,
    bar_chart,
    bar_length,
    nice_scale,
    step_progress,
)

ACTIVITIES = Series("activities", "Activities")
PHYSICIANS = Series("physicians", "Physicians")
OTHERS = Series("others", "Other learners")


@pytest.mark.parametrize(
    ("largest", "expected"),
    [
        (0, (1, 1)),
        (1, (1, 1)),
        (4, (4, 1)),
        (5, (6, 2)),
        (7, (8, 2)),
        (14, (15, 5)),
        (40, (40, 10)),
        (41, (60, 20)),
        (1_040, (1_500, 500)),
        (7_200, (8_000, 2_000)),
        (123_456, (150_000, 50_000)),
    ],
)
def test_scale_is_a_round_number_at_or_above_the_largest_value(largest, expected):
    assert nice_scale(largest) == expected


@given(st.integers(min_value=1, max_value=10**12))
def test_scale_covers_the_largest_value_in_at_most_four_whole_steps(largest):
    top, step = nice_scale(largest)
    assert top >= largest
    assert top % step == 0
    # A step is 1, 2 or 5 times a power of ten: ticks read 0, 5,000, 10,000 …
    digits = str(step).rstrip("0")
    assert digits in ("1", "2", "5")
    # And it is the finest such step that still fits in four: the next finer would not.
    if step > 1:
        finer = step * 2 // 5 if digits == "5" else step // 2
        assert finer * 4 < largest
    # The longest bar fills more than half the plot: the scale is not needlessly large.
    assert top < 2 * largest


def test_bars_are_proportional_and_zero_draws_nothing():
    chart = bar_chart(
        "Activities by format, 2025",
        [ACTIVITIES],
        [("Course", (40,)), ("RSS", (10,)), ("Journal", (0,))],
    )
    course, rss, journal = (c.bars[0] for c in chart.categories)
    assert chart.scale_max == 40
    assert course.width == chart.plot_width  # the largest value fills the plot
    assert rss.width == pytest.approx(chart.plot_width / 4, abs=0.1)
    assert journal.width == 0
    assert [t.label for t in chart.ticks] == ["0", "10", "20", "30", "40"]
    assert chart.ticks[-1].x == pytest.approx(chart.plot_x + chart.plot_width)


def test_a_tiny_value_beside_a_huge_one_is_still_visible():
    assert bar_length(1, 1_000_000, 300) == MIN_VISIBLE
    assert bar_length(0, 1_000_000, 300) == 0


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=10))
def test_every_bar_and_its_number_stay_inside_the_chart(values):
    rows = [(f"Format {i}", v) for i, v in enumerate(values)]
    chart = bar_chart("Learners", [PHYSICIANS, OTHERS], rows, unit=("learner", "learners"))
    assert chart.width == WIDTH
    tops = []
    for category in chart.categories:
        assert len(category.bars) == 2
        for bar in category.bars:
            assert bar.x == chart.plot_x
            assert 0 <= bar.width <= chart.plot_width
            assert bar.label_x <= chart.plot_x + chart.plot_width + 4
            assert chart.plot_top <= bar.y and bar.y + bar.height <= chart.plot_bottom
            tops.append(bar.y)
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # no two bars overlap
    assert chart.height > chart.plot_bottom  # room for the tick labels


def test_numbers_are_written_with_thousands_separators():
    chart = bar_chart(
        "Learners", [PHYSICIANS, OTHERS], [("Regularly Scheduled Series", (1040, 12))]
    )
    physicians, others = chart.categories[0].bars
    assert (physicians.label, others.label) == ("1,040", "12")
    assert physicians.series == PHYSICIANS and others.series == OTHERS


def test_the_description_says_every_value_in_words():
    one = bar_chart("A", [ACTIVITIES], [("Course", (1234,)), ("Regularly Scheduled Series", (3,))])
    assert one.description == "Course: 1,234; Regularly Scheduled Series: 3."
    two = bar_chart(
        "L", [PHYSICIANS, OTHERS], [("Course", (812, 40))], unit=("learner", "learners")
    )
    assert two.description == "Course: 812 physicians, 40 other learners."
    empty = bar_chart("A", [ACTIVITIES], [])
    assert empty.empty and empty.description == "No activities to show."


def test_a_value_per_series_is_required():
    with pytest.raises(ValueError):
        bar_chart("L", [PHYSICIANS, OTHERS], [("Course", (812,))])


def test_step_progress_has_five_equal_segments_in_order():
    p = step_progress(
        [
            (1, "Agreement", "done"),
            (2, "Activities", "todo"),
            (3, "Enduring counts", "done"),
            (4, "Program Summary", "not_open"),
            (5, "Contacts", "not_open"),
        ],
        "Progress of the five steps, 2025",
    )
    assert p.done == 2 and p.total == 5
    widths = {s.width for s in p.segments}
    assert len(widths) == 1
    xs = [s.x for s in p.segments]
    assert xs == sorted(xs) and xs[0] == 0
    last = p.segments[-1]
    assert last.x + last.width == pytest.approx(p.width, abs=0.2)
    for a, b in zip(p.segments, p.segments[1:], strict=False):
        assert a.x + a.width < b.x  # a gap between segments
    assert [s.state_label for s in p.segments] == [
        "Done",
        "To do",
        "Done",
        "Not open yet",
        "Not open yet",
    ]
    assert p.description == (
        "2 of 5 steps done. 1 Agreement: done; 2 Activities: to do; 3 Enduring counts: done; "
        "4 Program Summary: not open yet; 5 Contacts: not open yet."
    )

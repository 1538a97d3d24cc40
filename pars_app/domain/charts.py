"""Geometry of the dashboard charts: scales, bar lengths, label positions and text alternatives.

Pure: numbers and words in, frozen dataclasses out. The template only draws what is computed
here, in SVG user units of a fixed viewBox (the SVG scales to its box on screen and on paper).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

WIDTH = 640  # viewBox width of every chart
LABEL_WIDTH = 220  # category labels, right-aligned against the bars
VALUE_WIDTH = 75  # room after the longest bar for its number
ROW_GAP = 10  # between two categories
BAR_HEIGHT = 16
AXIS_HEIGHT = 22  # tick labels under the bars
TOP = 6
MIN_VISIBLE = 1.0  # a non-zero value never draws as nothing, however large the others


@dataclass(frozen=True)
class Series:
    """One kind of bar in a chart (e.g. physicians), with its own CSS modifier."""

    key: str
    label: str


@dataclass(frozen=True)
class Tick:
    value: int
    x: float
    label: str


@dataclass(frozen=True)
class BarGeometry:
    series: Series
    value: int
    x: float
    y: float
    width: float
    height: float
    label: str  # the number as shown ("1,040")
    label_x: float  # where the number is written, just past the bar's end
    label_y: float  # text baseline


@dataclass(frozen=True)
class Category:
    label: str
    label_y: float  # text baseline of the category label
    bars: tuple[BarGeometry, ...]


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one group per category and one bar per series in each group."""

    title: str
    description: str  # the whole chart in one sentence: what <desc> and screen readers read
    series: tuple[Series, ...]
    categories: tuple[Category, ...]
    ticks: tuple[Tick, ...]
    scale_max: int
    plot_x: float
    plot_width: float
    plot_top: float
    plot_bottom: float
    width: float
    height: float

    @property
    def empty(self) -> bool:
        return not self.categories


def nice_scale(largest: int, max_ticks: int = 4) -> tuple[int, int]:
    """(axis maximum, tick step): the step is 1, 2 or 5 times 10^k, at most `max_ticks` steps.

    The maximum is the first multiple of the step at or above `largest`, so the longest bar
    fills most of the plot and every tick is a round whole number.
    """
    if largest <= 0:
        return 1, 1
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if step * max_ticks >= largest:
                return ceil(largest / step) * step, step
        magnitude *= 10


def bar_length(value: int, scale_max: int, plot_width: float) -> float:
    """Length of a bar for `value`, proportional, rounded to 0.1 unit; never invisible if > 0."""
    if value <= 0 or scale_max <= 0:
        return 0.0
    length = round(value / scale_max * plot_width, 1)
    return max(length, MIN_VISIBLE)


def bar_chart(
    title: str,
    series: Sequence[Series],
    rows: Sequence[tuple[str, Sequence[int]]],
    unit: tuple[str, str] = ("activity", "activities"),
) -> BarChart:
    """Grouped horizontal bars: `rows` are (category label, one value per series)."""
    series = tuple(series)
    largest = max((v for _, values in rows for v in values), default=0)
    scale_max, step = nice_scale(largest)
    plot_x = float(LABEL_WIDTH)
    plot_width = float(WIDTH - LABEL_WIDTH - VALUE_WIDTH)
    group_height = BAR_HEIGHT * len(series)
    categories = []
    y = float(TOP)
    for label, values in rows:
        bars = tuple(
            _bar(s, v, scale_max, plot_x, plot_width, y + i * BAR_HEIGHT)
            for i, (s, v) in enumerate(zip(series, values, strict=True))
        )
        categories.append(Category(label, round(y + group_height / 2 + 4, 1), bars))
        y += group_height + ROW_GAP
    plot_bottom = y - ROW_GAP if rows else y
    ticks = tuple(
        Tick(v, round(plot_x + v / scale_max * plot_width, 1), f"{v:,}")
        for v in range(0, scale_max + 1, step)
    )
    return BarChart(
        title=title,
        description=describe(series, rows, unit),
        series=series,
        categories=tuple(categories),
        ticks=ticks,
        scale_max=scale_max,
        plot_x=plot_x,
        plot_width=plot_width,
        plot_top=float(TOP),
        plot_bottom=plot_bottom,
        width=float(WIDTH),
        height=plot_bottom + AXIS_HEIGHT,
    )


def _bar(
    s: Series, value: int, scale_max: int, x: float, plot_width: float, y: float
) -> BarGeometry:
    length = bar_length(value, scale_max, plot_width)
    return BarGeometry(
        series=s,
        value=value,
        x=x,
        y=y,
        width=length,
        height=BAR_HEIGHT - 3,  # a hairline of space between the bars of one group
        label=f"{value:,}",
        label_x=round(x + length + 4, 1),
        label_y=round(y + BAR_HEIGHT - 5, 1),
    )


def describe(
    series: Sequence[Series], rows: Sequence[tuple[str, Sequence[int]]], unit: tuple[str, str]
) -> str:
    """'Course: 48; Regularly Scheduled Series: 12.' or, with several series,
    'Course: 812 physicians, 40 other learners; …'. Empty rows say there is nothing."""
    if not rows:
        return f"No {unit[1]} to show."
    if len(series) == 1:
        parts = [f"{label}: {values[0]:,}" for label, values in rows]
    else:
        parts = [
            f"{label}: "
            + ", ".join(f"{v:,} {s.label.lower()}" for s, v in zip(series, values, strict=True))
            for label, values in rows
        ]
    return "; ".join(parts) + "."


# --- Progress of the five steps -------------------------------------------------------------

STEP_GAP = 6
STEP_HEIGHT = 26
STEP_STATE_WORDS = {"done": "Done", "todo": "To do", "not_open": "Not open yet"}


@dataclass(frozen=True)
class StepSegment:
    number: int
    name: str
    state: str  # "done", "todo" or "not_open" (a CSS modifier too)
    state_label: str
    x: float
    width: float
    center_x: float


@dataclass(frozen=True)
class StepProgress:
    title: str
    description: str
    segments: tuple[StepSegment, ...]
    done: int
    total: int
    y: float
    height: float  # of each segment
    width: float
    view_height: float


def step_progress(steps: Sequence[tuple[int, str, str]], title: str) -> StepProgress:
    """Equal segments, one per step (number, short name, state), left to right."""
    n = len(steps)
    seg_width = (WIDTH - STEP_GAP * (n - 1)) / n if n else 0.0
    segments = tuple(
        StepSegment(
            number=number,
            name=name,
            state=state,
            state_label=STEP_STATE_WORDS.get(state, state),
            x=round(i * (seg_width + STEP_GAP), 1),
            width=round(seg_width, 1),
            center_x=round(i * (seg_width + STEP_GAP) + seg_width / 2, 1),
        )
        for i, (number, name, state) in enumerate(steps)
    )
    done = sum(s.state == "done" for s in segments)
    parts = [f"{s.number} {s.name}: {s.state_label.lower()}" for s in segments]
    description = f"{done} of {n} steps done. " + "; ".join(parts) + "."
    return StepProgress(
        title=title,
        description=description,
        segments=segments,
        done=done,
        total=n,
        y=float(TOP),
        height=float(STEP_HEIGHT),
        width=float(WIDTH),
        view_height=float(TOP + STEP_HEIGHT + 40),  # two text lines under each segment
    )

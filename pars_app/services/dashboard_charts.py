"""The numbers behind the dashboard charts: two GROUP BY queries for a provider's year, whatever
its size, then `domain.charts` lays them out. The steps' progress comes from the checklist the
dashboard has already computed, so it costs no query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select

from ..domain import charts
from ..domain import checklist as steps
from ..domain.formats import FORMAT_CODES, FORMATS
from ..extensions import db
from ..models import Activity, LearnerSnapshot
from . import data_version

ACTIVITIES = charts.Series("activities", "Activities")
PHYSICIANS = charts.Series("physicians", "Physicians")
OTHERS = charts.Series("others", "Other learners")
# Short names that fit under a fifth of the chart; the checklist beside it has the long ones.
STEP_NAMES = {
    "agreement": "Agreement",
    "activities": "Activities",
    "enduring": "Enduring counts",
    "summary": "Program Summary",
    "contacts": "Contacts",
}


@dataclass(frozen=True)
class FormatFigures:
    """One format's row in the data tables under the charts."""

    code: str
    label: str
    activities: int  # started in the year
    physicians: int
    others: int
    counted: int  # activities (or, for enduring materials, snapshots) the learners come from
    uncounted: int  # activities started in the year with no learner counts yet


@dataclass(frozen=True)
class DashboardCharts:
    year: int
    formats: tuple[FormatFigures, ...]
    by_format: charts.BarChart
    learners: charts.BarChart
    progress: charts.StepProgress


def _activity_rows(provider_id: int, year: int) -> dict[str, tuple[int, int, int, int]]:
    """format → (activities started in the year, with counts, physicians, others), summed once
    per data version of the provider (services/data_version.py)."""
    return data_version.cached(
        provider_id, ("chart_rows", year), lambda: _sum_activity_rows(provider_id, year)
    )


def _sum_activity_rows(provider_id: int, year: int) -> dict[str, tuple[int, int, int, int]]:
    has_counts = and_(
        Activity.physician_learners.is_not(None), Activity.other_learners.is_not(None)
    )
    rows = db.session.execute(
        select(
            Activity.format,
            func.count(),
            func.coalesce(func.sum(case((has_counts, 1), else_=0)), 0),
            func.coalesce(func.sum(Activity.physician_learners), 0),
            func.coalesce(func.sum(Activity.other_learners), 0),
        )
        .where(
            Activity.provider_id == provider_id,
            # Naming the formats lets the (provider, format, start) index be probed per format.
            Activity.format.in_(FORMAT_CODES),
            Activity.start_date.between(date(year, 1, 1), date(year, 12, 31)),
        )
        .group_by(Activity.format)
    ).all()
    # PostgreSQL's SUM of a bigint is a numeric (Decimal): the figures are whole counts.
    return {
        fmt: (int(n), int(counted), int(phys), int(other)) for fmt, n, counted, phys, other in rows
    }


def _enduring_totals(provider_id: int, year: int) -> tuple[int, int, int]:
    """(snapshots, physicians, others) of the year's December 31 cumulative counts."""
    return data_version.cached(
        provider_id, ("enduring_totals", year), lambda: _sum_enduring(provider_id, year)
    )


def _sum_enduring(provider_id: int, year: int) -> tuple[int, int, int]:
    n, phys, other = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(LearnerSnapshot.physicians), 0),
            func.coalesce(func.sum(LearnerSnapshot.others), 0),
        ).where(LearnerSnapshot.provider_id == provider_id, LearnerSnapshot.year == year)
    ).one()
    return int(n), int(phys), int(other)


def format_figures(
    provider_id: int, year: int, enduring_missing: int = 0
) -> tuple[FormatFigures, ...]:
    """Each format with activities that started in `year` (or, for enduring materials, a
    December 31 count for it), in PARS order.

    Learners are those recorded on the year's activities, except enduring materials: theirs are
    the cumulative counts as of December 31 of `year` (spec §6), what step 3 records; the
    materials still missing that count (`enduring_missing`, from the checklist) are uncounted.
    """
    by_format = _activity_rows(provider_id, year)
    snapshots, em_phys, em_other = _enduring_totals(provider_id, year)
    out = []
    for code in FORMAT_CODES:
        n, counted, phys, other = by_format.get(code, (0, 0, 0, 0))
        if code == "EM":
            if not n and not snapshots and not enduring_missing:
                continue
            phys, other, counted, uncounted = em_phys, em_other, snapshots, enduring_missing
        elif not n:
            continue
        else:
            uncounted = n - counted
        out.append(FormatFigures(code, FORMATS[code].label, n, phys, other, counted, uncounted))
    return tuple(out)


def charts_for(provider_id: int, year: int, checklist: steps.Checklist) -> DashboardCharts:
    """The three dashboard charts of `year`: activities and learners by format, step progress."""
    enduring = next((s for s in checklist.steps if s.key == "enduring"), None)
    figures = format_figures(provider_id, year, enduring.left if enduring else 0)
    by_format = charts.bar_chart(
        f"Activities by format, {year}",
        [ACTIVITIES],
        [(f.label, (f.activities,)) for f in figures if f.activities],
    )
    learners = charts.bar_chart(
        f"Learners by format, {year}",
        [PHYSICIANS, OTHERS],
        [(f.label, (f.physicians, f.others)) for f in figures],
        unit=("learner", "learners"),
    )
    progress = charts.step_progress(
        [(s.number, STEP_NAMES.get(s.key, s.title), s.state.value) for s in checklist.steps],
        f"Progress of the five steps, {year}",
    )
    return DashboardCharts(year, figures, by_format, learners, progress)

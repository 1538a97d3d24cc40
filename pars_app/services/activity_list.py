"""The activities list: filters parsed from the query string, one count query and one page
query whatever the size of the provider's data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import Select, and_, asc, desc, exists, func, or_, select
from sqlalchemy.orm import raiseload

from ..domain.formats import FORMATS
from ..domain.status import STATUS_LABELS, Status, status_from_level
from ..extensions import db
from ..models import Activity, LearnerSnapshot
from .activities import status_expr
from .paging import Paged, clamp_page

PAGE_SIZES = (25, 50, 100, 200)
# Named views the dashboard links to; each is a filter a coordinator would otherwise build.
VIEWS = {
    "ended_open": "Ended in the year and not closed",
    "needs_counts": "Enduring materials needing December 31 counts",
    "problems": "Has problems to fix before closing",
    "closable": "Ready to close now",
}
SORTS = {
    "id": Activity.provider_activity_id,
    "title": Activity.title,
    "format": Activity.format,
    "start": Activity.start_date,
    "end": Activity.end_date,
    "physicians": Activity.physician_learners,
    "others": Activity.other_learners,
}
# Views about what has ended: they place an activity in the year it ended, and list it by end
# date unless another sort is asked for. That order is also the (provider, closed_at, end_date)
# index's, so a page needs no sort of every match: 0.1 ms instead of 7 ms at 50,000 activities
# (docs/performance.md).
ENDED_VIEWS = ("ended_open", "closable")


def default_sort(view: str) -> str:
    """The column a view is sorted by when the query string names none."""
    return "end" if view in ENDED_VIEWS else "start"


@dataclass(frozen=True)
class ActivityFilter:
    year: int | None = None
    by: str = "start"  # which date puts an activity in the year: "start" or "end"
    format: str = ""
    status: str = ""
    view: str = ""
    q: str = ""
    sort: str = "start"
    dir: str = "desc"
    page: int = 1
    per_page: int = 50
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def args(self, **changes) -> dict[str, str | int]:
        """Query-string arguments for this filter (with changes), defaults left out."""
        f = replace(self, **changes)
        base = ActivityFilter()
        out: dict[str, str | int] = {}
        for name in ("year", "by", "format", "status", "view", "q", "sort", "dir", "page"):
            value = getattr(f, name)
            default = default_sort(f.view) if name == "sort" else getattr(base, name)
            if value != default and value is not None:
                out[name] = value
        if f.per_page != base.per_page:
            out["per_page"] = f.per_page
        return out


def parse_filter(args: Mapping[str, str]) -> ActivityFilter:
    """Read the list's query string; unknown values are ignored and reported, never a 500."""
    ignored: list[str] = []

    def pick(name: str, allowed, default):
        raw = (args.get(name) or "").strip()
        if not raw:
            return default
        if raw in allowed:
            return raw
        ignored.append(f"Ignored {name} “{raw[:40]}”: not a known value.")
        return default

    view = pick("view", VIEWS, "")
    f = ActivityFilter(
        year=_int_arg(args, "year", 1950, 2100, None, ignored),
        by=pick("by", ("start", "end"), "start"),
        format=pick("format", FORMATS, ""),
        status=pick("status", STATUS_LABELS, ""),
        view=view,
        q=_search_text(args.get("q")),
        sort=pick("sort", SORTS, default_sort(view)),
        dir=pick("dir", ("asc", "desc"), "desc"),
        page=_int_arg(args, "page", 1, 10**6, 1, ignored) or 1,
        per_page=_int_arg(args, "per_page", 1, 10**6, 50, ignored) or 50,
    )
    if f.per_page not in PAGE_SIZES:
        ignored.append(f"Page size must be one of {', '.join(map(str, PAGE_SIZES))}.")
        f = replace(f, per_page=50)
    return replace(f, ignored=tuple(ignored))


def _search_text(raw: str | None) -> str:
    """The search box's text without control characters (PostgreSQL refuses NUL bytes)."""
    return "".join(ch for ch in (raw or "") if ch.isprintable()).strip()[:200]


def _int_arg(args, name, lo, hi, default, ignored):
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if raw.isascii() and raw.isdigit() and lo <= int(raw) <= hi:
        return int(raw)
    ignored.append(f"Ignored {name} “{raw[:20]}”: not a number from {lo} to {hi}.")
    return default


@dataclass(frozen=True)
class ActivityPage(Paged):
    rows: list[Activity]
    total: int
    page: int
    per_page: int
    statuses: dict[int, str]


def conditions(provider_id: int, f: ActivityFilter, today: date) -> list:
    """The WHERE clauses of a filter; also used by bulk actions that re-run a filter."""
    cond = [Activity.provider_id == provider_id]
    if f.year is not None:
        first, last = date(f.year, 1, 1), date(f.year, 12, 31)
        # "Ended" views place an activity in the year it ended, whatever `by` says.
        by_end = f.by == "end" or f.view in ENDED_VIEWS
        col = Activity.end_date if by_end else Activity.start_date
        if f.view != "needs_counts":
            cond.append(col.between(first, last))
    if f.format:
        cond.append(Activity.format == f.format)
    if f.status:
        cond.append(status_expr(today) == f.status)
    if f.q:
        like = f.q.lower()
        cond.append(
            or_(
                func.lower(Activity.title).contains(like, autoescape=True),
                func.lower(Activity.provider_activity_id).startswith(like, autoescape=True),
            )
        )
    cond.extend(_view_conditions(f, today))
    return cond


def _view_conditions(f: ActivityFilter, today: date) -> list:
    if f.view == "ended_open":
        return [Activity.closed_at.is_(None), Activity.end_date < today]
    if f.view == "problems":
        return [Activity.closed_at.is_(None), Activity.problem_count > 0]
    if f.view == "closable":
        return [
            Activity.closed_at.is_(None),
            Activity.completeness == "closable",
            Activity.end_date < today,
        ]
    if f.view == "needs_counts":
        year = f.year if f.year is not None else today.year
        has_snapshot = exists().where(
            and_(LearnerSnapshot.activity_id == Activity.id, LearnerSnapshot.year == year)
        )
        return [
            Activity.format == "EM",
            Activity.start_date <= date(year, 12, 31),
            Activity.end_date >= date(year, 1, 1),
            ~has_snapshot,
        ]
    return []


def _order(f: ActivityFilter) -> tuple:
    """The list's ORDER BY: the chosen column, then id, so equal values keep a stable order."""
    direction = desc if f.dir == "desc" else asc
    return direction(SORTS[f.sort]), direction(Activity.id)


def filtered_select(provider_id: int, f: ActivityFilter, today: date) -> Select:
    """Every activity matching a filter, in the list's order, without paging (exports)."""
    return select(Activity).where(*conditions(provider_id, f, today)).order_by(*_order(f))


def list_activities(provider_id: int, f: ActivityFilter, today: date) -> ActivityPage:
    """One page of the provider's activities: exactly two queries (count, then rows)."""
    cond = conditions(provider_id, f, today)
    # count(*), not count(id): the database may then count the narrowest index's entries.
    total = db.session.scalar(select(func.count()).select_from(Activity).where(*cond)) or 0
    page = clamp_page(f.page, total, f.per_page)
    rows = list(
        db.session.scalars(
            select(Activity)
            .where(*cond)
            .options(raiseload("*"))
            .order_by(*_order(f))
            .limit(f.per_page)
            .offset((page - 1) * f.per_page)
        )
    )
    statuses = {a.id: _row_status(a, today) for a in rows}
    return ActivityPage(rows, total, page, f.per_page, statuses)


def _row_status(a: Activity, today: date) -> str:
    return status_from_level(a.completeness, a.end_date, a.closed_at is not None, today).value


__all__ = [
    "PAGE_SIZES",
    "SORTS",
    "VIEWS",
    "ActivityFilter",
    "ActivityPage",
    "Status",
    "filtered_select",
]

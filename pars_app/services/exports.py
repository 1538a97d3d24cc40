"""Exports (issue 4): the activities of a list filter as the template's .xlsx or as XML.

Every matching activity is exported, not one page. Rows stream from the database in chunks
of CHUNK (`yield_per`), and each chunk's joint providers, supporters and MOC registrations
are read with one query each (`activity_id IN (…)`), so an export costs one query plus three
per CHUNK activities, never one query per activity. Records are shaped as the `pars_app.io`
writers take them (typed as stored), so an exported file imports back "unchanged".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import defer, raiseload

from ..domain.enduring import is_final_year
from ..extensions import db
from ..io import write_activities, write_activities_xml
from ..io.fields import SCALAR_KEYS
from ..io.xlsx import TooManyGroups, build_counts_template
from ..models import Activity, CommercialSupporter, JointProvider, MocRegistration
from . import clock
from .activity_list import ActivityFilter, conditions, filtered_select

CHUNK = 1_000
Kind = Literal["xlsx", "xml"]
MEDIA_TYPES: dict[Kind, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml",
}
# Plain columns copied as stored; lists, groups and the Close Activity flag are built below.
_SCALARS = tuple(k for k in SCALAR_KEYS if k not in ("joint_providers", "close"))


def _supporter(s) -> dict[str, object]:
    return {
        "name": s.name,
        "kind": s.kind,
        "amount_cents": s.amount_cents,
        "nature": s.in_kind_nature,
        "other": s.in_kind_other,
    }


def _moc(m) -> dict[str, object]:
    return {
        "board": m.board,
        # Stored as the form writes them: credit types comma-separated, areas one a line.
        "credit_types": [t.strip() for t in m.credit_types.split(",") if t.strip()],
        "points": m.points,
        "practice_areas": [p.strip() for p in m.practice_areas.splitlines() if p.strip()],
    }


def _record(
    scalars: Iterable[object], closed: bool, joint: list[str], supporters: list, moc: list
) -> dict[str, object]:
    record: dict[str, object] = dict(zip(_SCALARS, scalars, strict=True))
    record["joint_providers"] = joint
    record["supporters"] = supporters
    record["moc"] = moc
    # Yes for a closed activity, so re-importing it is "unchanged"; blank (not No) for an open
    # one: a blank Close Activity cell means "leave as is".
    record["close"] = True if closed else None
    return record


def _children(ids: list[int]) -> tuple[dict[int, list], dict[int, list], dict[int, list]]:
    """Joint providers, supporters and MOC registrations of these activities: three queries,
    in the order the activity's relationships give them."""
    joint: dict[int, list] = {}
    supporters: dict[int, list] = {}
    moc: dict[int, list] = {}
    j, s, m = JointProvider, CommercialSupporter, MocRegistration
    for row in db.session.execute(
        select(j.activity_id, j.name).where(j.activity_id.in_(ids)).order_by(j.position, j.id)
    ):
        joint.setdefault(row.activity_id, []).append(row.name)
    columns = (s.activity_id, s.name, s.kind, s.amount_cents, s.in_kind_nature, s.in_kind_other)
    for row in db.session.execute(
        select(*columns).where(s.activity_id.in_(ids)).order_by(s.position, s.id)
    ):
        supporters.setdefault(row.activity_id, []).append(_supporter(row))
    columns = (m.activity_id, m.board, m.credit_types, m.points, m.practice_areas)
    for row in db.session.execute(select(*columns).where(m.activity_id.in_(ids)).order_by(m.board)):
        moc.setdefault(row.activity_id, []).append(_moc(row))
    return joint, supporters, moc


def activity_records(
    provider_id: int, activity_filter: ActivityFilter, today: date | None = None
) -> Iterator[dict[str, object]]:
    """Every activity of the provider matching the list's filter, in the list's order."""
    # Plain column rows, not ORM objects: building 10,000 entities (identity map, collections)
    # cost more than writing the workbook. legacy_data is never selected.
    stmt = filtered_select(provider_id, activity_filter, today or clock.today())
    stmt = stmt.with_only_columns(
        Activity.id,
        Activity.closed_at.is_not(None),
        *(getattr(Activity, name) for name in _SCALARS),
    ).execution_options(yield_per=CHUNK)
    result = db.session.execute(stmt)
    try:
        for rows in result.partitions():
            joint, supporters, moc = _children([r[0] for r in rows])
            for r in rows:
                pk = r[0]
                yield _record(
                    r[2:], r[1], joint.get(pk, []), supporters.get(pk, []), moc.get(pk, [])
                )
    finally:
        result.close()  # also when the consumer stops early: no cursor left open


@dataclass(frozen=True)
class Exported:
    """A written export: the file's bytes and how many activities it holds."""

    data: bytes
    count: int


class _Counted:
    """Passes records through, counting them (the writers consume the iterator)."""

    def __init__(self, records: Iterator[dict[str, object]]):
        self.records = records
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, object]]:
        for record in self.records:
            self.count += 1
            yield record

    def close(self) -> None:
        self.records.close()  # type: ignore[attr-defined]


def group_widths(
    provider_id: int, activity_filter: ActivityFilter, today: date | None = None
) -> tuple[int, int]:
    """The most supporters and MOC registrations any matching activity has (two queries), so
    the sheet's header can be written before the rows stream."""
    ids = (
        filtered_select(provider_id, activity_filter, today or clock.today())
        .with_only_columns(Activity.id)
        .order_by(None)
    )
    widths = []
    for child in (CommercialSupporter.activity_id, MocRegistration.activity_id):
        per_activity = (
            select(func.count().label("n")).where(child.in_(ids)).group_by(child).subquery()
        )
        widths.append(db.session.scalar(select(func.max(per_activity.c.n))) or 0)
    return widths[0], widths[1]


def export_activities(
    provider_id: int, activity_filter: ActivityFilter, kind: Kind, today: date | None = None
) -> Exported:
    """The filter's activities written as `kind` ("xlsx" or "xml"), with their count."""
    today = today or clock.today()
    records = _Counted(activity_records(provider_id, activity_filter, today))
    if kind == "xml":
        # Streamed as well: built, checked and written a batch of activities at a time.
        return Exported(write_activities_xml(records), records.count)
    try:
        # Streamed: the rows are written as they are read, never all held at once.
        data = write_activities(records, group_widths(provider_id, activity_filter, today))
    except TooManyGroups:
        # Someone added a supporter or MOC board since the widths were read: start again,
        # holding the records this time so the sheet is as wide as they need.
        records.close()
        records = _Counted(activity_records(provider_id, activity_filter, today))
        data = write_activities(records)
    return Exported(data, records.count)


def export_xlsx(provider_id: int, activity_filter: ActivityFilter) -> bytes:
    """The filter's activities in the template's layout (.xlsx)."""
    return export_activities(provider_id, activity_filter, "xlsx").data


def export_xml(provider_id: int, activity_filter: ActivityFilter) -> bytes:
    """The filter's activities as XML valid against the published XSD."""
    return export_activities(provider_id, activity_filter, "xml").data


def filename(provider_code: str, activity_filter: ActivityFilter, kind: Kind) -> str:
    """The download's name: activities-DEMO-2025.xlsx (the year only when filtered by one)."""
    year = f"-{activity_filter.year}" if activity_filter.year is not None else ""
    return f"activities-{provider_code}{year}.{kind}"


# --- The learner-count template, pre-filled ---------------------------------------------------


def learner_count_records(provider_id: int, year: int, today: date) -> list[dict[str, object]]:
    """Rows of the learner-count template for what still needs counts in `year`.

    Enduring materials available in `year` without a December 31 snapshot for it (the
    dashboard's "needs counts" view), then open activities of other formats that ended from
    January 1 of `year` up to today with a learner count missing; counts already known are
    filled in, so a coordinator only adds what is missing. A material closed in its last year
    can only take the totals it was closed with (spec §6), so those are filled in too.
    """
    enduring = select(Activity).where(
        *conditions(provider_id, ActivityFilter(view="needs_counts", year=year), today)
    )
    others = select(Activity).where(
        Activity.provider_id == provider_id,
        Activity.format != "EM",
        Activity.closed_at.is_(None),
        Activity.end_date.between(date(year, 1, 1), today),
        or_(Activity.physician_learners.is_(None), Activity.other_learners.is_(None)),
    )
    rows: list[dict[str, object]] = []
    for stmt, counts_year in ((enduring, year), (others, None)):
        stmt = stmt.options(defer(Activity.legacy_data), raiseload("*"))
        for a in db.session.scalars(stmt.order_by(Activity.provider_activity_id)):
            known = counts_year is None or (
                a.closed_at is not None and is_final_year(a.end_date, counts_year)
            )
            rows.append(
                {
                    "provider_activity_id": a.provider_activity_id,
                    "title": a.title,
                    "physician_learners": a.physician_learners if known else None,
                    "other_learners": a.other_learners if known else None,
                    "counts_year": counts_year,
                }
            )
    return rows


def learner_counts_xlsx(provider_id: int | None, year: int, today: date) -> bytes:
    """The learner-count template, pre-filled for a provider (blank without one)."""
    if provider_id is None:
        return build_counts_template()
    return build_counts_template(learner_count_records(provider_id, year, today))


__all__ = [
    "CHUNK",
    "MEDIA_TYPES",
    "Exported",
    "activity_records",
    "export_activities",
    "export_xlsx",
    "export_xml",
    "filename",
    "group_widths",
    "learner_count_records",
    "learner_counts_xlsx",
]

"""Learner counts in batch (spec §9): Provider Activity ID + physicians + other learners, and
for enduring materials the December 31 year, through the same preview → commit pipeline.

A row for a live or recorded activity updates its totals (the inline edit's rules: not closed,
not in a locked year). A row for an enduring material records its cumulative snapshot as of
December 31 of the given year (the enduring view's rules: available that year, not locked, not
lower than last year without a warning; in its final year the totals follow). In both, a row
whose counts are all blank changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..domain import enduring as rules
from ..domain.values import parse_count
from ..extensions import db
from ..io import RawRow
from ..models import Activity, ImportRow, LearnerSnapshot
from . import audit
from .activities import refresh_derived
from .activity_close import locked_years
from .import_commit import CHUNK, CommitResult, Conflict
from .import_plan import ERROR, UNCHANGED, UPDATE, Message, PlanContext, PlannedRow
from .learner_counts import ACTION as COUNTS_ACTION
from .learner_counts import refusal as totals_refusal
from .learner_snapshots import LOCKED as SNAPSHOT_LOCKED

TOTALS, SNAPSHOT = "totals", "snapshot"


@dataclass
class CountsContext(PlanContext):
    """Planning context plus, per chunk, each activity's snapshots by year."""

    snapshots: dict[int, dict[int, LearnerSnapshot]] | None = None


def snapshots_of(activity_ids: list[int]) -> dict[int, dict[int, LearnerSnapshot]]:
    """Every stored snapshot of these materials, by activity and year (one query)."""
    out: dict[int, dict[int, LearnerSnapshot]] = {}
    if activity_ids:
        for s in db.session.scalars(
            select(LearnerSnapshot).where(LearnerSnapshot.activity_id.in_(activity_ids))
        ):
            out.setdefault(s.activity_id, {})[s.year] = s
    return out


def _year(raw: RawRow, ctx: CountsContext, plan: PlannedRow) -> int | None:
    value = raw.values.get("counts_year")
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        plan.messages.append(Message(ctx.column_label("counts_year"), "Enter a year such as 2025."))
        return None
    return int(text)


def _error(plan: PlannedRow, raw: RawRow, ctx: CountsContext, column: str, text: str):
    plan.messages.append(Message(ctx.column_label(column), text))
    plan.action, plan.raw = ERROR, raw.values
    return plan


def plan_counts_row(raw: RawRow, a: Activity | None, ctx: CountsContext) -> PlannedRow:
    """What one learner-count row would do to the activity its ID names."""
    plan = PlannedRow(raw.number, ERROR)
    plan.messages += [Message(p.column_header, p.message) for p in raw.problems]
    pid = raw.provider_activity_id
    plan.provider_activity_id, plan.title = pid, str(raw.values.get("title") or "")
    year = _year(raw, ctx, plan)
    if not pid:
        return _error(plan, raw, ctx, "provider_activity_id", "Enter the Provider Activity ID.")
    first = ctx.seen_ids.setdefault(f"{pid}\x00{year}", raw.number)
    if first != raw.number:
        return _error(plan, raw, ctx, "provider_activity_id", f"“{pid}” is also on row {first}.")
    if a is None:
        return _error(plan, raw, ctx, "provider_activity_id", f"No activity has the ID “{pid}”.")
    plan.title, plan.activity_id = a.title, a.id
    if plan.messages:
        plan.action, plan.raw = ERROR, raw.values
        return plan
    if a.format == "EM":
        return _plan_snapshot(plan, raw, a, year, ctx)
    if year is not None:
        plan.messages.append(
            Message(
                ctx.column_label("counts_year"),
                "Only enduring materials take an “as of December 31” year: ignored.",
                "warning",
            )
        )
    return _plan_totals(plan, raw, a, ctx)


def _plan_totals(plan: PlannedRow, raw: RawRow, a: Activity, ctx: CountsContext) -> PlannedRow:
    if reason := totals_refusal(a, ctx.locked):
        return _error(plan, raw, ctx, "provider_activity_id", reason)
    after: dict[str, Any] = {}
    for key in ("physician_learners", "other_learners"):
        if key not in raw.values:
            continue
        try:
            value = parse_count(raw.values[key])
        except ValueError as err:
            plan.messages.append(Message(ctx.column_label(key), str(err)))
            continue
        if value is not None:  # blank: not given, left as it is
            after[key] = value
    if plan.errors:
        plan.raw = raw.values
        return plan
    plan.version = a.version
    plan.changes = {k: [getattr(a, k), v] for k, v in after.items() if getattr(a, k) != v}
    plan.action = UPDATE if plan.changes else UNCHANGED
    plan.data = None
    plan.extra = {"kind": TOTALS, **after}
    return plan


def _not_given(value: Any) -> bool:
    try:
        return parse_count(value) is None
    except ValueError:
        return False  # given, and wrong: the snapshot's own check says so


def _plan_snapshot(
    plan: PlannedRow, raw: RawRow, a: Activity, year: int | None, ctx: CountsContext
) -> PlannedRow:
    label = ctx.column_label("counts_year")
    if _not_given(raw.values.get("physician_learners")) and _not_given(
        raw.values.get("other_learners")
    ):
        # No counts at all: nothing to record, as a blank total leaves a live activity's count
        # as it is. The pre-filled template lists every material still without its December 31
        # count; the rows a coordinator has not filled in yet are left for later, not errors
        # (the checklist still shows them missing). One count without the other is an error.
        plan.action = UNCHANGED
        return plan
    if year is None:
        return _error(
            plan,
            raw,
            ctx,
            "counts_year",
            "Enter the year whose December 31 these "
            "cumulative totals are as of (this is an enduring material).",
        )
    if not rules.available_in(a.start_date, a.end_date, year):
        return _error(
            plan, raw, ctx, "counts_year", f"This enduring material was not available in {year}."
        )
    if year in ctx.locked:
        return _error(plan, raw, ctx, "counts_year", SNAPSHOT_LOCKED.format(year=year))
    if problem := rules.snapshot_year_problem(year, ctx.today):
        return _error(plan, raw, ctx, "counts_year", problem)
    counts, errors = rules.parse_counts(
        raw.values.get("physician_learners"), raw.values.get("other_learners")
    )
    if counts is None:
        keys = {"physicians": "physician_learners", "others": "other_learners"}
        for name, text in errors.items():
            plan.messages.append(Message(ctx.column_label(keys[name]), text))
        plan.action, plan.raw = ERROR, raw.values
        return plan
    final = rules.is_final_year(a.end_date, year)
    if final and a.closed_at is not None:
        closed = (
            rules.Counts(a.physician_learners, a.other_learners)
            if a.physician_learners is not None and a.other_learners is not None
            else None
        )
        if problem := rules.closed_final_problem(closed, counts):
            return _error(plan, raw, ctx, "physician_learners", problem)
    stored = (ctx.snapshots or {}).get(a.id, {})
    current = stored.get(year)
    earlier = [y for y in stored if y < year]
    previous = stored[max(earlier)] if earlier else None
    prev_counts = rules.Counts(previous.physicians, previous.others) if previous else None
    for text in rules.decrease_warnings(prev_counts, previous.year if previous else None, counts):
        plan.messages.append(Message(label, text, "warning"))
    before = (current.physicians, current.others) if current else (None, None)
    plan.changes = {
        k: [b, v]
        for k, b, v in (
            ("physicians", before[0], counts.physicians),
            ("others", before[1], counts.others),
        )
        if b != v
    }
    if final and (a.physician_learners, a.other_learners) != (counts.physicians, counts.others):
        plan.changes["final totals"] = [
            [a.physician_learners, a.other_learners],
            [counts.physicians, counts.others],
        ]
    plan.action = UPDATE if plan.changes else UNCHANGED
    plan.version = current.version if current else 0
    plan.extra = {
        "kind": SNAPSHOT,
        "year": year,
        "physicians": counts.physicians,
        "others": counts.others,
        "final": final,
        "activity_version": a.version,
    }
    return plan


# --- Commit -----------------------------------------------------------------------------------


def _apply_totals(a: Activity, values: dict[str, Any], user_id: int | None, now: datetime) -> dict:
    changes = {}
    for key in ("physician_learners", "other_learners"):
        if key in values and getattr(a, key) != values[key]:
            changes[key] = [getattr(a, key), values[key]]
            setattr(a, key, values[key])
    if changes:
        a.updated_by_id, a.updated_at = user_id, now
        refresh_derived(a)
    return changes


def _apply_snapshot(
    a: Activity, s: LearnerSnapshot | None, v: dict[str, Any], user_id: int | None, now: datetime
) -> tuple[LearnerSnapshot, dict, dict]:
    before = (s.physicians, s.others) if s else (None, None)
    if s is None:
        s = LearnerSnapshot(provider_id=a.provider_id, activity_id=a.id, year=v["year"])
        db.session.add(s)
    s.as_of = rules.as_of(v["year"])
    s.physicians, s.others = v["physicians"], v["others"]
    s.recorded_by_id, s.recorded_at = user_id, now
    changes = {"physicians": [before[0], s.physicians], "others": [before[1], s.others]}
    activity_changes = {}
    if v["final"]:
        activity_changes = _apply_totals(
            a, {"physician_learners": v["physicians"], "other_learners": v["others"]}, user_id, now
        )
    return s, changes, activity_changes


def _chunk_rows(job_id: int, last: int) -> list[ImportRow]:
    return list(
        db.session.scalars(
            select(ImportRow)
            .where(ImportRow.job_id == job_id, ImportRow.action == UPDATE, ImportRow.number > last)
            .order_by(ImportRow.number)
            .limit(CHUNK)
        )
    )


def _stale(r: ImportRow, a: Activity | None, v: dict, snaps, locked: frozenset[int]) -> str | None:
    if a is None:
        return "This activity was deleted since the preview."
    if v["kind"] == TOTALS:
        if a.version != r.version:
            return "This activity was changed since the preview."
        return totals_refusal(a, locked)
    current = snaps.get(a.id, {}).get(v["year"])
    if (current.version if current else 0) != r.version or a.version != v["activity_version"]:
        return "These counts were changed since the preview."
    if v["year"] in locked:
        return SNAPSHOT_LOCKED.format(year=v["year"])
    return None


def apply_counts_rows(
    job_id: int, provider_id: int, user_id: int | None, now: datetime, today: date
) -> CommitResult:
    """Apply the job's learner-count updates in the caller's transaction (or report conflicts)."""
    del today  # counts have no date-dependent rules at commit beyond the locks
    locked = locked_years(provider_id)
    result = CommitResult()
    last = 0
    while rows := _chunk_rows(job_id, last):
        last = rows[-1].number
        ids = [r.activity_id for r in rows if r.activity_id]
        found = db.session.scalars(
            select(Activity).where(Activity.provider_id == provider_id, Activity.id.in_(ids))
        ).all()
        by_id = {a.id: a for a in found}
        snaps = snapshots_of(ids)
        for r in rows:
            v = json.loads(r.input_json or "{}")
            a = by_id.get(r.activity_id or 0)
            if problem := _stale(r, a, v, snaps, locked):
                result.conflicts.append(Conflict(r.number, r.provider_activity_id, problem))
                continue
            if result.conflicts:
                continue
            if v["kind"] == TOTALS:
                changes = _apply_totals(a, v, user_id, now)
                db.session.flush()
                audit.record(
                    COUNTS_ACTION,
                    user_id=user_id,
                    provider_id=provider_id,
                    entity=a,
                    via="import",
                    changes=changes,
                    import_id=job_id,
                ).at = now
            else:
                s, changes, activity_changes = _apply_snapshot(
                    a, snaps.get(a.id, {}).get(v["year"]), v, user_id, now
                )
                db.session.flush()
                details: dict[str, Any] = {
                    "activity_id": a.id,
                    "year": v["year"],
                    "changes": changes,
                    "import_id": job_id,
                }
                if activity_changes:
                    details["activity_changes"] = activity_changes
                audit.record(
                    "snapshot.recorded",
                    user_id=user_id,
                    provider_id=provider_id,
                    entity=s,
                    via="import",
                    **details,
                ).at = now
            result.updated += 1
    try:
        db.session.flush()
    except StaleDataError:
        result.conflicts.append(Conflict(0, "", "Counts were changed by someone else meanwhile."))
    return result

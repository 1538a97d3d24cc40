"""The accreditor's overview: every provider it oversees, each one's five steps for a year.

Set-based: the facts behind the checklist come from a fixed handful of GROUP BY queries for
all the providers asked about at once (never a query per provider), then
`domain.checklist.build_checklist` decides each provider's steps in Python.

Two paths, same queries:
- sorted by name or code with no state filter (the default view): the page is cut from the
  provider list first, and facts are loaded for that page's providers only;
- filtered or sorted by something computed (late, steps done, a step not done, days left,
  last change): facts are loaded for every provider in scope, then filtered, sorted and cut
  in Python. A few thousand providers is a few hundred milliseconds; past that, a stored
  per-provider-year state would be the next step (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import and_, case, func, or_, select, true

from ..domain import checklist as rules
from ..domain import deadlines
from ..extensions import db
from ..models import (
    Accreditor,
    Activity,
    AgreementAcceptance,
    AgreementText,
    AuditEvent,
    ContactReview,
    LearnerSnapshot,
    ProgramSummary,
    Provider,
    ReportingDeadline,
    User,
    YearLock,
)
from .paging import Paged, clamp_page

PAGE_SIZE = 50
STATES = {"": "All providers", "not_done": "Not done", "late": "Late", "done": "All steps done"}
STEP_KEYS = ("agreement", "activities", "enduring", "summary", "contacts")
STEP_FILTERS = {
    "": "Any step",
    "agreement": "Agreement not accepted",
    "activities": "Activities not closed",
    "enduring": "Enduring counts missing",
    "summary": "Program Summary not submitted",
    "contacts": "Contacts not reviewed",
}
SORTS = {
    "name": "Name",
    "code": "Code",
    "done": "Steps done",
    "days_left": "Days to deadline",
    "last_change": "Last change in the app",
}
# Sorts the provider table itself can do; the others need every provider's facts.
SQL_SORTS = {"name": func.lower(Provider.name), "code": Provider.code}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # sorts providers with no change first


# --- Who is in scope --------------------------------------------------------------------------


def in_scope(accreditor: Accreditor):
    """Condition on `Provider`: the providers `accreditor` oversees (ACCME: every one)."""
    return true() if accreditor.is_national else Provider.accreditor_id == accreditor.id


def provider_in_scope(accreditor: Accreditor, provider_id: int) -> Provider | None:
    """The provider when `accreditor` oversees it, else None (the caller answers 404)."""
    return db.session.scalar(
        select(Provider).where(Provider.id == provider_id, in_scope(accreditor))
    )


def overview_year(now: datetime) -> int:
    """The year the overview opens on: the latest cycle open for reporting (last year).

    Unlike a provider's dashboard it does not move on once the deadline passes: that is
    exactly when an accreditor chases the late ones.
    """
    return deadlines.central_date(now).year - 1


# --- Filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewFilter:
    year: int
    state: str = ""
    step: str = ""
    q: str = ""
    sort: str = "name"
    dir: str = "asc"
    page: int = 1
    ignored: tuple[str, ...] = ()

    @property
    def needs_all_facts(self) -> bool:
        """True when rows must be known for every provider before the page can be cut."""
        return bool(self.state or self.step) or self.sort not in SQL_SORTS

    def args(self, **changes) -> dict[str, str | int]:
        """Query-string arguments (defaults left out, the year always in)."""
        f = replace(self, **changes)
        out: dict[str, str | int] = {"year": f.year}
        for name, default in (("state", ""), ("step", ""), ("q", ""), ("sort", "name")):
            if getattr(f, name) != default:
                out[name] = getattr(f, name)
        if f.dir != "asc":
            out["dir"] = f.dir
        if f.page != 1:
            out["page"] = f.page
        return out


def parse_filter(args: Mapping[str, str], default_year: int) -> OverviewFilter:
    """Read the overview's query string; unknown values are ignored with a note, never a 500."""
    ignored: list[str] = []

    def pick(name: str, allowed, default: str) -> str:
        raw = (args.get(name) or "").strip()
        if raw and raw not in allowed:
            ignored.append(f"Ignored {name} “{raw[:40]}”: not a known value.")
            return default
        return raw or default

    def number(name: str, lo: int, hi: int, default: int) -> int:
        raw = (args.get(name) or "").strip()
        value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else None
        if raw and (value is None or not lo <= value <= hi):
            ignored.append(f"Ignored {name} “{raw[:20]}”: not a number from {lo} to {hi}.")
            return default
        return default if value is None else value

    return OverviewFilter(
        year=number("year", 2000, 2100, default_year),
        state=pick("state", STATES, ""),
        step=pick("step", STEP_FILTERS, ""),
        q=search_text(args.get("q")),
        sort=pick("sort", SORTS, "name"),
        dir=pick("dir", ("asc", "desc"), "asc"),
        page=number("page", 1, 10**6, 1),
        ignored=tuple(ignored),
    )


def search_text(raw: str | None) -> str:
    """Search box text without control characters (PostgreSQL refuses NUL bytes)."""
    return "".join(ch for ch in (raw or "") if ch.isprintable()).strip()[:100]


# --- Rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRow:
    id: int
    code: str
    name: str
    accreditor_code: str
    checklist: rules.Checklist
    started: int  # activities entered that started in the year
    last_change_at: datetime | None
    lock: str  # "locked" | "unlocked" (was locked, unlocked since) | "" (never submitted)

    def step(self, key: str) -> rules.Step:
        return self.checklist.steps[STEP_KEYS.index(key)]


@dataclass(frozen=True)
class OverviewPage(Paged):
    rows: list[ProviderRow]
    total: int
    page: int
    per_page: int = PAGE_SIZE


def overview(accreditor: Accreditor, f: OverviewFilter, now: datetime) -> OverviewPage:
    """One page of the overview. The number of queries does not depend on the provider count."""
    if not f.needs_all_facts:
        # Name/code order needs no facts: count and cut the page in SQL, then load the facts
        # of that page's providers only.
        query = _providers_query(accreditor, f)
        counted = query.order_by(None).with_only_columns(func.count(Provider.id))
        total = db.session.scalar(counted) or 0
        page = clamp_page(f.page, total, PAGE_SIZE)
        chosen = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        ids = [p.id for p in chosen]
        return OverviewPage(_rows(chosen, f.year, now, lambda col: col.in_(ids)), total, page)
    rows = matching_rows(accreditor, f, now)
    page = clamp_page(f.page, len(rows), PAGE_SIZE)
    return OverviewPage(rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], len(rows), page)


def matching_rows(accreditor: Accreditor, f: OverviewFilter, now: datetime) -> list[ProviderRow]:
    """Every row matching the filter, sorted (the export, and the filtered overview)."""
    providers = db.session.execute(_providers_query(accreditor, f)).all()
    scope = select(Provider.id).where(in_scope(accreditor))
    every = (lambda col: true()) if accreditor.is_national else (lambda col: col.in_(scope))
    rows = [r for r in _rows(providers, f.year, now, every) if _matches(r, f)]
    rows.sort(key=_sort_key(f.sort), reverse=f.dir == "desc")
    return rows


def _matches(row: ProviderRow, f: OverviewFilter) -> bool:
    c = row.checklist
    if f.state == "late" and not c.late:
        return False
    if f.state == "not_done" and c.complete:
        return False
    if f.state == "done" and not c.complete:
        return False
    return not (f.step and row.step(f.step).state is rules.StepState.DONE)


def _sort_key(sort: str) -> Callable[[ProviderRow], tuple]:
    name = lambda r: (r.name.lower(), r.id)  # noqa: E731  (ties broken by name, then id)
    keys: dict[str, Callable[[ProviderRow], tuple]] = {
        "name": name,
        "code": lambda r: (r.code, r.id),
        "done": lambda r: (r.checklist.done_count, *name(r)),
        "days_left": lambda r: (r.checklist.days_left, *name(r)),
        "last_change": lambda r: (r.last_change_at or _EPOCH, *name(r)),
    }
    return keys[sort]


def _providers_query(accreditor: Accreditor, f: OverviewFilter):
    """(id, code, name, accreditor_id, accreditor code) of the providers in scope matching `q`."""
    query = (
        select(
            Provider.id,
            Provider.code,
            Provider.name,
            Provider.accreditor_id,
            Accreditor.code.label("accreditor_code"),
        )
        .join(Accreditor, Accreditor.id == Provider.accreditor_id)
        .where(in_scope(accreditor))
    )
    if f.q:
        like = f.q.lower()
        query = query.where(
            or_(
                func.lower(Provider.name).contains(like, autoescape=True),
                func.lower(Provider.code).startswith(like, autoescape=True),
            )
        )
    order = SQL_SORTS.get(f.sort, SQL_SORTS["name"])
    order = order.desc() if f.dir == "desc" and f.sort in SQL_SORTS else order.asc()
    return query.order_by(order, Provider.id)


# --- Facts, set-based -------------------------------------------------------------------------

# `where(column)` narrows a fact query to the providers asked about.
Where = Callable[..., object]


@dataclass(frozen=True)
class _Facts:
    """Everything the checklists of a set of providers need, keyed by provider id."""

    by_format: dict[int, dict[str, int]]
    ended: dict[int, tuple[int, int]]
    enduring: dict[int, tuple[int, int]]
    agreements: _Agreements
    submitted: dict[int, datetime]
    reviews: dict[int, tuple[datetime, str | None]]
    deadlines: dict[int, datetime]
    locks: dict[int, str]
    changes: dict[int, datetime | None]


def _load_facts(year: int, now: datetime, where: Where) -> _Facts:
    """Ten queries, whatever the number of providers."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return _Facts(
        by_format=_by_format(where, first, last),
        ended=_ended(where, first, last, deadlines.central_date(now)),
        enduring=_enduring(where, year),
        agreements=_agreements(where, year),
        submitted=_summaries(where, year),
        reviews=_reviews(where),
        deadlines=_deadlines(year),
        locks=_locks(where, year),
        changes=_last_changes(where),
    )


def _rows(providers: list, year: int, now: datetime, where: Where) -> list[ProviderRow]:
    """Each provider's checklist, built in Python from facts loaded for all of them at once."""
    facts = _load_facts(year, now, where)
    return [_row(p, facts, year, now) for p in providers]


def _row(p, f: _Facts, year: int, now: datetime) -> ProviderRow:
    ended = f.ended.get(p.id, (0, 0))
    enduring = f.enduring.get(p.id, (0, 0))
    reviewed = f.reviews.get(p.id, (None, None))
    due = f.deadlines.get(p.accreditor_id)
    facts = rules.ChecklistFacts(
        year=year,
        now=now,
        # Same rule as services.cycle.reporting_deadline: the stored row, else ACCME's rule.
        deadline=due.astimezone(deadlines.CENTRAL) if due else deadlines.default_deadline(year),
        **_agreement_facts(f.agreements, p.accreditor_id, p.id),
        activities_by_format=f.by_format.get(p.id, {}),
        ended_in_year=ended[0],
        ended_not_closed=ended[1],
        enduring_in_year=enduring[0],
        enduring_missing_counts=enduring[1],
        summary_submitted_at=f.submitted.get(p.id),
        contacts_reviewed_at=reviewed[0],
        contacts_reviewed_by=reviewed[1],
        year_locked=f.locks.get(p.id) == "locked",
    )
    return ProviderRow(
        id=p.id,
        code=p.code,
        name=p.name,
        accreditor_code=p.accreditor_code,
        checklist=rules.build_checklist(facts),
        started=sum(facts.activities_by_format.values()),
        last_change_at=f.changes.get(p.id),
        lock=f.locks.get(p.id, ""),
    )


def _by_format(where: Where, first: date, last: date) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for pid, fmt, n in db.session.execute(
        select(Activity.provider_id, Activity.format, func.count())
        .where(where(Activity.provider_id), Activity.start_date.between(first, last))
        .group_by(Activity.provider_id, Activity.format)
    ):
        out.setdefault(pid, {})[fmt] = n
    return out


def _ended(where: Where, first: date, last: date, today: date) -> dict[int, tuple[int, int]]:
    # Same rule as services.checklist: ended = end date in the year and before today (Central).
    rows = db.session.execute(
        select(
            Activity.provider_id,
            func.count(),
            func.coalesce(func.sum(case((Activity.closed_at.is_(None), 1), else_=0)), 0),
        )
        .where(
            where(Activity.provider_id),
            Activity.end_date.between(first, last),
            Activity.end_date < today,
        )
        .group_by(Activity.provider_id)
    )
    return {pid: (n, open_) for pid, n, open_ in rows}


def _enduring(where: Where, year: int) -> dict[int, tuple[int, int]]:
    rows = db.session.execute(
        select(
            Activity.provider_id,
            func.count(Activity.id),
            func.coalesce(func.sum(case((LearnerSnapshot.id.is_(None), 1), else_=0)), 0),
        )
        .select_from(Activity)
        .outerjoin(
            LearnerSnapshot,
            and_(LearnerSnapshot.activity_id == Activity.id, LearnerSnapshot.year == year),
        )
        .where(
            where(Activity.provider_id),
            Activity.format == "EM",
            Activity.start_date <= date(year, 12, 31),
            Activity.end_date >= date(year, 1, 1),
        )
        .group_by(Activity.provider_id)
    )
    return {pid: (n, missing) for pid, n, missing in rows}


@dataclass(frozen=True)
class _Agreements:
    latest: dict[int, tuple[int, int]]  # accreditor id -> (text id, version)
    accepted: dict[tuple[int, int], tuple[datetime, str | None]]  # (provider, text) -> when, who


def _agreements(where: Where, year: int) -> _Agreements:
    newest = (
        select(AgreementText.accreditor_id, func.max(AgreementText.version).label("version"))
        .where(AgreementText.year == year)
        .group_by(AgreementText.accreditor_id)
        .subquery()
    )
    latest = {
        acc: (tid, version)
        for acc, tid, version in db.session.execute(
            select(AgreementText.accreditor_id, AgreementText.id, AgreementText.version).join(
                newest,
                and_(
                    newest.c.accreditor_id == AgreementText.accreditor_id,
                    newest.c.version == AgreementText.version,
                    AgreementText.year == year,
                ),
            )
        )
    }
    text_ids = [tid for tid, _ in latest.values()]
    accepted = {
        (pid, tid): (at, email)
        for pid, tid, at, email in db.session.execute(
            select(
                AgreementAcceptance.provider_id,
                AgreementAcceptance.agreement_text_id,
                AgreementAcceptance.accepted_at,
                User.email,
            )
            .outerjoin(User, User.id == AgreementAcceptance.accepted_by_id)
            .where(
                where(AgreementAcceptance.provider_id),
                AgreementAcceptance.agreement_text_id.in_(text_ids),
            )
        )
    }
    return _Agreements(latest, accepted)


def _agreement_facts(a: _Agreements, accreditor_id: int, provider_id: int) -> dict:
    if accreditor_id not in a.latest:
        return {"agreement_published": False}
    text_id, version = a.latest[accreditor_id]
    # Only an acceptance of the latest version counts: a new version asks again.
    at, who = a.accepted.get((provider_id, text_id), (None, None))
    return {
        "agreement_published": True,
        "agreement_version": version,
        "agreement_accepted_at": at,
        "agreement_accepted_by": who,
    }


def _summaries(where: Where, year: int) -> dict[int, datetime]:
    return dict(
        db.session.execute(
            select(ProgramSummary.provider_id, ProgramSummary.submitted_at).where(
                where(ProgramSummary.provider_id),
                ProgramSummary.year == year,
                ProgramSummary.status == "submitted",
            )
        ).all()
    )


def _reviews(where: Where) -> dict[int, tuple[datetime, str | None]]:
    # The latest review of any date per provider; the domain decides whether it counts.
    latest = (
        select(ContactReview.provider_id, func.max(ContactReview.reviewed_at).label("at"))
        .where(where(ContactReview.provider_id))
        .group_by(ContactReview.provider_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ContactReview.provider_id, ContactReview.reviewed_at, User.email)
        .join(
            latest,
            and_(
                latest.c.provider_id == ContactReview.provider_id,
                latest.c.at == ContactReview.reviewed_at,
            ),
        )
        .outerjoin(User, User.id == ContactReview.reviewed_by_id)
        .order_by(ContactReview.id)
    )
    return {pid: (at, email) for pid, at, email in rows}


def _deadlines(year: int) -> dict[int, datetime]:
    """Accreditor id -> its stored deadline for `year` (absent: ACCME's rule applies)."""
    return dict(
        db.session.execute(
            select(ReportingDeadline.accreditor_id, ReportingDeadline.due_at).where(
                ReportingDeadline.year == year
            )
        ).all()
    )


def _locks(where: Where, year: int) -> dict[int, str]:
    out: dict[int, str] = {}
    for pid, unlocked_at in db.session.execute(
        select(YearLock.provider_id, YearLock.unlocked_at).where(
            where(YearLock.provider_id), YearLock.year == year
        )
    ):
        if unlocked_at is None:
            out[pid] = "locked"
        else:
            out.setdefault(pid, "unlocked")
    return out


def _last_changes(where: Where) -> dict[int, datetime]:
    """The last change each provider's own people made (accreditor acts do not count).

    A correlated MAX per provider: one index probe each on (provider_id, at), where a GROUP BY
    would read every audit event the providers ever had.
    """
    last_event = (
        select(func.max(AuditEvent.at))
        .where(AuditEvent.provider_id == Provider.id, AuditEvent.accreditor_id.is_(None))
        .correlate(Provider)
        .scalar_subquery()
    )
    out = {}
    for pid, stored, event_at in db.session.execute(
        select(Provider.id, Provider.last_activity_at, last_event).where(where(Provider.id))
    ):
        # audit_events.at comes back naive from a raw subquery on SQLite: it is UTC.
        if isinstance(event_at, str):
            event_at = datetime.fromisoformat(event_at)
        if event_at is not None and event_at.tzinfo is None:
            event_at = event_at.replace(tzinfo=UTC)
        candidates = [t for t in (stored, event_at) if t is not None]
        out[pid] = max(candidates) if candidates else None
    return out

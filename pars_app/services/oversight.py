"""The accreditor's overview: every provider it oversees, each one's five steps for a year.

Set-based and bounded by the page, whatever the filter or sort: one statement filters, sorts,
counts and cuts the page of providers, the steps' "done" rules written as conditions on
`Provider` (`services.checklist.done_conditions`, an index probe or a few per provider); a
second loads the facts behind the checklist for that page's providers (a row each, correlated
subqueries); `domain.checklist.build_checklist` then decides their steps in Python. Four queries
whatever the number of providers, and only the filter's probes grow with it (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
)

from ..domain import checklist as rules
from ..domain import deadlines
from ..domain.formats import FORMAT_CODES
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
from . import checklist, data_version
from .paging import Paged, clamp_page

PAGE_SIZE = 50
CHUNK = 1_000  # providers per probing statement (bound parameters stay well under limits)
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
    """One page of the overview, in four queries whatever the number of providers: the year's
    deadlines and agreement texts, the page's ids with the number of matches, their facts."""
    cycle = _cycle(f.year)
    query = _providers_query(accreditor, f, cycle, now)
    # The count rides along as a window, so the filter runs once and only the page comes back.
    counted = query.add_columns(func.count().over().label("total")).limit(PAGE_SIZE)
    page = f.page
    on_page = db.session.execute(counted.offset((page - 1) * PAGE_SIZE)).all()
    if not on_page and page > 1:  # past the last page (a stale link): show the last one
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        page = clamp_page(page, total, PAGE_SIZE)
        on_page = db.session.execute(counted.offset((page - 1) * PAGE_SIZE)).all()
    ids = [r.id for r in on_page]
    found = {
        r.id: _row(r, cycle, now)
        for r in _facts(cycle, now, select(Provider.id).where(Provider.id.in_(ids)))
    }
    return OverviewPage([found[pid] for pid in ids], on_page[0].total if on_page else 0, page)


def matching_rows(accreditor: Accreditor, f: OverviewFilter, now: datetime) -> list[ProviderRow]:
    """Every row matching the filter, sorted (the export): one query after the year's two."""
    cycle = _cycle(f.year)
    matching = _providers_query(accreditor, f, cycle, now)
    return [_row(r, cycle, now) for r in _facts(cycle, now, matching)]


def _providers_query(accreditor: Accreditor, f: OverviewFilter, cycle: _Cycle, now: datetime):
    """The ids of the providers in scope matching the filter, in the asked order; ties are
    broken by name, then id. The filter runs once per provider, an index probe or a few."""
    query = select(Provider.id).where(in_scope(accreditor))
    if f.q:
        like = f.q.lower()
        query = query.where(
            or_(
                func.lower(Provider.name).contains(like, autoescape=True),
                func.lower(Provider.code).startswith(like, autoescape=True),
            )
        )
    texts = cycle.text_ids
    done = checklist.done_conditions(cycle.year, now, texts)

    def meeting(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        """Condition: among the providers in scope that meet every condition, taken as one
        set. Negated or summed per provider, PostgreSQL ran each EXISTS as a subplan per row;
        as a set they become semi- and anti-joins. SQLite probes per provider either way."""
        chosen = select(Provider.id).where(in_scope(accreditor), *conditions)
        return Provider.id.in_(chosen.correlate(None))

    def complete() -> ColumnElement[bool]:
        return Provider.id.in_(_complete_ids(accreditor, cycle, now, texts, done))

    if f.state == "late":
        query = query.where(_past_due(cycle, now), ~complete())
    elif f.state == "not_done":
        query = query.where(~complete())
    elif f.state == "done":
        query = query.where(complete())
    if f.step:
        query = query.where(~meeting(done[f.step]))
    name = func.lower(Provider.name)
    keys = {
        "name": lambda: [name],
        "code": lambda: [Provider.code],
        "done": lambda: [sum(case((meeting(c), 1), else_=0) for c in done.values()), name],
        "days_left": lambda: [_days_left(cycle, now), name],
        "last_change": lambda: [_last_change(), name],
    }[f.sort]()
    if f.dir == "desc":
        return query.order_by(*(k.desc().nulls_last() for k in keys), Provider.id.desc())
    return query.order_by(*(k.asc().nulls_first() for k in keys), Provider.id)


def _complete_ids(
    accreditor: Accreditor,
    cycle: _Cycle,
    now: datetime,
    texts: Mapping[int, int],
    done: Mapping[str, ColumnElement[bool]],
) -> list[int]:
    """The providers in scope with all five steps of the year done.

    Proving a finished provider complete takes five probes or more (one per enduring material
    available in the year), for every finished provider on every view of "late", "not done" or
    "done" (16 ms of SQLite at 2,000 providers). So each provider's answer is remembered under
    its data version (services/data_version.py; every write to its step data moves it), today
    (the activities step follows the calendar) and its accreditor's latest agreement text: a
    view reads the versions of the providers in scope, one query, and probes only those that
    changed since, in one statement per CHUNK.
    """
    today = deadlines.central_date(now)
    in_view = db.session.execute(
        select(Provider.id, Provider.data_version, Provider.accreditor_id).where(
            in_scope(accreditor)
        )
    ).all()
    if data_version.has_pending_changes():  # never the overview's case; stay correct anyway
        return _probe_complete([pid for pid, _, _ in in_view], done)

    keys = {acc: ("complete", cycle.year, today, text) for acc, text in texts.items()}
    no_text = ("complete", cycle.year, today, None)
    wanted = [(pid, keys.get(acc, no_text), version) for pid, version, acc in in_view]
    complete: list[int] = []
    stale: list[tuple[int, Hashable, int]] = []
    for item, (found, value) in zip(wanted, data_version.lookup_many(wanted), strict=True):
        if not found:
            stale.append(item)
        elif value:
            complete.append(item[0])
    proven = set(_probe_complete([pid for pid, _, _ in stale], done))
    for pid, key, version in stale:
        data_version.remember(pid, key, version, pid in proven)
    return complete + sorted(proven)


def _probe_complete(ids: list[int], done: Mapping[str, ColumnElement[bool]]) -> list[int]:
    """Those of `ids` with all five steps done, by the SQL rules (`done_conditions`)."""
    # Summary first: the one step most unfinished providers lack, so most are settled by a
    # single index probe; the enduring materials' scan comes last.
    order = ("summary", "agreement", "contacts", "activities", "enduring")
    out: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        out += db.session.scalars(
            select(Provider.id).where(Provider.id.in_(chunk), *(done[k] for k in order))
        )
    return out


# --- The year per accreditor, and the computed sorts -----------------------------------------


@dataclass(frozen=True)
class _Cycle:
    """The year's facts per accreditor (a few rows): deadlines and the latest agreement text."""

    year: int
    deadlines: dict[int, datetime]  # accreditor id -> its stored deadline
    latest: dict[int, tuple[int, int]]  # accreditor id -> (text id, version)

    @property
    def text_ids(self) -> dict[int, int]:
        """accreditor id -> id of its latest agreement text for the year."""
        return {acc: text_id for acc, (text_id, _) in self.latest.items()}

    def deadline(self, accreditor_id: int) -> datetime:
        """Same rule as services.cycle.reporting_deadline: the stored row, else ACCME's rule."""
        due = self.deadlines.get(accreditor_id)
        if due is None:
            return deadlines.default_deadline(self.year)
        return due.astimezone(deadlines.CENTRAL)


def _cycle(year: int) -> _Cycle:
    """Two queries: the year's deadlines and latest agreement texts, for every accreditor."""
    return _Cycle(year, _deadlines(year), _latest_texts(year))


def _past_due(cycle: _Cycle, now: datetime) -> ColumnElement[bool]:
    """Condition: the provider's accreditor's deadline for the year has passed."""
    late = {acc for acc in cycle.deadlines if deadlines.is_late(cycle.deadline(acc), now)}
    if deadlines.is_late(deadlines.default_deadline(cycle.year), now):
        # Accreditors without a row follow ACCME's rule, which has passed.
        return Provider.accreditor_id.not_in(set(cycle.deadlines) - late)
    return Provider.accreditor_id.in_(late)


def _days_left(cycle: _Cycle, now: datetime) -> ColumnElement[int]:
    default = deadlines.days_left(deadlines.default_deadline(cycle.year), now)
    if not cycle.deadlines:
        return literal(default)
    days = {acc: deadlines.days_left(cycle.deadline(acc), now) for acc in cycle.deadlines}
    return case(days, value=Provider.accreditor_id, else_=default)


def _last_event():
    """The provider's latest audit event not made by an accreditor (an unlock is not the
    provider being active). A correlated MAX: one index probe on (provider_id, at)."""
    return (
        select(func.max(AuditEvent.at))
        .where(AuditEvent.provider_id == Provider.id, AuditEvent.accreditor_id.is_(None))
        .correlate(Provider)
        .scalar_subquery()
    )


def _last_change() -> ColumnElement[datetime]:
    """The newer of `last_activity_at` and the last event, either possibly NULL (as `_row`)."""
    stored, event_at = Provider.last_activity_at, _last_event()
    return case((stored > event_at, stored), else_=func.coalesce(event_at, stored))


# --- Facts, one row per provider -------------------------------------------------------------


def _facts(cycle: _Cycle, now: datetime, providers: Select) -> list[Row]:
    """One query: for each provider `providers` selects, in its order, a row with every fact
    its checklist needs, each a correlated subquery answered from an index for that provider.

    Correlated rather than GROUP BY over the chosen ids: for a state society's staff the
    tenancy criterion (`provider_id IN (its providers)`) sits beside the page's ids, and SQLite,
    without statistics, walked all 2,000 providers' index entries to find the page's 50.
    """
    year, today = cycle.year, deadlines.central_date(now)
    first, last = date(year, 1, 1), date(year, 12, 31)

    def one(column, *where, order=()):
        query = select(column).where(*where).order_by(*order).limit(1)
        return query.correlate(Provider).scalar_subquery()

    def count(*where):
        return one(func.count(), *where)

    mine = Activity.provider_id == Provider.id
    ended = (mine, Activity.end_date.between(first, last), Activity.end_date < today)
    enduring = (checklist.enduring_in_year_of(mine, year),)
    counted = exists().where(
        LearnerSnapshot.activity_id == Activity.id, LearnerSnapshot.year == year
    )
    texts = cycle.text_ids
    accepted = (
        AgreementAcceptance.provider_id == Provider.id,
        AgreementAcceptance.agreement_text_id
        == (case(texts, value=Provider.accreditor_id) if texts else null()),
    )
    # The latest review of any date; the domain decides whether it counts for the year.
    review = (ContactReview.provider_id == Provider.id,)
    latest_review = (ContactReview.reviewed_at.desc(), ContactReview.id.desc())
    lock = (YearLock.provider_id == Provider.id, YearLock.year == year)
    formats = {
        code: count(mine, Activity.format == code, Activity.start_date.between(first, last))
        for code in FORMAT_CODES
    }
    return db.session.execute(
        providers.with_only_columns(
            Provider.id,
            Provider.code,
            Provider.name,
            Provider.accreditor_id,
            Accreditor.code.label("accreditor_code"),
            *(n.label(f"format_{code}") for code, n in formats.items()),
            count(*ended).label("ended"),
            count(*ended, Activity.closed_at.is_(None)).label("ended_open"),
            count(*enduring).label("enduring"),
            count(*enduring, ~counted).label("enduring_missing"),
            one(AgreementAcceptance.accepted_at, *accepted).label("accepted_at"),
            one(User.email, *accepted, User.id == AgreementAcceptance.accepted_by_id).label(
                "accepted_by"
            ),
            one(
                ProgramSummary.submitted_at,
                ProgramSummary.provider_id == Provider.id,
                ProgramSummary.year == year,
                ProgramSummary.status == "submitted",
            ).label("submitted_at"),
            one(ContactReview.reviewed_at, *review, order=latest_review).label("reviewed_at"),
            select(User.email)
            .where(User.id == one(ContactReview.reviewed_by_id, *review, order=latest_review))
            .scalar_subquery()
            .label("reviewed_by"),
            exists().where(*lock, YearLock.unlocked_at.is_(None)).label("locked"),
            exists().where(*lock).label("ever_locked"),
            Provider.last_activity_at,
            _last_event().label("last_event_at"),
        ).join(Accreditor, Accreditor.id == Provider.accreditor_id)
    ).all()


def _row(r: Row, cycle: _Cycle, now: datetime) -> ProviderRow:
    """A provider's row: its facts as `domain.checklist` takes them, and its checklist."""
    by_format = {code: n for code in FORMAT_CODES if (n := getattr(r, f"format_{code}"))}
    agreement: dict = {"agreement_published": r.accreditor_id in cycle.latest}
    if r.accreditor_id in cycle.latest:
        # Only an acceptance of the latest version counts: a new version asks again.
        agreement.update(
            agreement_version=cycle.latest[r.accreditor_id][1],
            agreement_accepted_at=_aware(r.accepted_at),
            agreement_accepted_by=r.accepted_by,
        )
    facts = rules.ChecklistFacts(
        year=cycle.year,
        now=now,
        deadline=cycle.deadline(r.accreditor_id),
        **agreement,
        activities_by_format=by_format,
        ended_in_year=r.ended,
        ended_not_closed=r.ended_open,
        enduring_in_year=r.enduring,
        enduring_missing_counts=r.enduring_missing,
        summary_submitted_at=_aware(r.submitted_at),
        contacts_reviewed_at=_aware(r.reviewed_at),
        contacts_reviewed_by=r.reviewed_by,
        year_locked=bool(r.locked),
    )
    changes = [t for t in (r.last_activity_at, _aware(r.last_event_at)) if t is not None]
    return ProviderRow(
        id=r.id,
        code=r.code,
        name=r.name,
        accreditor_code=r.accreditor_code,
        checklist=rules.build_checklist(facts),
        started=sum(by_format.values()),
        # The last change the provider's own people made: accreditor acts do not count.
        last_change_at=max(changes) if changes else None,
        lock="locked" if r.locked else "unlocked" if r.ever_locked else "",
    )


def _aware(moment: datetime | str | None) -> datetime | None:
    """An instant read through a subquery: SQLite may hand it back as text, or naive; UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _latest_texts(year: int) -> dict[int, tuple[int, int]]:
    """Accreditor id -> (id, version) of its latest agreement text for `year`."""
    newest = (
        select(AgreementText.accreditor_id, func.max(AgreementText.version).label("version"))
        .where(AgreementText.year == year)
        .group_by(AgreementText.accreditor_id)
        .subquery()
    )
    return {
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


def _deadlines(year: int) -> dict[int, datetime]:
    """Accreditor id -> its stored deadline for `year` (absent: ACCME's rule applies)."""
    return dict(
        db.session.execute(
            select(ReportingDeadline.accreditor_id, ReportingDeadline.due_at).where(
                ReportingDeadline.year == year
            )
        ).all()
    )

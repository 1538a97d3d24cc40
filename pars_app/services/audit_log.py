"""Reading the audit trail: who did what, when, through which path.

`AuditEvent` is not `ProviderScoped` (accreditor-level events have no provider), so central
tenancy does not filter it: every query here starts from an explicit `AuditScope`.
Two queries per page (a count and the page), whatever the size of the log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from ..domain import deadlines
from ..domain.oversight import describe_details
from ..domain.values import parse_date
from ..extensions import db
from ..models import Accreditor, AuditEvent, Provider, User
from . import audit
from .oversight import search_text
from .paging import Paged, clamp_page

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000  # rows in one .xlsx; narrow the dates to export more
VIAS = tuple(audit.PATHS)


@dataclass(frozen=True)
class AuditScope:
    """Whose events a reader may see."""

    provider_id: int | None = None  # a provider admin: that provider's events only
    accreditor: Accreditor | None = None  # accreditor staff: its providers' and its own events

    @staticmethod
    def for_provider(provider_id: int) -> AuditScope:
        return AuditScope(provider_id=provider_id)

    @staticmethod
    def for_accreditor(accreditor: Accreditor) -> AuditScope:
        return AuditScope(accreditor=accreditor)


def _scope_condition(scope: AuditScope):
    if scope.provider_id is not None:
        return AuditEvent.provider_id == scope.provider_id
    acc = scope.accreditor
    if acc is None:
        return AuditEvent.id.is_(None)  # no scope, no events
    if acc.is_national:
        providers = AuditEvent.provider_id.is_not(None)
    else:
        mine = select(Provider.id).where(Provider.accreditor_id == acc.id)
        providers = AuditEvent.provider_id.in_(mine)
    return or_(providers, AuditEvent.accreditor_id == acc.id)


@dataclass(frozen=True)
class AuditFilter:
    provider: str = ""  # provider code (accreditor staff only)
    user: str = ""  # part of an email
    action: str = ""  # an action or its start ("activity." for every activity event)
    via: str = ""
    date_from: date | None = None  # Central dates, inclusive
    date_to: date | None = None
    page: int = 1
    ignored: tuple[str, ...] = ()

    def args(self, **changes) -> dict[str, str | int]:
        """Query-string arguments for this filter (with changes), defaults left out."""
        f = replace(self, **changes)
        out: dict[str, str | int] = {}
        for name in ("provider", "user", "action", "via"):
            if getattr(f, name):
                out[name] = getattr(f, name)
        if f.date_from:
            out["from"] = f.date_from.isoformat()
        if f.date_to:
            out["to"] = f.date_to.isoformat()
        if f.page != 1:
            out["page"] = f.page
        return out


def parse_filter(args: Mapping[str, str]) -> AuditFilter:
    """Read the log's query string; unreadable values are ignored with a note."""
    ignored: list[str] = []

    def day(name: str) -> date | None:
        try:
            return parse_date((args.get(name) or "").strip())
        except ValueError:
            ignored.append(f"Ignored {name} “{(args.get(name) or '')[:20]}”: not a date.")
            return None

    via = (args.get("via") or "").strip()
    if via and via not in VIAS:
        ignored.append(f"Ignored via “{via[:20]}”: not a known path.")
        via = ""
    raw_page = (args.get("page") or "").strip()
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 else 1
    return AuditFilter(
        provider=search_text(args.get("provider")).upper()[:20],
        user=search_text(args.get("user")).lower()[:254],
        action=search_text(args.get("action")).lower()[:60],
        via=via,
        date_from=day("from"),
        date_to=day("to"),
        page=max(page, 1),
        ignored=tuple(ignored),
    )


def _conditions(scope: AuditScope, f: AuditFilter) -> list:
    cond = [_scope_condition(scope)]
    if f.provider:
        cond.append(func.upper(Provider.code) == f.provider.upper())
    if f.user:
        cond.append(func.lower(User.email).contains(f.user.lower(), autoescape=True))
    if f.action:
        cond.append(AuditEvent.action.startswith(f.action.lower(), autoescape=True))
    if f.via:
        cond.append(AuditEvent.via == f.via)
    if f.date_from:
        cond.append(AuditEvent.at >= _central_midnight(f.date_from))
    if f.date_to:
        cond.append(AuditEvent.at < _central_midnight(f.date_to + timedelta(days=1)))
    return cond


def _central_midnight(d: date) -> datetime:
    # The date range is read in Central time, like every date on screen.
    return datetime.combine(d, time(0), tzinfo=deadlines.CENTRAL)


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    user_email: str | None
    provider_code: str | None
    provider_name: str | None

    @property
    def details(self) -> list[str]:
        return describe_details(self.event.details)


@dataclass(frozen=True)
class AuditPage(Paged):
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int = PAGE_SIZE


def _base(columns, scope: AuditScope, f: AuditFilter):
    return (
        select(*columns)
        .select_from(AuditEvent)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(Provider, Provider.id == AuditEvent.provider_id)
        .where(*_conditions(scope, f))
    )


_ROW = (AuditEvent, User.email, Provider.code, Provider.name)


def audit_page(scope: AuditScope, f: AuditFilter) -> AuditPage:
    """One page of events, newest first: a count query and a page query."""
    total = db.session.scalar(_base([func.count(AuditEvent.id)], scope, f)) or 0
    page = clamp_page(f.page, total, PAGE_SIZE)
    rows = db.session.execute(
        _base(_ROW, scope, f)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return AuditPage([AuditRow(*r) for r in rows], total, page)


def export_rows(scope: AuditScope, f: AuditFilter) -> Iterator[AuditRow]:
    """Every matching event, newest first, streamed (at most EXPORT_LIMIT)."""
    query = (
        _base(_ROW, scope, f)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(EXPORT_LIMIT)
        .execution_options(yield_per=1000)
    )
    for r in db.session.execute(query):
        yield AuditRow(*r)

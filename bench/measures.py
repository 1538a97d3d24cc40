"""The measurements. Each is a function `(Bench) -> list[Row]`, registered in order; a feature
that does not exist yet reports "not built yet" instead of failing the run."""

from __future__ import annotations

import importlib
import inspect
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl

from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from pars_app.extensions import db
from pars_app.models import Accreditor, Activity, Provider, User
from pars_app.services import activity_list, clock, data_version, oversight

from .harness import Bench, Row, counting_queries, measurement, paired_medians, ratio_row

PAGE_TARGET = 1.3  # latency at the big size ÷ at the small size
CLOSE_TARGET = 5.0  # the service's bulk close ÷ one raw UPDATE of the same rows


def _sizes(b: Bench) -> str:
    return f"{b.seeded.big.activities:,} ÷ {b.seeded.small.activities:,}"


def _page_rows(b: Bench, name: str, url: str, note: str = "") -> list[Row]:
    """Median latency of `url` for the big provider ÷ the small one, and queries per page."""
    at_small = f"at {b.seeded.small.activities:,}:"
    pair = (b.client(b.seeded.big), b.client(b.seeded.small))
    return _paired_rows(b, name, url, pair, _sizes(b), at_small, PAGE_TARGET, note)


def _paired_rows(
    b: Bench,
    name: str,
    url: str,
    clients: tuple[FlaskClient, FlaskClient],
    size: str,
    at_small: str,
    target: float,
    note: str = "",
) -> list[Row]:
    """Median latency of `url` for the first client ÷ the second (the big side ÷ the small),
    and the SQL queries each page sends, which must be equal."""

    def fetch(client) -> Callable[[], None]:
        def get() -> None:
            resp = client.get(url)
            assert resp.status_code == 200, f"{url} answered {resp.status_code}"

        return get

    big, small = clients
    t_big, t_small = paired_medians(fetch(big), fetch(small), b.cfg.runs, b.cfg.warmup)
    counts = []
    for client in (big, small):
        with counting_queries(b.app) as seen:
            fetch(client)()
        counts.append(len(seen))
    queries = Row(
        f"{name}: SQL queries per page",
        size,
        counts[0],
        at_small,
        counts[1],
        counts[0] / counts[1] if counts[1] else None,
        "equal",
        counts[0] == counts[1],
        unit="queries",
    )
    latency = ratio_row(f"{name}: latency", size, at_small, target, t_big, t_small)
    latency.note = f"GET {url}{note}"
    return [latency, queries]


def _list_rows(b: Bench, name: str, query: str) -> list[Row]:
    """A list page, noting how many rows match at each size: a ratio only compares like with
    like when the small provider's page is full too."""
    f = activity_list.parse_filter(dict(parse_qsl(query)))
    with b.app.app_context():
        matches = [
            activity_list.list_activities(who.id, f, b.today).total
            for who in (b.seeded.big, b.seeded.small)
        ]
    note = f" (matching: {matches[0]:,} vs {matches[1]:,}; {f.per_page} a page)"
    return _page_rows(b, name, f"/activities?{query}".rstrip("?"), note)


@measurement
def activities_list(b: Bench) -> list[Row]:
    """The list as it first opens, and the 'ended in last year and not closed' view."""
    year = b.today.year - 1
    return _list_rows(b, "activities list, default filter", "") + _list_rows(
        b, f"activities list, ended_open {year}", f"view=ended_open&year={year}"
    )


@measurement
def dashboard(b: Bench) -> list[Row]:
    """The live checklist (this year's, plus last year's when it is late)."""
    return _page_rows(b, "dashboard checklist", "/")


# --- Accreditor overview (issue 6) -----------------------------------------------------------

OVERVIEW_TARGET = 2.0  # the overview at 2,000 providers ÷ at 20


@measurement
def accreditor_overview(b: Bench) -> list[Row]:
    """The accreditor's overview as it opens, and filtered to the late providers, for a state
    society with 2,000 providers ÷ one with 20 (same seeding, same kind of accreditor)."""
    many, few = b.seeded.oversees_many, b.seeded.oversees_few
    if not (many and few and many.providers and few.providers):
        return [Row("accreditor overview: latency", "—", note="not seeded (--overview-many 0)")]
    size = f"{many.providers:,} ÷ {few.providers:,} providers"
    at_small = f"at {few.providers:,}:"
    pair = (b.client(many), b.client(few))
    rows: list[Row] = []
    for name, state in (("accreditor overview", ""), ("accreditor overview (late filter)", "late")):
        with b.app.app_context():
            year = oversight.overview_year(clock.now())
            f = oversight.OverviewFilter(year=year, state=state)
            found = [
                oversight.overview(db.session.get(Accreditor, who.id), f, clock.now()).total
                for who in (many, few)
            ]
        note = (
            f" (matching: {found[0]:,} vs {found[1]:,}; {oversight.PAGE_SIZE} a page; "
            f"{many.activities + few.activities:,} activities under the two societies)"
        )
        url = "/accreditor/" + (f"?state={state}" if state else "")
        rows += _paired_rows(b, name, url, pair, size, at_small, OVERVIEW_TARGET, note)
    return rows


# --- Bulk close -----------------------------------------------------------------------------

CLOSE_MODULE = "pars_app.services.activity_close"
CLOSE_NAMES = ("bulk_close", "close_matching", "close_many", "close_activities", "close_all")


def find_bulk_close() -> tuple[Callable[..., Any] | None, str]:
    """The bulk-close service function when it exists, else None and why not."""
    try:
        module = importlib.import_module(CLOSE_MODULE)
    except ModuleNotFoundError as err:
        if err.name != CLOSE_MODULE:
            raise
        return None, f"{CLOSE_MODULE} does not exist"
    for name in CLOSE_NAMES:
        fn = getattr(module, name, None)
        if callable(fn):
            return fn, f"{CLOSE_MODULE}.{name}"
    return None, f"{CLOSE_MODULE} has none of {', '.join(CLOSE_NAMES)}"


def _bind(fn: Callable[..., Any], known: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `fn` by parameter name; a required one not known is an error.

    When the function takes a filter, the filter is the selection ("select all N matching"),
    and optional id lists are left out."""
    params = inspect.signature(fn).parameters
    takes_filter = any(name in FILTER_NAMES for name in params)
    kwargs = {}
    for name, param in params.items():
        required = param.default is inspect.Parameter.empty
        if name in known and (required or not (takes_filter and name in ID_NAMES)):
            kwargs[name] = known[name]
        elif required and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"bench does not know what to pass as {name!r}")
    return kwargs


ID_NAMES = ("ids", "activity_ids", "selected", "selected_ids")
FILTER_NAMES = ("f", "filter", "flt", "activity_filter")


def _close_arguments(b: Bench) -> dict[str, Any]:
    """What a bulk-close service may ask for, under the names it is likely to use."""
    from pars_app.services.activity_list import ActivityFilter

    pid = b.seeded.closer.id
    user = db.session.scalar(select(User).where(User.email == b.seeded.closer.email))
    ids = list(db.session.scalars(select(Activity.id).where(Activity.provider_id == pid)))
    aliases = {
        "provider": db.session.get(Provider, pid),
        "provider_id": pid,
        "user": user,
        "user_id": user.id,
        "ids": ids,
        # "Select all N matching this filter": the closable ones that ended last year.
        "f": ActivityFilter(year=b.today.year - 1, view="closable", by="end"),
        "today": b.today,
        "now": datetime.now(UTC),
        "via": "web",
    }
    for alias, name in (
        ("actor", "user"),
        ("closed_by", "user"),
        ("actor_id", "user_id"),
        ("closed_by_id", "user_id"),
        *((name, "ids") for name in ID_NAMES[1:]),
        *((name, "f") for name in FILTER_NAMES[1:]),
    ):
        aliases[alias] = aliases[name]
    return aliases


def _reopen(pid: int) -> None:
    t = Activity.__table__
    db.session.execute(
        update(t).where(t.c.provider_id == pid).values(closed_at=None, closed_by_id=None)
    )
    data_version.touch(pid)  # housekeeping between runs, but still a change of its data
    db.session.commit()


def _raw_close(pid: int, user_id: int, today: date) -> None:
    """The baseline: one set-based UPDATE of the same rows (Core, no ORM), committed. On a
    connection of its own, outside the session and so outside its data-version hooks: the
    baseline is the bare statement (the service's one extra UPDATE of the version is its own
    cost)."""
    t, now = Activity.__table__, datetime.now(UTC)
    db.session.commit()  # the session holds no transaction (no stale snapshot) across it
    with db.engine.begin() as conn:
        conn.execute(
            update(t)
            .where(
                t.c.provider_id == pid,
                t.c.closed_at.is_(None),
                t.c.completeness == "closable",
                t.c.end_date < today,
            )
            .values(closed_at=now, closed_by_id=user_id, updated_at=now, version=t.c.version + 1)
        )


def _closed(pid: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Activity.provider_id == pid, Activity.closed_at.is_not(None))
    )


@measurement
def bulk_close(b: Bench) -> list[Row]:
    """Closing every matching activity through the service ÷ one raw UPDATE of the same rows."""
    name, n = "bulk close through the service", b.seeded.closer.activities
    size = f"{n:,} activities"
    fn, where = find_bulk_close()
    if fn is None:
        return [Row(name, size, target=f"≤ {CLOSE_TARGET:g}", note=f"not built yet: {where}")]
    pid = b.seeded.closer.id
    service_ms: list[float] = []
    raw_ms: list[float] = []
    with b.app.app_context():
        known = _close_arguments(b)
        try:
            kwargs = _bind(fn, known)
        except TypeError as err:
            note = f"{where}{inspect.signature(fn)}: {err}; adapt bench/measures.py"
            return [Row(name, size, target=f"≤ {CLOSE_TARGET:g}", passed=False, note=note)]
        for i in range(1 + b.cfg.slow_runs):  # the first run is a warm-up
            _reopen(pid)
            try:
                service = _timed(lambda: fn(**kwargs))
            except Exception as err:  # report it in the table; the other measurements go on
                db.session.rollback()
                note = f"{where} raised {type(err).__name__}: {err}"
                return [Row(name, size, target=f"≤ {CLOSE_TARGET:g}", passed=False, note=note)]
            db.session.commit()  # harmless when the service committed (it should)
            closed = _closed(pid)
            _reopen(pid)
            raw = _timed(lambda: _raw_close(pid, known["user_id"], b.today))
            if i > 0:
                service_ms.append(service)
                raw_ms.append(raw)
        _reopen(pid)
    row = ratio_row(
        name, size, "one raw UPDATE:", CLOSE_TARGET, *map(statistics.median, (service_ms, raw_ms))
    )
    row.note = f"{where}; closed {closed:,} of {n:,}"
    if closed != n:
        row.passed = False
    return [row]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


# The batch-file rows (bench/imports.py: export; bench/import_pipeline.py: imports, memory) and
# the throughput under gunicorn (bench/throughput.py) register themselves on import, after the
# rows above.
from . import import_pipeline, imports, throughput  # noqa: E402, F401

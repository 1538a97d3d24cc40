"""A per-provider data version, and a per-process cache of facts keyed by it.

The dashboard's counts (activities per format, ended and still open, enduring materials and
their December 31 counts, learners by format) read one provider-year of activities: at 50,000
activities that is most of the page's time, although between two views of the dashboard the
data rarely changes. Likewise the accreditor overview's "late" filter proves every finished
provider complete, five probes or more each, on every view. So every write to a provider's
step data (activities, learner snapshots, Program Summary, agreement acceptances, contact
reviews) bumps `providers.data_version` in the same transaction, and `cached()` keeps computed
facts in the process keyed by that version: a view between two changes costs no counting.

How the version is kept, whatever path writes (form, inline, bulk close, import, CLI, demo):
- ORM changes are seen at flush: any Activity or LearnerSnapshot in the session's new, dirty
  or deleted sets marks its provider;
- Core or bulk statements executed through the session (`insert(table)` executemany,
  `update(Activity)`, `delete(...)`) on those tables are seen too: an INSERT names its
  providers in its rows; an UPDATE or DELETE cannot be read back to providers, so its service
  calls `touch(provider_id)`, and a commit that wrote such a statement without saying whose
  data it changed fails loudly in tests (and logs an error elsewhere) instead of serving
  stale counts;
- at commit the marked providers' versions go up by one, in one UPDATE, as the transaction's
  last statement (PostgreSQL takes the providers' row locks last, so two writers of one
  provider cannot deadlock on them).

Why reading the version first makes the cache safe: a reader takes the version before it
counts, so what it counts is at least as new as that version; an entry is reused only while
the version is unchanged, i.e. while nothing of that provider has been committed since. A
session holding uncommitted changes to step data neither reads nor fills the cache.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from itertools import chain
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event, update
from sqlalchemy.orm import ORMExecuteState, Session

from ..extensions import db
from ..models import (
    Activity,
    AgreementAcceptance,
    ContactReview,
    LearnerSnapshot,
    ProgramSummary,
    Provider,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Rows whose changes move the cached facts: everything the five steps' "done" rules read
# (services.checklist). Child rows (supporters, MOC, joint providers) do not count there.
WATCHED = (Activity, LearnerSnapshot, ProgramSummary, AgreementAcceptance, ContactReview)
_WATCHED_TABLES = frozenset(m.__table__.name for m in WATCHED)
_TOUCHED = "pars_touched_providers"  # session.info: provider ids changed in this transaction
_UNNAMED = "pars_unnamed_write"  # session.info: a watched UPDATE/DELETE whose provider is unsaid
# Entries per process: a handful of counts or one flag each; the overview keeps a flag per
# provider in scope and year, so this holds a few years of a national scope (~10 MB at most).
CACHE_SIZE = 50_000


def touch(provider_id: int, session: Session | None = None) -> None:
    """Say that this transaction changes `provider_id`'s step data (`WATCHED`). Needed only
    after a bulk UPDATE or DELETE; ORM changes and INSERTs are noticed on their own."""
    (session or db.session).info.setdefault(_TOUCHED, set()).add(provider_id)


@event.listens_for(Session, "before_flush")
def _notice_objects(session: Session, _ctx, _instances) -> None:
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, WATCHED) and obj.provider_id is not None:
            touch(obj.provider_id, session)


@event.listens_for(Session, "do_orm_execute")
def _notice_statements(state: ORMExecuteState) -> None:
    statement = state.statement
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) not in _WATCHED_TABLES:
        return
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    named = {row["provider_id"] for row in rows if row and "provider_id" in row}
    if state.is_insert and named:
        for provider_id in named:
            touch(provider_id, state.session)
    else:
        state.session.info[_UNNAMED] = True


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    # Flush first, so objects still pending are noticed (commit would flush after this hook).
    session.flush()
    touched = session.info.pop(_TOUCHED, None)
    unnamed = session.info.pop(_UNNAMED, False)
    if unnamed and not touched:
        message = (
            "a bulk UPDATE or DELETE of providers' step data did not say whose "
            "data it changed: call pars_app.services.data_version.touch(provider_id)"
        )
        if has_app_context() and current_app.testing:
            raise RuntimeError(message)
        log.error(message)
    if not touched:
        return
    table = Provider.__table__
    session.execute(
        update(table)
        .where(table.c.id.in_(sorted(touched)))
        .values(
            data_version=table.c.data_version + 1,
            updated_at=table.c.updated_at,  # not a change to the provider's own details
        )
    )


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_TOUCHED, None)
    session.info.pop(_UNNAMED, None)


class _Cache:
    """A small LRU map shared by the threads of one process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[int, object]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> tuple[bool, object]:
        return self.get_many([(key, version)])[0]

    def get_many(self, wanted: list[tuple[Hashable, int]]) -> list[tuple[bool, object]]:
        """`get` for many (key, version) pairs under one lock (the overview asks thousands)."""
        entries, out = self.entries, []
        with self.lock:
            for key, version in wanted:
                entry = entries.get(key)
                if entry is None or entry[0] != version:
                    out.append((False, None))
                else:
                    entries.move_to_end(key)
                    out.append((True, entry[1]))
        return out

    def put(self, key: Hashable, version: int, value: object) -> None:
        with self.lock:
            self.entries[key] = (version, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def _cache() -> _Cache:
    return current_app.extensions.setdefault("pars_facts_cache", _Cache(CACHE_SIZE))


def cached(provider_id: int, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for `(provider_id, key)` at the provider's current data
    version. `key` must name everything else the facts depend on (year, today, ...), and the
    value must not be mutated by callers (it is shared)."""
    if has_pending_changes():
        return compute()
    session = db.session
    # Read before counting (see the module's docstring). Usually the provider is in the
    # session's identity map already (the signed-in user's), so this costs no query.
    provider = session.get(Provider, provider_id)
    if provider is None:
        return compute()
    version = provider.data_version
    full_key = (provider_id, key)
    found, value = _cache().get(full_key, version)
    if found:
        return value  # type: ignore[return-value]
    value = compute()
    _cache().put(full_key, version, value)
    return value


def has_pending_changes() -> bool:
    """Whether this session holds uncommitted changes to any provider's step data: then
    nothing it computes may be remembered, and nothing remembered describes what it sees."""
    session = db.session
    if session.info.get(_TOUCHED) or session.info.get(_UNNAMED):
        return True
    return any(isinstance(o, WATCHED) for o in chain(session.new, session.dirty, session.deleted))


def lookup_many(wanted: list[tuple[int, Hashable, int]]) -> list[tuple[bool, object]]:
    """For each (provider_id, key, version): (True, value) when `remember` stored a value for
    `(provider_id, key)` at `version` (the provider's data version the caller read before
    computing), else (False, None). For callers that read many providers' versions in one
    query (the overview)."""
    return _cache().get_many([((pid, key), version) for pid, key, version in wanted])


def remember(provider_id: int, key: Hashable, version: int, value: object) -> None:
    """Store `value` for `(provider_id, key)` at `version` (read before it was computed)."""
    _cache().put((provider_id, key), version, value)

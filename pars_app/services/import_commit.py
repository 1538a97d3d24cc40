"""Applying a previewed activity import: one transaction, set-based writes, re-validated.

The preview stored each row's typed input (`ImportRow.input_json`); this module applies those
rows without reading the file again. Before writing it checks, in the same transaction, that
nothing the preview relied on has moved: an activity changed, closed or deleted since, an ID
taken by someone else, a year locked since. Any such row aborts the whole commit (a failed
batch writes nothing) and is reported, so the user previews again instead of overwriting.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from ..extensions import db
from ..models import (
    Activity,
    AuditEvent,
    CommercialSupporter,
    ImportRow,
    JointProvider,
    MocRegistration,
    Provider,
)
from . import data_version
from .activity_close import locked_years
from .activity_edit import CLOSED_ACTION, LOCKED, SCALARS, next_provider_activity_id
from .import_plan import CLOSE, CREATE, UNCHANGED, UPDATE, StoredInput, stored_inputs

CHUNK = 1000


def _converted(convert: Callable[[Any], Any], column: Sequence[Any]) -> list[Any]:
    """A column's values through its bind processor, each distinct value once when they
    repeat (flags, dates, the instant of the commit): equal values convert alike."""
    try:
        distinct = set(column)
    except TypeError:  # unhashable values: one by one
        return list(map(convert, column))
    if len(distinct) * 2 > len(column):
        return list(map(convert, column))
    table = {value: convert(value) for value in distinct}
    return list(map(table.__getitem__, column))


def insert_many(table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) in one executemany, as Core would store them.

    Core's executemany builds and converts a parameter set row by row: for the 60,000 rows of
    a 10,000-activity import that cost more than the database's own work. Here the statement
    is still the one Core compiles for the table (the dialect's SQL and parameter style), and
    every value still goes through its column type's own bind processor (dates, UTC instants,
    hundredths, flags), but a column at a time, each distinct value once.
    """
    if not rows:
        return
    names = list(rows[0])
    pick = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    insert_rows(table, names, list(map(pick, rows)))


def insert_rows(table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """`insert_many` for rows given as tuples of values in the order of `names` (the commit
    builds its rows so, without a dict per row)."""
    if not rows:
        return
    conn = db.session.connection()
    dialect = conn.dialect
    names = list(names)
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    if set(compiled.binds) != set(names):  # a column with a default was left out
        raise ValueError(f"insert_many into {table.name} needs: {sorted(compiled.binds)}")
    columns = list(zip(*rows, strict=True))
    for i, name in enumerate(names):
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is None:
            continue
        columns[i] = _converted(convert, columns[i])
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        copy_rows(conn, table, names, zip(*columns, strict=True))
        return
    if compiled.positional:
        order = [names.index(name) for name in compiled.positiontup or ()]
        params: list[Any] = list(zip(*(columns[i] for i in order), strict=True))
    else:
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    conn.exec_driver_sql(compiled.string, params)


def copy_rows(
    conn: Connection, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL: the rows (values in `names`' order) through COPY FROM STDIN, in the
    session's transaction.

    psycopg pipelines an executemany, but the server still parses, binds and runs one INSERT
    per row: 70,000 of them were two thirds of a 10,000-activity commit. COPY takes the same
    values (psycopg adapts them as it would the INSERT's parameters) as one stream.
    """
    quote = conn.dialect.identifier_preparer
    target = f"{quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@dataclass
class Conflict:
    """A previewed row that no longer holds: the commit is refused because of it."""

    number: int
    provider_activity_id: str
    message: str


@dataclass
class CommitResult:
    created: int = 0
    updated: int = 0
    closed: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class _Plan:
    """The columns of an `ImportRow` the commit needs (read as plain rows, not ORM objects)."""

    number: int
    action: str
    close: str
    activity_id: int | None
    version: int | None
    provider_activity_id: str
    changes_json: str | None


@dataclass
class _Row:
    plan: _Plan
    data: StoredInput


_PLAN_COLUMNS = (
    ImportRow.number,
    ImportRow.action,
    ImportRow.close,
    ImportRow.activity_id,
    ImportRow.version,
    ImportRow.provider_activity_id,
    ImportRow.changes_json,
    ImportRow.input_json,
)


def _planned(job_id: int, action: str, *also: ColumnElement[bool]) -> Iterator[Row]:
    """The job's rows of one action (and `also`), in file order, CHUNK at a time.

    One action at a time, so that each query walks `ix_import_rows_job_action_number` from
    where the last stopped: with the actions OR-ed together the database read every row of the
    job and sorted them for each chunk, quadratic in the file's length.
    """
    last = 0
    while True:
        found = db.session.execute(
            select(*_PLAN_COLUMNS)
            .where(
                ImportRow.job_id == job_id,
                ImportRow.action == action,
                ImportRow.number > last,
                *also,
            )
            .order_by(ImportRow.number)
            .limit(CHUNK)
        ).all()
        yield from found
        if len(found) < CHUNK:
            return
        last = found[-1].number


def _chunks(job_id: int, today: date) -> Iterator[list[_Row]]:
    """The job's rows to apply (creates, updates, and unchanged rows that close), in file
    order, a chunk at a time (memory stays flat)."""
    closing = _planned(job_id, UNCHANGED, ImportRow.close == CLOSE)
    rows = heapq.merge(
        _planned(job_id, CREATE), _planned(job_id, UPDATE), closing, key=attrgetter("number")
    )
    while found := list(islice(rows, CHUNK)):
        inputs = stored_inputs([r.input_json for r in found], today)
        yield [_Row(_Plan(*r[:-1]), data) for r, data in zip(found, inputs, strict=True)]


def _lock_provider(provider_id: int) -> None:
    """Serialise imports of one provider: generated IDs and re-validation must not interleave.

    On PostgreSQL the provider row is locked until commit; on SQLite the job update that opens
    the transaction already holds the database's single write lock.
    """
    db.session.execute(
        select(Provider.id).where(Provider.id == provider_id).with_for_update()
    ).all()


def _current(provider_id: int, ids: list[int]) -> dict[int, tuple[int, Any, date]]:
    if not ids:  # a chunk of new activities
        return {}
    rows = db.session.execute(
        select(Activity.id, Activity.version, Activity.closed_at, Activity.end_date)
        .where(Activity.provider_id == provider_id, Activity.id.in_(ids))
        .with_for_update()
    ).all()
    return {r.id: (r.version, r.closed_at, r.end_date) for r in rows}


def known_ids(provider_id: int) -> set[str]:
    """The provider's Provider Activity IDs, read once by a preview or a commit.

    Once, not per chunk of rows: a chunk of new activities (most rows of a new year's file)
    then needs no query, and on PostgreSQL a table that has just grown by thousands of rows
    still has the statistics of a small one, so each chunk's IN query became a scan of the
    whole table. A file's own rows cannot collide with each other (a repeated ID is an error
    in the preview), so what was there at the start is all its new rows can meet.
    """
    return set(
        db.session.scalars(
            select(Activity.provider_activity_id).where(Activity.provider_id == provider_id)
        )
    )


def new_ids(table: Table, count: int) -> list[int]:
    """Ids for `count` new rows of `table`, taken before the INSERT, so that no query has to
    find them afterwards (COPY returns nothing; on SQLite, RETURNING in parameter order
    would send one INSERT per row)."""
    if db.session.connection().dialect.name == "postgresql":
        sql = "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        return list(db.session.scalars(text(sql), {"table": table.name, "n": count}))
    # SQLite gives a new row the largest id plus one, as here; and the import's transaction
    # holds the database's write lock from its first statement (imports._commit), so no
    # other connection can insert in between.
    first = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(first, first + count))


def _check_chunk(
    provider_id: int, rows: list[_Row], locked: frozenset[int], taken: set[str]
) -> list[Conflict]:
    """Rows of this chunk whose preview no longer matches the stored data."""
    out: list[Conflict] = []
    current = _current(provider_id, [r.plan.activity_id for r in rows if r.plan.activity_id])
    for r in rows:
        p = r.plan
        problem = None
        if p.action == CREATE and p.provider_activity_id in taken:
            problem = f"“{p.provider_activity_id}” was created by someone else since the preview."
        elif p.activity_id is not None:
            now = current.get(p.activity_id)
            if now is None:
                problem = "This activity was deleted since the preview."
            elif now[0] != p.version:
                problem = "This activity was changed since the preview."
            elif now[2].year in locked:
                problem = LOCKED.format(year=now[2].year) + " since the preview."
        end = r.data.columns["end_date"]
        if problem is None and end and end.year in locked:
            problem = LOCKED.format(year=end.year) + " since the preview."
        if problem:
            out.append(Conflict(p.number, p.provider_activity_id, problem))
    return out


class _IdSource:
    """Generated Provider Activity IDs for rows without one: 2025-0001, 2025-0002, ..."""

    def __init__(self, provider_id: int):
        self.provider_id = provider_id
        self.next: dict[int, int] = {}

    def take(self, year: int) -> str:
        if year not in self.next:
            first = next_provider_activity_id(self.provider_id, year)
            self.next[year] = int(first.split("-", 1)[1])
        number = self.next[year]
        self.next[year] = number + 1
        return f"{year}-{number:04d}"


def _columns(r: _Row) -> dict[str, Any]:
    columns = r.data.columns
    values = {name: columns[name] for name in SCALARS}
    values["completeness"], values["problem_count"] = r.data.derived
    return values


# The child tables' columns, in the order the commit builds their rows.
_JOINT = ("activity_id", "position", "name")
_SUPPORTER = ("activity_id", "position", "name", "kind", "amount_cents")
_SUPPORTER += ("in_kind_nature", "in_kind_other")  # StoredInput.supporters' order
_MOC = ("activity_id", "board", "credit_types", "points", "practice_areas")
_EVENT = ("at", "user_id", "provider_id", "action", "entity_type", "entity_id", "via", "details")


def _insert_children(rows: list[tuple[int, StoredInput]]) -> None:
    joint: list[tuple] = []
    supporters: list[tuple] = []
    moc: list[tuple] = []
    for activity_id, data in rows:
        joint += [(activity_id, i, name) for i, name in enumerate(data.joint_providers)]
        supporters += [(activity_id, i, *s) for i, s in enumerate(data.supporters)]
        moc += [
            (activity_id, board, ", ".join(types), points, "\n".join(areas))
            for board, types, points, areas in data.moc
        ]
    insert_rows(JointProvider.__table__, _JOINT, joint)
    insert_rows(CommercialSupporter.__table__, _SUPPORTER, supporters)
    insert_rows(MocRegistration.__table__, _MOC, moc)


def _replace_children(ids: list[int], rows: list[tuple[int, StoredInput]]) -> None:
    for model in (JointProvider, CommercialSupporter, MocRegistration):
        db.session.execute(delete(model.__table__).where(model.__table__.c.activity_id.in_(ids)))
    _insert_children(rows)


@dataclass
class _Writer:
    provider_id: int
    user_id: int | None
    job_id: int
    now: datetime
    today: date
    ids: _IdSource
    result: CommitResult
    events: list[tuple] = field(default_factory=list)  # rows of _EVENT

    def event(self, action: str, activity_id: int, changes_json: str | None = None) -> None:
        # The changes are already JSON (stored by the preview): spliced in, not re-encoded.
        details = f'{{"import_id": {self.job_id}'
        if changes_json:
            details += f', "changes": {changes_json}'
        self.events.append(
            (
                self.now,
                self.user_id,
                self.provider_id,
                action,
                "Activity",
                activity_id,
                "import",
                details + "}",
            )
        )

    def create(self, rows: list[_Row]) -> None:
        if not rows:
            return
        values = []
        table = Activity.__table__
        ids = new_ids(table, len(rows))
        for activity_id, r in zip(ids, rows, strict=True):
            pid = r.plan.provider_activity_id or self.ids.take(r.data.columns["start_date"].year)
            r.plan.provider_activity_id = pid
            closing = r.plan.close == CLOSE
            # Every plain field of the input, both IDs included (read for this commit alone).
            v = r.data.columns
            v["completeness"], v["problem_count"] = r.data.derived
            v.update(
                id=activity_id,
                provider_id=self.provider_id,
                provider_activity_id=pid,
                legacy_data=json.dumps(r.data.legacy) if r.data.legacy is not None else None,
                created_by_id=self.user_id,
                updated_by_id=self.user_id,
                created_at=self.now,
                updated_at=self.now,
                version=1,
                closed_at=self.now if closing else None,
                closed_by_id=self.user_id if closing else None,
            )
            values.append(v)
        insert_many(table, values)
        _insert_children(list(zip(ids, (r.data for r in rows), strict=True)))
        for activity_id, r in zip(ids, rows, strict=True):
            r.plan.activity_id = activity_id
            self.event("activity.created", activity_id, r.plan.changes_json)
            if r.plan.close == CLOSE:
                self.event(CLOSED_ACTION, activity_id)
                self.result.closed += 1
        self.result.created += len(rows)

    def update(self, rows: list[_Row]) -> None:
        changed = [r for r in rows if r.plan.action == UPDATE]
        closing = [r for r in rows if r.plan.close == CLOSE]
        params = []
        for r in changed:
            v = _columns(r)
            if r.data.legacy is not None:
                v["legacy_data"] = json.dumps(r.data.legacy)
            params.append(
                {f"v_{k}": value for k, value in v.items()}
                | {"b_id": r.plan.activity_id, "b_version": r.plan.version + 1}
            )
        if params:
            table = Activity.__table__
            names = [k[2:] for k in params[0] if k.startswith("v_")]
            keys = set(names)
            # Rows without legacy columns leave theirs alone: fill in the stored value.
            if any("v_legacy_data" in p for p in params):
                for p, r in zip(params, changed, strict=True):
                    legacy = r.data.legacy
                    p.setdefault("v_legacy_data", None if legacy is None else json.dumps(legacy))
                keys.add("legacy_data")
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    {k: bindparam(f"v_{k}") for k in keys}
                    | {
                        "version": bindparam("b_version"),
                        "updated_at": self.now,
                        "updated_by_id": self.user_id,
                    }
                )
            )
            db.session.execute(statement, params)
            _replace_children(
                [r.plan.activity_id for r in changed],
                [(r.plan.activity_id, r.data) for r in changed],
            )
            for r in changed:
                self.event("activity.updated", r.plan.activity_id, r.plan.changes_json)
            self.result.updated += len(changed)
        self._close([r for r in closing if r.plan.action == UPDATE], bumped=True)
        self._close([r for r in closing if r.plan.action != UPDATE], bumped=False)

    def _close(self, rows: list[_Row], bumped: bool) -> None:
        if not rows:
            return
        table = Activity.__table__
        version = bindparam("b_version")
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(closed_at=self.now, closed_by_id=self.user_id, version=version)
        )
        # A row that also updated fields has its version bumped once already.
        params = [
            {"b_id": r.plan.activity_id, "b_version": r.plan.version + (2 if bumped else 1)}
            for r in rows
        ]
        db.session.execute(statement, params)
        for r in rows:
            self.event(CLOSED_ACTION, r.plan.activity_id)
        self.result.closed += len(rows)

    def flush_events(self) -> None:
        insert_rows(AuditEvent.__table__, _EVENT, self.events)
        self.events = []


def apply_activity_rows(
    job_id: int, provider_id: int, user_id: int | None, now: datetime, today: date
) -> CommitResult:
    """Apply the job's create/update/close rows in the caller's transaction, which on SQLite
    must already hold the write lock (`imports._commit` opens it with an UPDATE).

    Returns the counts, or the conflicts found (then nothing must be committed: the caller
    rolls back).
    """
    _lock_provider(provider_id)
    data_version.touch(provider_id)  # its bulk UPDATEs and DELETEs move the dashboard's counts
    locked = locked_years(provider_id)
    taken = known_ids(provider_id)  # under the provider's lock
    result = CommitResult()
    writer = _Writer(provider_id, user_id, job_id, now, today, _IdSource(provider_id), result)
    for rows in _chunks(job_id, today):
        conflicts = _check_chunk(provider_id, rows, locked, taken)
        if conflicts or result.conflicts:
            result.conflicts += conflicts
            continue  # keep checking, to report every row at once; nothing will be kept
        writer.create([r for r in rows if r.plan.action == CREATE])
        writer.update([r for r in rows if r.plan.action != CREATE])
        writer.flush_events()
    return result

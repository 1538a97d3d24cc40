"""Planning one batch-file row (spec §9): what it would do to the provider's activities.

A row is read as the activity form would read the same values (`import_input.read_row` for a
new activity, the form's own `activity_input.read_form` over the stored activity for an
update) and checked with the same rules as a save (`activity_edit.input_errors`), so a file can
never hold what the form would refuse. Nothing here writes: the plan is stored as `ImportRow`s
and applied by `import_commit`, which never parses the file again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

from ..domain import status as rules
from ..domain.codes import OUTCOMES
from ..domain.values import parse_date, parse_yes_no
from ..io import RawRow, choice_key
from ..io.fields import COLUMNS, column, split_names
from ..models import Activity
from .activity_edit import LOCKED, input_errors, input_snapshot, snapshot
from .activity_input import (
    SCALAR_FIELDS,
    ActivityForm,
    ActivityInput,
    Errors,
    MocRow,
    SupporterRow,
    form_of,
    read_form,
)
from .import_input import RowRead, read_row

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"
# A row's Close Activity = Yes: closes, is refused (with its reasons), or finds the activity
# already closed (nothing to do, said so in the preview).
CLOSE, CLOSE_REFUSED, ALREADY_CLOSED = "close", "refused", "closed"

_CHOICE_KEYS = frozenset({"format", "delivery", "providership", "passport_registration"})
_CODE_KEYS = frozenset({"state", "country"})
_DATE_KEYS = frozenset({"start_date", "end_date"})
_YES_NO_KEYS = frozenset({"passport_listed", "passport_fee", "commercial_support"})
# Keys whose change on an existing activity suggests the row names the wrong activity.
_KEY_DRIFT = {"format": "format", "start_date": "start date"}
# Domain problem fields that are not a column of their own.
_FIELD_WORDS = {
    "outcomes": "Outcome measures",
    "supporters": "Commercial supporters",
    "moc": "MOC",
    "joint_providers": "Joint Providers",
}


@dataclass(frozen=True)
class Message:
    """One thing to tell the user about a row: an error blocks it, a warning does not."""

    column: str
    text: str
    level: str = "error"  # error | warning


@dataclass
class PlanContext:
    """What planning needs besides the row: the day, the locks, and what the file said so far."""

    today: date
    locked: frozenset[int]
    label: Callable[[str], str]
    seen_ids: dict[str, int] = field(default_factory=dict)
    seen_untitled: dict[tuple[str, date], int] = field(default_factory=dict)

    def column_label(self, path: str) -> str:
        if path in _FIELD_WORDS:
            return _FIELD_WORDS[path]
        try:
            return self.label(path)
        except (KeyError, ValueError, IndexError):
            return path.replace("_", " ").capitalize()


@dataclass
class PlannedRow:
    """One row's plan, shaped like an `ImportRow`."""

    number: int
    action: str
    provider_activity_id: str = ""
    title: str = ""
    activity_id: int | None = None
    version: int | None = None
    close: str = ""
    data: ActivityInput | None = None
    legacy_data: dict | None = None
    changes: dict[str, list[Any]] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    raw: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None  # what a learner-count row will write
    # The stored derived columns (completeness, problem count): neither depends on the date
    # or on being closed, so the preview's one evaluation serves the commit too.
    derived: tuple[str, int] | None = None

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.level == "error"]

    def as_row(self, job_id: int) -> tuple:
        """The `import_rows` columns of this plan, as a tuple in ROW_COLUMNS' order."""
        payload = None
        if self.action != ERROR and self.data is not None:
            payload = input_to_json(self.data, self.legacy_data, self.derived)
        elif self.action != ERROR and self.extra is not None:
            payload = json.dumps(self.extra)
        return (
            job_id,
            self.number,
            self.action,
            self.close,
            self.activity_id,
            self.version,
            self.provider_activity_id[:64],
            self.title[:500],
            payload,
            json.dumps(self.changes, default=str) if self.changes else None,
            json.dumps([m.__dict__ for m in self.messages]) if self.messages else None,
            json.dumps(self.raw, default=_json_default) if self.raw else None,
        )


# The `import_rows` columns a plan fills, in `PlannedRow.as_row`'s order.
ROW_COLUMNS = ("job_id", "number", "action", "close", "activity_id", "version")
ROW_COLUMNS += ("provider_activity_id", "title", "input_json", "changes_json")
ROW_COLUMNS += ("messages_json", "raw_json")


# --- The typed input, stored between preview and commit -------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


_INPUT_FIELDS = tuple(ActivityInput.__dataclass_fields__)
# The stored input is one JSON array (positional: a 10,000-row plan is written once and read
# once, and an array of plain values costs a third of a keyed object each way):
#   [[the plain fields, in _PLAIN order], [joint providers], [[supporter fields]...],
#    [[board, [credit types], points, [practice areas]]...], legacy columns, derived]
_GROUPS = ("joint_providers", "supporters", "moc")
_PLAIN = tuple(name for name in _INPUT_FIELDS if name not in _GROUPS)
_plain_of = attrgetter(*_PLAIN)
_DATES = tuple(i for i, name in enumerate(_PLAIN) if name in ("start_date", "end_date"))
_CREDITS = _PLAIN.index("credits")
_SUPPORTER = ("name", "kind", "amount_cents", "in_kind_nature", "in_kind_other")
_supporter_of = attrgetter(*_SUPPORTER)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)


def input_to_json(
    data: ActivityInput, legacy_data: dict | None = None, derived: tuple[str, int] | None = None
) -> str:
    """The typed input as JSON (dates ISO, decimals as text), for the commit to apply."""
    plain = list(_plain_of(data))
    for i in _DATES:
        if plain[i] is not None:
            plain[i] = plain[i].isoformat()
    if plain[_CREDITS] is not None:
        plain[_CREDITS] = str(plain[_CREDITS])
    payload = [
        plain,
        data.joint_providers,
        [_supporter_of(s) for s in data.supporters],
        [
            (m.board, m.credit_types, None if m.points is None else str(m.points), m.practice_areas)
            for m in data.moc
        ],
        legacy_data,
        derived,
    ]
    # Every value is plain by now (the legacy columns are JSON-safe): the encoder stays in C.
    return _ENCODER.encode(payload)


def _decimal(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def input_from_json(text: str) -> tuple[ActivityInput, dict | None, tuple[str, int] | None]:
    """Back from `input_to_json`: the typed input, any legacy columns, the derived columns."""
    raw = json.loads(text)
    if isinstance(raw, dict):
        return _input_from_keyed(raw)
    plain, joint, supporters, moc, legacy, derived = raw
    for i in _DATES:
        plain[i] = _date(plain[i])
    plain[_CREDITS] = _decimal(plain[_CREDITS])
    data = ActivityInput(
        **dict(zip(_PLAIN, plain, strict=True)),
        joint_providers=tuple(joint),
        supporters=tuple(rules.SupporterFacts(*s) for s in supporters),
        moc=tuple(
            rules.MocFacts(board, tuple(types), _decimal(points), tuple(areas))
            for board, types, points, areas in moc
        ),
    )
    return data, legacy, tuple(derived) if derived else None


class PlanOutdated(ValueError):
    """A stored plan written by a version of the app with other input fields (a job previewed
    before an upgrade, confirmed after): it is previewed again rather than guessed at."""


@dataclass
class StoredInput:
    """A planned row's input as the commit writes it, read without building an ActivityInput:
    the plain fields typed (dates, Decimal credits), and the child rows as lists."""

    columns: dict[str, Any]  # every plain ActivityInput field (both IDs, dates, flags, counts)
    joint_providers: list[str]
    supporters: list[list[Any]]  # name, kind, amount_cents, in_kind_nature, in_kind_other
    moc: list[tuple[str, list[str], Decimal | None, list[str]]]  # board, types, points, areas
    legacy: dict | None
    derived: tuple[str, int]


def stored_input(text: str, today: date) -> StoredInput:
    """What the commit needs of `input_to_json`'s text, cheaply (it runs once per row)."""
    return _stored(json.loads(text), text, today)


def stored_inputs(texts: Sequence[str], today: date) -> list[StoredInput]:
    """`stored_input` of each text, all decoded by one call of the JSON decoder."""
    raws = json.loads("[" + ",".join(texts) + "]")
    return [_stored(raw, text, today) for raw, text in zip(raws, texts, strict=True)]


def _stored(raw: Any, text: str, today: date) -> StoredInput:
    if isinstance(raw, dict) or not raw[5]:  # an older plan: through the typed input
        data, legacy, derived = input_from_json(text)
        if derived is None:
            report = rules.evaluate(data.facts(), today)
            derived = (report.level, len(report.problems))
        return StoredInput(
            dict(zip(_PLAIN, _plain_of(data), strict=True)),
            list(data.joint_providers),
            [list(_supporter_of(s)) for s in data.supporters],
            [(m.board, list(m.credit_types), m.points, list(m.practice_areas)) for m in data.moc],
            legacy,
            derived,
        )
    plain, joint, supporters, moc, legacy, derived = raw
    if len(plain) != len(_PLAIN):
        raise PlanOutdated("stored with other fields than this version's")
    for i in _DATES:
        plain[i] = _date(plain[i])
    plain[_CREDITS] = _decimal(plain[_CREDITS])
    moc = [(board, types, _decimal(points), areas) for board, types, points, areas in moc]
    columns = dict(zip(_PLAIN, plain, strict=True))
    return StoredInput(columns, joint, supporters, moc, legacy, (derived[0], derived[1]))


def _input_from_keyed(raw: dict[str, Any]) -> tuple[ActivityInput, dict | None, Any]:
    """A plan stored before the array form (a job previewed before an upgrade, committed after)."""
    legacy = raw.pop("legacy_data", None)
    derived = raw.pop("derived", None)
    raw["start_date"], raw["end_date"] = _date(raw["start_date"]), _date(raw["end_date"])
    raw["credits"] = _decimal(raw["credits"])
    raw["joint_providers"] = tuple(raw["joint_providers"])
    raw["supporters"] = tuple(rules.SupporterFacts(**s) for s in raw["supporters"])
    raw["moc"] = tuple(
        rules.MocFacts(
            board=m["board"],
            credit_types=tuple(m["credit_types"]),
            points=_decimal(m["points"]),
            practice_areas=tuple(m["practice_areas"]),
        )
        for m in raw["moc"]
    )
    return ActivityInput(**raw), legacy, tuple(derived) if derived else None


# --- From raw cells to the form's text -------------------------------------------------------


class _Overlay:
    """Lays a row's raw values over a form, turning each into the text the form reader takes.

    Values that cannot even be turned into text (an unknown dropdown label, a date that is no
    date) are reported here, under the row's own column, and left blank for the reader.
    """

    def __init__(self, form: ActivityForm):
        self.values = dict(form.values)
        self.supporters = list(form.supporters)
        self.moc = list(form.moc)
        self.errors: dict[str, str] = {}  # form key -> message
        self.paths: dict[str, str] = {}  # form key -> the value path in the file

    def fail(self, key: str, path: str, message: str) -> str:
        self.errors.setdefault(key, message)
        self.paths[key] = path
        return ""

    def text(self, key: str, path: str, raw: Any, choice: str | None = None) -> str:
        self.paths.setdefault(key, path)
        if raw is None:
            return ""
        kind = choice or key
        try:
            if kind in _CHOICE_KEYS or kind in ("kind", "nature", "board"):
                return choice_key(kind, raw) or ""
            if kind in _DATE_KEYS:
                found = parse_date(raw)
                return found.isoformat() if found else ""
            if kind in _YES_NO_KEYS:
                return {None: "", True: "yes", False: "no"}[parse_yes_no(raw)]
        except ValueError as err:
            return self.fail(key, path, str(err))
        if kind in _CODE_KEYS:
            text = str(raw).strip()
            try:
                return choice_key(kind, text) or "" if len(text) > 3 else text.upper()
            except ValueError:
                return text  # the domain's code list names the problem
        if isinstance(raw, bool):
            return "yes" if raw else "no"
        return str(raw)

    def scalar(self, key: str, raw: Any) -> None:
        if key in OUTCOMES:
            try:
                self.values[key] = "yes" if parse_yes_no(raw) else ""
            except ValueError as err:
                self.fail(key, key, str(err))
            self.paths.setdefault(key, key)
        elif key == "joint_providers":
            names = raw if isinstance(raw, list) else split_names(raw)  # readers give a list
            self.values[key] = "\n".join(str(n) for n in names)
            self.paths[key] = key
        else:
            self.values[key] = self.text(key, key, raw)

    def groups(self, values: Mapping[str, Any]) -> None:
        if "supporters" in values:
            self.supporters = [self._supporter(i, s) for i, s in enumerate(values["supporters"])]
        if "moc" in values:
            self.moc = [self._moc(i, m) for i, m in enumerate(values["moc"])]

    def _supporter(self, i: int, group: Mapping[str, Any]) -> SupporterRow:
        base, key = f"supporters.{group.get('number', i + 1)}.", f"supporter-{i}-"
        return SupporterRow(
            **{
                f: self.text(key + f, base + f, group.get(f), choice=f)
                for f in ("name", "kind", "amount", "nature", "other")
            }
        )

    def _moc(self, i: int, group: Mapping[str, Any]) -> MocRow:
        base, key = f"moc.{group.get('number', i + 1)}.", f"moc-{i}-"
        for f in ("board", "credit_types", "points", "practice_areas"):
            self.paths[key + f] = base + f
        return MocRow(
            board=self.text(key + "board", base + "board", group.get("board"), choice="board"),
            credit_types=", ".join(group.get("credit_types") or []),
            points=self.text(key + "points", base + "points", group.get("points")),
            practice_areas="\n".join(group.get("practice_areas") or []),
        )

    def form(self) -> ActivityForm:
        return ActivityForm(self.values, self.supporters, self.moc)


def read_over(form: ActivityForm, values: Mapping[str, Any]) -> RowRead:
    """A row's values laid over a form (a stored activity's, for an update) and read with the
    form's own reader: columns the file leaves out keep the form's values."""
    overlay = _Overlay(form)
    for key, value in values.items():
        if key in SCALAR_FIELDS:
            overlay.scalar(key, value)
    overlay.groups(values)
    data, errors = read_form(overlay.form())
    return RowRead(data, overlay.errors, errors, overlay.paths)


def _messages(errors: Errors, read: RowRead, ctx: PlanContext) -> list[Message]:
    found = [Message(ctx.column_label(read.path(k)), m) for k, m in read.failed.items()]
    for key, texts in errors.items():
        if key in read.failed:
            continue  # already said better, in the file's own words
        label = ctx.column_label(read.path(key))
        found += [Message(label, text) for text in dict.fromkeys(texts)]
    return found


# --- One row ----------------------------------------------------------------------------------


def _identity(raw: RawRow, ctx: PlanContext, plan: PlannedRow) -> None:
    pid = raw.provider_activity_id
    plan.provider_activity_id = pid
    plan.title = str(raw.values.get("title") or "").strip()
    if not pid:
        return
    first = ctx.seen_ids.setdefault(pid, raw.number)
    if first != raw.number:
        plan.messages.append(
            Message(
                ctx.column_label("provider_activity_id"),
                f"“{pid}” is also on row {first}: give each activity one row.",
            )
        )


def _untitled_duplicate(data: ActivityInput, number: int, ctx: PlanContext) -> Message | None:
    """A new activity without an ID that looks like an earlier row of the same file."""
    if not data.title or data.start_date is None:
        return None
    key = (data.title.casefold(), data.start_date)
    first = ctx.seen_untitled.setdefault(key, number)
    if first == number:
        return None
    return Message(
        ctx.column_label("title"),
        f"Same title and start date as row {first}: check this is not the same activity twice.",
        "warning",
    )


def _close_request(raw: RawRow, ctx: PlanContext, plan: PlannedRow) -> bool:
    if "close" not in raw.values:
        return False
    try:
        return bool(parse_yes_no(raw.values["close"]))
    except ValueError as err:
        plan.messages.append(Message(ctx.column_label("close"), str(err)))
        return False


def _existing_refusal(a: Activity, ctx: PlanContext) -> str | None:
    if a.closed_at is not None:
        return "This activity is closed: reopen it in the app first, or leave its row as it is."
    if a.end_date.year in ctx.locked:
        return LOCKED.format(year=a.end_date.year) + ": its activities are read-only."
    return None


def _key_drift(changes: Mapping[str, list[Any]], ctx: PlanContext) -> list[Message]:
    return [
        Message(
            ctx.column_label(key),
            f"Changes the {words} of an existing activity ({changes[key][0]} → "
            f"{changes[key][1]}): check the Provider Activity ID names the right one.",
            "warning",
        )
        for key, words in _KEY_DRIFT.items()
        if key in changes
    ]


def _plan_close(plan: PlannedRow, report: rules.StatusReport, existing: Activity | None, ctx):
    if existing is not None and existing.closed_at is not None:
        plan.close = ALREADY_CLOSED  # nothing to do; the preview says why nothing happens
        return
    if report.closable:
        plan.close = CLOSE
        return
    # Each reason is a sentence of its own (the form's messages): joined as sentences, not
    # with semicolons after their full stops.
    reasons = " ".join(p.message for p in report.missing_to_close) or "It cannot be closed yet."
    plan.close = CLOSE_REFUSED
    plan.messages.append(Message(ctx.column_label("close"), f"Not closed: {reasons}", "warning"))


def plan_activity_row(raw: RawRow, existing: Activity | None, ctx: PlanContext) -> PlannedRow:
    """What one activity row would do: create, update (with each change), unchanged or error."""
    plan = PlannedRow(raw.number, ERROR)
    plan.messages += [Message(p.column_header, p.message) for p in raw.problems]
    _identity(raw, ctx, plan)
    wants_close = _close_request(raw, ctx, plan)
    # A new activity is read straight from the row's typed values; an update over the stored
    # activity's form. Both give what the web form would for the same values.
    read = read_row(raw.values) if existing is None else read_over(form_of(existing), raw.values)
    data = read.data
    # A locked year refuses a new activity ending in it, or an end date moved into it; an
    # existing one already there is judged below (unchanged is fine, a change is refused).
    end_locked = (
        data.end_date is not None
        and data.end_date.year in ctx.locked
        and (existing is None or data.end_date != existing.end_date)
    )
    # The facts and their Draft problems, once: the save rules and the status both need them.
    facts = data.facts()
    draft = rules.draft_problems(facts)
    errors = input_errors(data, end_locked, draft)
    for key, messages in read.errors.items():
        errors.setdefault(key, []).extend(messages)
    plan.messages += _messages(errors, read, ctx)
    plan.title = data.title or plan.title
    legacy = raw.values.get("legacy_data")
    plan.legacy_data = legacy if isinstance(legacy, dict) else None
    if plan.errors:
        plan.raw = raw.values
        return plan
    plan.data = data
    if existing is None:
        # No before → after for a new activity: its values are the row itself (kept in the
        # plan's input, and in the job's file), which the audit event points to.
        plan.action = CREATE
        if not plan.provider_activity_id and (dup := _untitled_duplicate(data, raw.number, ctx)):
            plan.messages.append(dup)
    else:
        _plan_update(plan, existing, data, ctx)
        if plan.action == ERROR:
            plan.raw = raw.values
            return plan
    report = rules.evaluate(facts, ctx.today, draft)
    plan.derived = (report.level, len(report.problems))
    if wants_close:
        _plan_close(plan, report, existing, ctx)
    return plan


def _plan_update(plan: PlannedRow, a: Activity, data: ActivityInput, ctx: PlanContext) -> None:
    plan.activity_id, plan.version = a.id, a.version
    before = snapshot(a)
    after = input_snapshot(data, a.provider_activity_id, a.accme_activity_id)
    plan.changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if plan.legacy_data is not None:
        stored = json.loads(a.legacy_data) if a.legacy_data else None
        if stored != plan.legacy_data:
            plan.changes["legacy_data"] = [stored, plan.legacy_data]
    if not plan.changes:
        plan.action = UNCHANGED
        return
    if reason := _existing_refusal(a, ctx):
        plan.action = ERROR
        plan.messages.append(Message(ctx.column_label("provider_activity_id"), reason))
        return
    plan.action = UPDATE
    plan.messages += _key_drift(plan.changes, ctx)


def field_label(key: str) -> str:
    """A change's field in the template's words ("start_date" -> "Start Date")."""
    try:
        return column(key).header
    except KeyError:
        return _FIELD_WORDS.get(key, key.replace("_", " ").capitalize())


TEMPLATE_KEYS = tuple(c.key for c in COLUMNS)

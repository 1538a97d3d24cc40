"""The import's own reader: a batch row's values straight into `ActivityInput`.

`activity_input.read_form` reads the web form, where every value is text. A batch row comes
typed (dates, numbers, booleans, dropdown labels), and reading it the form's way meant writing
each value out as the form's text and parsing it back: the two halves cost more than the rest
of the preview together on a 10,000-row file. `read_row` reads each value once, with the same
parsers (`domain.values`, `io.choice_key`), the same rules for what applies (`visible`) and in
the same order as the form, and gives the same `ActivityInput` and the same messages per field.
`tests/services/test_imports_reader.py` checks that on generated rows, valid and invalid,
against the form's reader.

It reads a row that creates an activity. A row that updates one is read over the stored
activity's form (`import_plan.read_over`), because the columns a file leaves out keep their
stored values there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.codes import OUTCOMES
from ..domain.formats import FORMATS, needs_location
from ..domain.records import build
from ..domain.status import MocFacts, SupporterFacts
from ..domain.values import (
    parse_count,
    parse_credits,
    parse_date,
    parse_money_cents,
    parse_yes_no,
)
from ..io import choice_key
from ..io.fields import split_names
from .activity_input import (
    INPUT_DEFAULTS,
    MAX_DESCRIPTION,
    MAX_JOINT_PROVIDERS,
    ActivityInput,
    Errors,
    FieldChecks,
    _points,
    parse_accme_id,
)


@dataclass
class RowRead:
    """A row read: the typed input, and what could not be read, by form field.

    `failed` holds values that could not even be taken from the file (an unknown dropdown
    label, a date that is no date): said in the file's own column, they win over any other
    message for that field. `errors` are the form's own messages, as `read_form` gives them.
    `paths` names where a group field came from in the file ("supporter-0-amount" ->
    "supporters.2.amount"); every other field is its own path.
    """

    data: ActivityInput
    failed: dict[str, str] = field(default_factory=dict)
    errors: Errors = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    # The file's number of each group, by position ("supporter", "moc"): the paths of group
    # fields are worked out from them only when a message needs one.
    numbers: dict[str, list[Any]] = field(default_factory=dict)

    def path(self, key: str) -> str:
        if key in self.paths:
            return self.paths[key]
        group, _, rest = key.partition("-")
        index, _, name = rest.partition("-")
        if group in self.numbers and index.isdigit() and int(index) < len(self.numbers[group]):
            return f"{_GROUP_PATHS[group]}.{self.numbers[group][int(index)]}.{name}"
        return key


_GROUP_PATHS = {"supporter": "supporters", "moc": "moc"}


# --- The file's values, each taken once -------------------------------------------------------
#
# What the form's text would hold after the value was laid over it, typed where the form's own
# parser would only give the same value back: a date (the form re-parses its ISO text), a
# Yes/No, a dropdown key. Other values stay text, for the form's parser to judge.


def _text(raw: Any) -> str:
    """A value as a text box would hold it."""
    if raw is None:
        return ""
    if raw.__class__ is str:
        return raw
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    return str(raw)


def _memo(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, remembering what it made of each text: a file repeats the same few dropdown
    labels, Yes/No answers and dates over thousands of rows. A refusal is not remembered (it
    is raised again), and the memory is bounded."""
    seen: dict[str, Any] = {}

    def take(raw: Any) -> Any:
        if raw.__class__ is not str:
            return parse(raw)
        try:
            return seen[raw]
        except KeyError:
            value = parse(raw)
            if len(seen) < 4096:
                seen[raw] = value
            return value

    return take


def _choice(name: str) -> Callable[[Any], str]:
    def take(raw: Any) -> str:
        return "" if raw is None else choice_key(name, raw) or ""

    return _memo(take)


def _code(name: str) -> Callable[[Any], str]:
    def take(raw: Any) -> str:
        if raw is None:
            return ""
        text = str(raw).strip()
        if len(text) <= 3:
            return text.upper()
        try:
            return choice_key(name, text) or ""
        except ValueError:
            return text  # the domain's code list names the problem

    return _memo(take)


def _outcome(raw: Any) -> bool:
    return bool(parse_yes_no(raw))


def _names(raw: Any) -> str:
    names = raw if isinstance(raw, list) else split_names(raw)  # readers give a list
    return "\n".join(str(n) for n in names)


_TAKE: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(
        (
            "provider_activity_id",
            "accme_activity_id",
            "title",
            "venue",
            "city",
            "credits",
            "description",
            "passport_url",
            "physician_learners",
            "other_learners",
        ),
        _text,
    ),
    **{k: _choice(k) for k in ("format", "delivery", "providership", "passport_registration")},
    **dict.fromkeys(("start_date", "end_date"), _memo(parse_date)),
    **dict.fromkeys(("passport_listed", "passport_fee", "commercial_support"), _memo(parse_yes_no)),
    "state": _code("state"),
    "country": _code("country"),
    **dict.fromkeys(OUTCOMES, _memo(_outcome)),
    "joint_providers": _names,
}
# The form's parsers of numbers, remembering too: credits, points and amounts repeat.
_CREDITS, _POINTS, _COUNT = _memo(parse_credits), _memo(_points), _memo(parse_count)
_MONEY = _memo(parse_money_cents)
# What a field the file leaves out holds (a new activity's empty form).
_BLANK: dict[str, Any] = {**dict.fromkeys(_TAKE, ""), **dict.fromkeys(OUTCOMES, False)}
_BLANK.update(dict.fromkeys(("start_date", "end_date", "passport_listed"), None))
_BLANK.update(dict.fromkeys(("passport_fee", "commercial_support"), None))


class _Row(FieldChecks):
    """One row being read: the taken values, and the messages so far."""

    __slots__ = ("errors", "failed", "got", "numbers", "paths")

    def __init__(self) -> None:
        self.got: dict[str, Any] = dict(_BLANK)
        self.failed: dict[str, str] = {}
        self.errors: Errors = {}
        self.paths: dict[str, str] = {}
        self.numbers: dict[str, list[Any]] = {}

    def take(self, key: str, path: str, convert: Callable[[Any], Any], raw: Any) -> Any:
        try:
            return convert(raw)
        except ValueError as err:
            return self.fail(key, path, err)

    def fail(self, key: str, path: str, err: ValueError) -> Any:
        """Report a value the file holds but that cannot be read; the field stays blank."""
        self.failed.setdefault(key, str(err))
        self.paths[key] = path
        return _BLANK.get(key, "")

    # The form's half: the same checks as the form's reader, on the taken values.
    text = FieldChecks.checked_text
    parse = FieldChecks.parsed


# --- Parts of a row a file repeats --------------------------------------------------------------


def _said(r: _Row) -> tuple[int, int]:
    """How much the row has said so far (messages, values it could not take)."""
    return sum(map(len, r.errors.values())), len(r.failed)


def _remembered(part: Callable[[_Row, Any], Any]) -> Callable[[_Row, Any], Any]:
    """`part(r, key)`, remembered by `key` when it had nothing to say: a file repeats its
    commercial supporters, MOC blocks and venues row after row, and reading them was a third of
    a row's reading. A part with a message for the row runs again every time (the message
    belongs to that row, under that row's field names). `part` must depend on `key` alone;
    the memory is bounded and shared, as `_memo`'s is."""
    seen: dict[Any, Any] = {}

    def run(r: _Row, key: Any) -> Any:
        try:
            return seen[key]
        except KeyError:
            pass
        before = _said(r)
        value = part(r, key)
        if _said(r) == before and len(seen) < 4096:
            seen[key] = value
        return value

    return run


# --- Groups: commercial supporters and MOC registrations ---------------------------------------

_TAKE_KIND, _TAKE_NATURE, _TAKE_BOARD = _choice("kind"), _choice("nature"), _choice("board")


def _take_supporters(r: _Row, groups: list[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Each supporter group's five values, taken (and any failure reported) whatever the
    commercial support answer, as the form would have them."""
    taken = []
    numbers = r.numbers["supporter"] = []
    for i, group in enumerate(groups):
        number = group.get("number", i + 1)
        numbers.append(number)
        taken.append(
            (
                _text(group.get("name")),
                r.take(
                    f"supporter-{i}-kind",
                    f"supporters.{number}.kind",
                    _TAKE_KIND,
                    group.get("kind"),
                ),
                _text(group.get("amount")),
                r.take(
                    f"supporter-{i}-nature",
                    f"supporters.{number}.nature",
                    _TAKE_NATURE,
                    group.get("nature"),
                ),
                _text(group.get("other")),
            )
        )
    return taken


def _supporter(r: _Row, i: int, row: tuple[str, ...]) -> SupporterFacts | None:
    name_text, kind_text, amount_text, nature_text, other_text = row
    if not "".join(row).strip():  # every field blank (str.strip's blanks, as the form's)
        return None
    key = f"supporter-{i}-"
    kind = kind_text or None  # a dropdown key, or nothing
    amount = r.parse(key + "amount", _MONEY, amount_text)
    nature = nature_text or None
    other = r.text(key + "other", other_text, 200)
    # The form's rules for contradictions, word for word (activity_input._supporter).
    if kind == "in_kind" and amount is not None:
        r.error(key + "amount", "In-kind support is reported without a dollar value: clear it.")
    if kind == "monetary" and nature:
        r.error(key + "nature", "Monetary support has no in-kind nature: clear it.")
    if other and nature != "other":
        r.error(key + "other", "Describe the support here only when its nature is Other.")
    name = r.text(key + "name", name_text, 200) or ""
    return SupporterFacts(name, kind or "", amount, nature, other)


def _take_moc(r: _Row, groups: list[Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    taken = []
    numbers = r.numbers["moc"] = []
    for i, group in enumerate(groups):
        number = group.get("number", i + 1)
        numbers.append(number)
        board = r.take(f"moc-{i}-board", f"moc.{number}.board", _TAKE_BOARD, group.get("board"))
        taken.append(
            (
                board,
                ", ".join(group.get("credit_types") or []),
                _text(group.get("points")),
                "\n".join(group.get("practice_areas") or []),
            )
        )
    return taken


def _moc(r: _Row, rows: tuple[tuple[str, str, str, str], ...]) -> tuple[MocFacts, ...]:
    found: list[MocFacts] = []
    for i, row in enumerate(rows):
        if not "".join(row).strip():
            continue
        board_text, types_text, points_text, areas_text = row
        key = f"moc-{i}-"
        board = board_text or None
        if board is None and not r.errors.get(key + "board"):
            r.error(key + "board", "Choose the board.")
        elif board in (m.board for m in found):
            r.error(key + "board", f"{board} is already entered above: one block per board.")
        types = [t.strip() for t in types_text.split(",") if t.strip()]
        if len(", ".join(types)) > 200:
            r.error(key + "credit_types", "Shorten the credit types to 200 characters.")
        r.plain(key + "credit_types", ", ".join(types))
        points = r.parse(key + "points", _POINTS, points_text)
        areas = tuple(line.strip() for line in areas_text.splitlines() if line.strip())
        r.plain(key + "practice_areas", "".join(areas))
        found.append(MocFacts(board or "", tuple(types), points, areas))
    return tuple(found)


# --- One row ----------------------------------------------------------------------------------


def _joint_providers(r: _Row, text: str) -> tuple[str, ...]:
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) > MAX_JOINT_PROVIDERS or any(len(n) > 200 for n in names):
        r.error("joint_providers", "Enter at most 50 names of up to 200 characters each.")
        return ()
    if not r.plain("joint_providers", "".join(names)):
        return ()
    return tuple(names)


def _basics(r: _Row, got: dict[str, Any], deliveries: tuple[str, ...]) -> dict[str, Any]:
    return dict(
        format=got["format"] or None,  # a format code, or nothing
        provider_activity_id=r.text("provider_activity_id", got["provider_activity_id"], 64),
        accme_activity_id=r.parse("accme_activity_id", parse_accme_id, got["accme_activity_id"]),
        title=r.text("title", got["title"], 500),
        delivery=(got["delivery"] or None) if deliveries else None,
        start_date=got["start_date"],
        end_date=got["end_date"],
        credits=r.parse("credits", _CREDITS, got["credits"]),
        description=r.text("description", got["description"], MAX_DESCRIPTION, multiline=True),
        providership=got["providership"] or None,
    )


def _location(r: _Row, where: tuple[Any, Any, Any, Any]) -> dict[str, Any]:
    """The venue, city, state and country taken (in that order) as the form's fields."""
    venue, city, state_text, country_text = where
    state, country = r.text("state", state_text, 100), r.text("country", country_text, 100)
    return dict(
        venue=r.text("venue", venue, 200),
        city=r.text("city", city, 100),
        state=state.upper() if state else None,
        country=country.upper() if country else None,
    )


# The parts of a row files repeat, remembered while they have nothing to say.
_SUPPORTER = _remembered(lambda r, at: _supporter(r, *at))  # at: (position, taken values)
_MOC = _remembered(_moc)
_LOCATION = _remembered(_location)


def read_row(values: Mapping[str, Any]) -> RowRead:
    """A new activity's typed input from a batch row's values (keys as `io` gives them), with
    the messages the web form would give for the same values."""
    r = _Row()
    got = r.got
    for key, raw in values.items():
        take = _TAKE.get(key)
        if take is None:
            continue  # "close", the groups, legacy columns: not fields of the form
        try:
            got[key] = take(raw)
        except ValueError as err:
            got[key] = r.fail(key, key, err)
    supporters = _take_supporters(r, values["supporters"]) if "supporters" in values else []
    moc = _take_moc(r, values["moc"]) if "moc" in values else []

    # What applies, as `activity_input.visible` decides it for the form.
    fmt, delivery = got["format"], got["delivery"]
    deliveries = FORMATS[fmt].deliveries if fmt in FORMATS else ()
    listed = got["passport_listed"]
    details = listed is True
    basics = _basics(r, got, deliveries)
    where = needs_location(fmt, delivery if delivery in deliveries else None)
    location = (
        _LOCATION(r, (got["venue"], got["city"], got["state"], got["country"])) if where else {}
    )
    passport: dict[str, Any] = dict(passport_listed=listed)
    if details:
        passport.update(
            passport_fee=got["passport_fee"],
            passport_registration=got["passport_registration"] or None,
            passport_url=r.text("passport_url", got["passport_url"], 500),
        )
    joint = _joint_providers(r, got["joint_providers"]) if got["providership"] == "joint" else ()
    support = got["commercial_support"]
    found = (_SUPPORTER(r, at) for at in enumerate(supporters)) if support else ()
    # The fields in the order the form reads them (its messages come in that order); what
    # does not apply keeps its blank default.
    fields = INPUT_DEFAULTS.copy()
    fields.update(basics)
    fields.update(location)
    fields.update(passport)
    fields["joint_providers"] = joint
    fields["commercial_support"] = support
    fields["supporters"] = tuple(s for s in found if s is not None)
    for key in OUTCOMES:
        fields[key] = got[key]
    fields["physician_learners"] = r.parse("physician_learners", _COUNT, got["physician_learners"])
    fields["other_learners"] = r.parse("other_learners", _COUNT, got["other_learners"])
    fields["moc"] = _MOC(r, tuple(moc))
    return RowRead(build(ActivityInput, fields), r.failed, r.errors, r.paths, r.numbers)


__all__ = ["RowRead", "read_row"]

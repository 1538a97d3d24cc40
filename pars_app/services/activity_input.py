"""Reading the activity form: raw text in, a typed `ActivityInput` and per-field messages out.

Some groups of the form apply only in some cases: the location when learners gather, CME
Passport details when listed, joint providers when Joint, supporters when commercial support is
Yes. `visible` decides that once, for the template and for reading alike, so what is saved is
exactly what the user could see. A hidden group's values travel along in hidden inputs, so
switching back restores them, but they are dropped when the form is read.

Nothing here touches the database; `services.activity_edit` adds the checks that do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from ..domain.codes import (
    IN_KIND_NATURES,
    MOC_BOARDS,
    OUTCOMES,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    SUPPORT_KINDS,
)
from ..domain.formats import FORMATS, needs_location
from ..domain.records import build
from ..domain.status import ActivityFacts, MocFacts, SupporterFacts
from ..domain.values import (
    format_money,
    parse_count,
    parse_credits,
    parse_date,
    parse_money_cents,
    parse_yes_no,
    text_problem,
)
from ..models import Activity

MAX_SUPPORTERS = 50
MAX_JOINT_PROVIDERS = 50
MAX_MOC = len(MOC_BOARDS)  # one registration per board
MAX_DESCRIPTION = 20_000

Errors = dict[str, list[str]]

SCALAR_FIELDS: tuple[str, ...] = (
    "provider_activity_id",
    "accme_activity_id",
    "title",
    "format",
    "delivery",
    "start_date",
    "end_date",
    "venue",
    "city",
    "state",
    "country",
    "credits",
    "description",
    "providership",
    "joint_providers",
    "passport_listed",
    "passport_fee",
    "passport_registration",
    "passport_url",
    "commercial_support",
    *OUTCOMES,
    "physician_learners",
    "other_learners",
)
SUPPORTER_FIELDS = ("name", "kind", "amount", "nature", "other")
MOC_FIELDS = ("board", "credit_types", "points", "practice_areas")


# --- Raw form -----------------------------------------------------------------------------


@dataclass
class SupporterRow:
    """One commercial supporter row as typed."""

    name: str = ""
    kind: str = ""
    amount: str = ""
    nature: str = ""
    other: str = ""

    def is_blank(self) -> bool:
        return not any(getattr(self, f).strip() for f in SUPPORTER_FIELDS)


@dataclass
class MocRow:
    """One MOC registration row as typed."""

    board: str = ""
    credit_types: str = ""
    points: str = ""
    practice_areas: str = ""

    def is_blank(self) -> bool:
        return not any(getattr(self, f).strip() for f in MOC_FIELDS)


@dataclass
class ActivityForm:
    """The form as typed: every value a string, rows in order. What templates render from."""

    values: dict[str, str] = field(default_factory=dict)
    supporters: list[SupporterRow] = field(default_factory=list)
    moc: list[MocRow] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _row_count(data: Mapping[str, Any], name: str, limit: int) -> int:
    raw = str(data.get(name) or "").strip()
    # Hand-edited counts must not make us read thousands of rows.
    return min(int(raw), limit) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0


def form_from_post(data: Mapping[str, Any]) -> ActivityForm:
    """The form from posted fields (a werkzeug MultiDict or any mapping)."""

    def text(name: str) -> str:
        return str(data.get(name) or "")

    supporters = [
        SupporterRow(**{f: text(f"supporter-{i}-{f}") for f in SUPPORTER_FIELDS})
        for i in range(_row_count(data, "supporter_count", MAX_SUPPORTERS))
    ]
    moc = [
        MocRow(**{f: text(f"moc-{i}-{f}") for f in MOC_FIELDS})
        for i in range(_row_count(data, "moc_count", MAX_MOC))
    ]
    return ActivityForm({name: text(name) for name in SCALAR_FIELDS}, supporters, moc)


def _yes_no_text(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _plain_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _yes_no_text(value)
    if isinstance(value, date):
        return value.isoformat()  # what <input type="date"> expects
    return str(value)


def form_of(a: Activity) -> ActivityForm:
    """The form filled in from a stored activity."""
    values = {name: _plain_text(getattr(a, name, None)) for name in SCALAR_FIELDS}
    values["joint_providers"] = "\n".join(j.name for j in a.joint_providers)
    values.update({key: "yes" if getattr(a, key) else "" for key in OUTCOMES})
    supporters = [
        SupporterRow(
            name=s.name,
            kind=s.kind,
            amount=format_money(s.amount_cents) if s.amount_cents is not None else "",
            nature=s.in_kind_nature or "",
            other=s.in_kind_other or "",
        )
        for s in a.supporters
    ]
    moc = [
        MocRow(m.board, m.credit_types, _plain_text(m.points), m.practice_areas)
        for m in a.moc_registrations
    ]
    return ActivityForm(values, supporters, moc)


def apply_action(form: ActivityForm, action: str) -> ActivityForm:
    """Add or remove a supporter or MOC row ('add_supporter', 'remove_moc:2', ...)."""
    verb, _, index = action.partition(":")
    i = int(index) if index.isascii() and index.isdigit() else -1
    supporters, moc = list(form.supporters), list(form.moc)
    if verb == "add_supporter" and len(supporters) < MAX_SUPPORTERS:
        supporters.append(SupporterRow())
    elif verb == "remove_supporter" and 0 <= i < len(supporters):
        del supporters[i]
    elif verb == "add_moc" and len(moc) < MAX_MOC:
        moc.append(MocRow())
    elif verb == "remove_moc" and 0 <= i < len(moc):
        del moc[i]
    return replace(form, supporters=supporters, moc=moc)


# --- What applies --------------------------------------------------------------------------


def _answer(text: str) -> bool | None:
    try:
        return parse_yes_no(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Visibility:
    """Which adaptive parts of the form apply to the values typed so far."""

    deliveries: tuple[str, ...]  # delivery choices of the format (none: no delivery field)
    location: bool
    passport_details: bool
    joint_providers: bool
    supporters: bool


def visible(form: ActivityForm) -> Visibility:
    """What the form shows for these values; reading drops whatever is not shown."""
    fmt = form.get("format").strip()
    deliveries = FORMATS[fmt].deliveries if fmt in FORMATS else ()
    delivery = form.get("delivery").strip()
    return Visibility(
        deliveries=deliveries,
        location=needs_location(fmt, delivery if delivery in deliveries else None),
        passport_details=_answer(form.get("passport_listed")) is True,
        joint_providers=form.get("providership").strip() == "joint",
        supporters=_answer(form.get("commercial_support")) is True,
    )


def for_display(form: ActivityForm) -> ActivityForm:
    """The form as it should render: a first empty supporter row once support is Yes."""
    if visible(form).supporters and not form.supporters:
        return replace(form, supporters=[SupporterRow()])
    return form


# --- Typed input --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityInput:
    """Every field of an activity the user can set (spec §5), typed; None = not given."""

    provider_activity_id: str | None = None
    accme_activity_id: int | None = None
    title: str | None = None
    format: str | None = None
    delivery: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    venue: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    credits: Decimal | None = None
    description: str | None = None
    providership: str | None = None
    joint_providers: tuple[str, ...] = ()
    passport_listed: bool | None = None
    passport_fee: bool | None = None
    passport_registration: str | None = None
    passport_url: str | None = None
    commercial_support: bool | None = None
    supporters: tuple[SupporterFacts, ...] = ()
    outcome_competence: bool = False
    outcome_performance: bool = False
    outcome_patient_health: bool = False
    outcome_community_health: bool = False
    physician_learners: int | None = None
    other_learners: int | None = None
    moc: tuple[MocFacts, ...] = ()

    def facts(self) -> ActivityFacts:
        """The domain's view of this input, for the status rules: its fields but the two IDs,
        not closed (built with `records.build`: it runs for every row of a batch file)."""
        values = self.__dict__.copy()
        del values["provider_activity_id"], values["accme_activity_id"]
        values["closed"] = False
        return build(ActivityFacts, values)


# What `facts` relies on: ActivityFacts holds the input's fields but the IDs, and "closed".
assert {*ActivityFacts.__dataclass_fields__, "provider_activity_id", "accme_activity_id"} == {
    *ActivityInput.__dataclass_fields__,
    "closed",
}
# A blank input's fields (all defaults are immutable: None, False, ()), for `records.build`.
INPUT_DEFAULTS: dict[str, Any] = {
    name: f.default for name, f in ActivityInput.__dataclass_fields__.items()
}


class FieldChecks:
    """The per-field checks of an activity's values, collecting a message per field instead
    of stopping: shared by the form's reader below and the import's (`import_input`), so a
    value is judged, and worded, the same whichever way it came in."""

    __slots__ = ()
    errors: Errors

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def checked_text(
        self, key: str, value: str, max_len: int, multiline: bool = False
    ) -> str | None:
        """`value` stripped, or None (with the message) when too long or not plain; blank is
        None too."""
        value = value.strip()
        if len(value) > max_len:
            self.error(key, f"Shorten this to {max_len:,} characters or fewer.")
            return None
        if not self.plain(key, value, multiline):
            return None
        return value or None

    def plain(self, key: str, value: str, multiline: bool = False) -> bool:
        """False (with the message) when `value` holds characters no PARS file can carry."""
        if problem := text_problem(value, multiline):
            self.error(key, problem)
            return False
        return True

    def parsed(self, key: str, parser: Callable[[str], Any], value: str) -> Any:
        """`parser(value)`, or None with the parser's message."""
        try:
            return parser(value)
        except ValueError as err:
            self.error(key, str(err))
            return None


class _Reader(FieldChecks):
    """Reads the form's fields one by one."""

    __slots__ = ("errors", "form")

    def __init__(self, form: ActivityForm):
        self.form = form
        self.errors: Errors = {}

    def text(
        self, key: str, max_len: int, raw: str | None = None, multiline: bool = False
    ) -> str | None:
        value = self.form.get(key) if raw is None else raw
        return self.checked_text(key, value, max_len, multiline)

    def parse(self, key: str, parser: Callable[[str], Any], raw: str | None = None) -> Any:
        return self.parsed(key, parser, self.form.get(key) if raw is None else raw)

    def choice(self, key: str, choices: Mapping[str, str], raw: str | None = None) -> str | None:
        value = (self.form.get(key) if raw is None else raw).strip()
        if value and value not in choices:
            self.error(key, "Choose one of the options listed.")
            return None
        return value or None


def parse_accme_id(text: str) -> int | None:
    """ACCME's numeric activity ID: digits only, or blank."""
    text = (text or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ValueError("Enter the ACCME Activity ID as digits only, or leave it blank.")
    return int(text)


def _basics(r: _Reader, show: Visibility) -> dict[str, Any]:
    fmt = r.text("format", 8)
    return dict(
        provider_activity_id=r.text("provider_activity_id", 64),
        accme_activity_id=r.parse("accme_activity_id", parse_accme_id),
        title=r.text("title", 500),
        format=fmt,
        # Formats without a delivery method show no field; a stale value is not theirs.
        delivery=r.text("delivery", 20) if show.deliveries else None,
        start_date=r.parse("start_date", parse_date),
        end_date=r.parse("end_date", parse_date),
        credits=r.parse("credits", parse_credits),
        description=r.text("description", MAX_DESCRIPTION, multiline=True),
        providership=r.choice("providership", PROVIDERSHIP),
    )


def _location(r: _Reader, show: Visibility) -> dict[str, Any]:
    if not show.location:
        return {}
    # Codes are compared upper-case; the domain's code lists judge them (and so their length).
    state, country = (r.text(k, 100) for k in ("state", "country"))
    return dict(
        venue=r.text("venue", 200),
        city=r.text("city", 100),
        state=state.upper() if state else None,
        country=country.upper() if country else None,
    )


def _passport(r: _Reader, show: Visibility) -> dict[str, Any]:
    listed = r.parse("passport_listed", parse_yes_no)
    if not show.passport_details:
        return dict(passport_listed=listed)
    return dict(
        passport_listed=listed,
        passport_fee=r.parse("passport_fee", parse_yes_no),
        passport_registration=r.choice("passport_registration", PASSPORT_REGISTRATION),
        passport_url=r.text("passport_url", 500),
    )


def _joint_providers(r: _Reader, show: Visibility) -> tuple[str, ...]:
    if not show.joint_providers:
        return ()
    names = [line.strip() for line in r.form.get("joint_providers").splitlines() if line.strip()]
    if len(names) > MAX_JOINT_PROVIDERS or any(len(n) > 200 for n in names):
        r.error("joint_providers", "Enter at most 50 names of up to 200 characters each.")
        return ()
    if not r.plain("joint_providers", "".join(names)):  # any name's control characters
        return ()
    return tuple(names)


def _supporter(r: _Reader, i: int, row: SupporterRow) -> SupporterFacts | None:
    if row.is_blank():
        return None
    key = f"supporter-{i}-"
    kind = r.choice(key + "kind", SUPPORT_KINDS, row.kind)
    amount = r.parse(key + "amount", parse_money_cents, row.amount)
    nature = r.choice(key + "nature", IN_KIND_NATURES, row.nature)
    other = r.text(key + "other", 200, row.other)
    # Contradictions are refused rather than silently dropped: PARS never takes a dollar
    # value for in-kind support (spec §5), and we must not guess which half the user meant.
    if kind == "in_kind" and amount is not None:
        r.error(key + "amount", "In-kind support is reported without a dollar value: clear it.")
    if kind == "monetary" and nature:
        r.error(key + "nature", "Monetary support has no in-kind nature: clear it.")
    if other and nature != "other":
        r.error(key + "other", "Describe the support here only when its nature is Other.")
    name = r.text(key + "name", 200, row.name) or ""  # the column's length, as for the rest
    return SupporterFacts(name, kind or "", amount, nature, other)


def _supporters(r: _Reader, show: Visibility) -> tuple[SupporterFacts, ...]:
    if not show.supporters:
        return ()
    rows = (_supporter(r, i, row) for i, row in enumerate(r.form.supporters))
    return tuple(s for s in rows if s is not None)


def _points(text: str) -> Decimal | None:
    try:
        return parse_credits(text)
    except ValueError:
        raise ValueError("Enter the MOC points as a number such as 1.5.") from None


def _moc(r: _Reader) -> tuple[MocFacts, ...]:
    found: list[MocFacts] = []
    for i, row in enumerate(r.form.moc):
        if row.is_blank():
            continue
        key = f"moc-{i}-"
        board = r.choice(key + "board", MOC_BOARDS, row.board)
        if board is None and not r.errors.get(key + "board"):
            r.error(key + "board", "Choose the board.")
        elif board in (m.board for m in found):
            r.error(key + "board", f"{board} is already entered above: one block per board.")
        types = [t.strip() for t in row.credit_types.split(",") if t.strip()]
        if len(", ".join(types)) > 200:
            r.error(key + "credit_types", "Shorten the credit types to 200 characters.")
        r.plain(key + "credit_types", ", ".join(types))
        points = r.parse(key + "points", _points, row.points)
        areas = tuple(line.strip() for line in row.practice_areas.splitlines() if line.strip())
        r.plain(key + "practice_areas", "".join(areas))  # lines split off: none may hold more
        found.append(MocFacts(board or "", tuple(types), points, areas))
    return tuple(found)


def read_form(form: ActivityForm) -> tuple[ActivityInput, Errors]:
    """Typed input and per-field messages for anything that could not be read."""
    r = _Reader(form)
    show = visible(form)
    data = ActivityInput(
        **_basics(r, show),
        **_location(r, show),
        **_passport(r, show),
        joint_providers=_joint_providers(r, show),
        commercial_support=r.parse("commercial_support", parse_yes_no),
        supporters=_supporters(r, show),
        **{key: bool(form.get(key).strip()) for key in OUTCOMES},
        physician_learners=r.parse("physician_learners", parse_count),
        other_learners=r.parse("other_learners", parse_count),
        moc=_moc(r),
    )
    return data, r.errors


# Field names that accept a "yes"/"no" choice, for the templates.
YES_NO = {"yes": "Yes", "no": "No"}


def error_anchor(key: str) -> str:
    """The id of the input an error key belongs to (row keys and plain names alike)."""
    return "f-" + key if key != "moc" else "moc-group"


__all__ = [
    "MAX_MOC",
    "MAX_SUPPORTERS",
    "YES_NO",
    "ActivityForm",
    "ActivityInput",
    "Errors",
    "MocRow",
    "SupporterRow",
    "Visibility",
    "apply_action",
    "error_anchor",
    "for_display",
    "form_from_post",
    "form_of",
    "read_form",
    "visible",
]

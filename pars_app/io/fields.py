"""The one list of importable activity columns, shared by every reader, writer and the help.

A `Column.key` is the ActivityInput/Activity attribute it fills. Repeating groups have one
column per field and group number, keyed by a path: `supporters.2.amount`, `moc.1.board`.
Enumerated columns show labels in the template (codes for countries, states and boards);
`choice_key` turns whatever the file holds back into the stored key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from pars_app.domain.codes import (
    COUNTRIES,
    IN_KIND_NATURES,
    MOC_BOARDS,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    SUPPORT_KINDS,
    US_STATES,
)
from pars_app.domain.formats import DELIVERY_LABELS, FORMAT_CODES, FORMATS, normalize_format

# How many groups the template offers, and how many a file may carry (the web form's limits).
TEMPLATE_SUPPORTERS = 5
TEMPLATE_MOC = 3
MAX_SUPPORTER_GROUPS = 50
MAX_MOC_GROUPS = len(MOC_BOARDS)

YES_NO_VALUES: tuple[str, ...] = ("Yes", "No")
LIST_SEPARATOR = ";"

# Enumerations by the name of the value they fill (group fields by their field name).
CHOICES: dict[str, Mapping[str, str]] = {
    "format": {code: FORMATS[code].label for code in FORMAT_CODES},
    "delivery": DELIVERY_LABELS,
    "country": {code: code for code in COUNTRIES},
    "state": {code: code for code in US_STATES},
    "providership": PROVIDERSHIP,
    "passport_registration": PASSPORT_REGISTRATION,
    "kind": SUPPORT_KINDS,
    "nature": IN_KIND_NATURES,
    "board": {code: code for code in MOC_BOARDS},
}

# Other spellings seen in files, besides each key and label.
_ALIASES: dict[str, dict[str, str]] = {
    "country": {name: code for code, name in COUNTRIES.items()},
    "state": {name: code for code, name in US_STATES.items()},
    "providership": {
        "directly provided": "direct",
        "direct providership": "direct",
        "jointly provided": "joint",
        "joint providership": "joint",
    },
    "kind": {"in kind": "in_kind", "inkind": "in_kind", "money": "monetary"},
    "passport_registration": {"open": "open", "open to all": "open"},
}


def fold(text: str) -> str:
    """Compare-form of a header or label: letters and digits only, single spaces, any case."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.replace("™", "").casefold()).split())


def _choice_lookup() -> dict[str, dict[str, str]]:
    lookup: dict[str, dict[str, str]] = {}
    for name, choices in CHOICES.items():
        table = {fold(key): key for key in choices}
        table.update({fold(label): key for key, label in choices.items()})
        table.update({fold(alias): key for alias, key in _ALIASES.get(name, {}).items()})
        lookup[name] = table
    return lookup


_CHOICE_LOOKUP = _choice_lookup()


def choice_key(name: str, raw: object) -> str | None:
    """The stored key of an enumerated value given as its key or its label; None if blank."""
    if raw is None or not str(raw).strip():
        return None
    if name == "format":
        return normalize_format(str(raw))[0]
    found = _CHOICE_LOOKUP[name].get(fold(str(raw)))
    if found is None:
        raise ValueError(f'"{str(raw).strip()}" is not one of the choices in the list.')
    return found


def split_names(raw: object) -> list[str]:
    """A list cell ("A; B", or one per line) as its non-blank parts."""
    if raw is None:
        return []
    text = str(raw)
    if ";" not in text and "\n" not in text and "\r" not in text:
        return [text.strip()] if text.strip() else []  # one name: no need for the regex
    return [part.strip() for part in re.split(r"[;\r\n]+", text) if part.strip()]


@dataclass(frozen=True)
class Column:
    """One importable column: where it goes, what it is called and how to fill it in."""

    key: str
    header: str
    help: str
    kind: str  # text | id | date | yes_no | choice | credits | count | money | names | year
    required: str = ""
    choice: str | None = None  # the CHOICES entry of an enumerated column
    width: int = 16

    @property
    def group(self) -> str | None:
        """'supporters' or 'moc' for a repeating-group column."""
        return self.key.split(".")[0] if "." in self.key else None

    def dropdown(self) -> tuple[str, ...]:
        """The values the template offers in this column's dropdown (empty: no dropdown)."""
        if self.kind == "yes_no":
            return YES_NO_VALUES
        if self.choice:
            return tuple(CHOICES[self.choice].values())
        return ()

    def allowed(self) -> str:
        """Allowed values or format, in words, for the instructions sheet."""
        return _ALLOWED.get(self.kind, "") if not self.choice else _allowed_choices(self.choice)


_ALLOWED = {
    "text": "Text.",
    "id": "Text, up to 64 characters, unique within your organisation.",
    "date": "A date: an Excel date, mm/dd/yyyy or yyyy-mm-dd.",
    "yes_no": "Yes or No (Y/N and True/False also work).",
    "credits": "A number with up to 2 decimals, such as 1.5.",
    "count": "A whole number, 0 or more.",
    "money": "Dollars and cents, such as 1250.00.",
    "names": "One or more names separated by ';' (or one per line in the cell).",
    "year": "A year, such as 2025.",
}


def _allowed_choices(choice: str) -> str:
    if choice in ("country", "state"):
        where = "ISO 3166 three-letter code" if choice == "country" else "USPS two-letter code"
        return f"The {where} (USA, CAN, ...); the Lists sheet has them all."
    if choice == "board":
        return "One of: " + ", ".join(CHOICES["board"]) + "."
    labels = "; ".join(CHOICES[choice].values())
    extra = " Codes (C, RSS, EM, ...) work too." if choice == "format" else ""
    return f"One of: {labels}.{extra}"


def _c(key: str, header: str, help: str, kind: str = "text", **kw: object) -> Column:
    return Column(key=key, header=header, help=help, kind=kind, **kw)  # type: ignore[arg-type]


_ACTIVE = "To be Active"
_CLOSE = "To close"

_SCALARS_BEFORE_GROUPS: tuple[Column, ...] = (
    _c(
        "provider_activity_id",
        "Provider Activity ID",
        "Your code for the activity: the key of the row. An existing ID updates that activity; "
        "a new one creates it.",
        "id",
        required="Recommended: a new row without one gets a generated ID",
        width=20,
    ),
    _c(
        "accme_activity_id",
        "ACCME Activity ID",
        "The number PARS gave the activity, if any. Read-only once set.",
        "id",
        width=18,
    ),
    _c("title", "Activity Title", "The activity's title.", required="Always", width=40),
    _c(
        "format",
        "Format",
        "The PARS activity format.",
        "choice",
        required="Always",
        choice="format",
        width=28,
    ),
    _c(
        "delivery",
        "Delivery Method",
        "How learners take part: courses and series are in person, live-streamed or hybrid; "
        "enduring materials are internet or print. Other formats leave it blank.",
        "choice",
        required=_ACTIVE + " (Course, Enduring Material)",
        choice="delivery",
        width=20,
    ),
    _c("start_date", "Start Date", "First day of the activity.", "date", required="Always"),
    _c(
        "end_date",
        "End Date",
        "Last day (an enduring material's expiry). Within 12 months of the start; 3 years for "
        "an enduring material.",
        "date",
        required="Always",
    ),
    _c(
        "venue",
        "Venue",
        "Where learners gather.",
        required=_ACTIVE + " when in person or hybrid",
        width=24,
    ),
    _c("city", "City", "City of the venue.", required=_ACTIVE + " when in person or hybrid"),
    _c(
        "state",
        "State",
        "State of the venue (USPS code).",
        "choice",
        required=_ACTIVE + " when the country is USA",
        choice="state",
        width=10,
    ),
    _c(
        "country",
        "Country",
        "Country of the venue (ISO three-letter code).",
        "choice",
        required=_ACTIVE + " when in person or hybrid",
        choice="country",
        width=10,
    ),
    _c(
        "credits",
        "AMA PRA Category 1 Credits",
        "Credits designated, more than 0 (for a series, the whole series).",
        "credits",
        required=_ACTIVE,
        width=14,
    ),
    _c("description", "Description", "What the activity covers.", required=_ACTIVE, width=40),
    _c(
        "providership",
        "Providership",
        "Direct, or Joint with one or more joint providers.",
        "choice",
        required=_ACTIVE,
        choice="providership",
    ),
    _c(
        "joint_providers",
        "Joint Providers",
        "Names of the joint providers.",
        "names",
        required=_CLOSE + " when Joint",
        width=30,
    ),
    _c(
        "passport_listed",
        "Listed in CME Passport",
        "Whether the activity is listed in CME Passport.",
        "yes_no",
        required=_ACTIVE,
    ),
    _c(
        "passport_fee",
        "CME Passport Fee",
        "Whether learners pay a fee.",
        "yes_no",
        required=_ACTIVE + " when listed",
    ),
    _c(
        "passport_registration",
        "CME Passport Registration",
        "Who can register.",
        "choice",
        required=_ACTIVE + " when listed",
        choice="passport_registration",
        width=18,
    ),
    _c(
        "passport_url",
        "CME Passport URL",
        "Web address of the activity.",
        required=_ACTIVE + " when listed",
        width=30,
    ),
    _c(
        "commercial_support",
        "Commercial Support Received",
        "Whether the activity received commercial support. If Yes, fill in at least one supporter.",
        "yes_no",
        required=_CLOSE,
    ),
)

_SUPPORTER_FIELDS: tuple[tuple[str, str, str, str, str | None], ...] = (
    # field, header suffix, kind, help, choice
    ("name", "Name", "text", "Name of the commercial supporter.", None),
    ("kind", "Type", "choice", "Monetary or In-kind.", "kind"),
    (
        "amount",
        "Amount",
        "money",
        "Amount received, more than 0. Monetary support only: in-kind has no dollar value.",
        None,
    ),
    ("nature", "In-kind Nature", "choice", "What was given. In-kind support only.", "nature"),
    ("other", "Other Nature", "text", "Describe the support when its nature is Other.", None),
)

_MOC_FIELDS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("board", "Board", "choice", "The ABMS board the activity is registered with.", "board"),
    ("credit_types", "Credit Types", "names", "The board's MOC credit types.", None),
    (
        "points",
        "Points",
        "credits",
        "MOC points (ABIM: no more than the credits; ABP: whole numbers).",
        None,
    ),
    ("practice_areas", "Practice Areas", "names", "The practice areas.", None),
)

_OUTCOMES_AND_AFTER: tuple[Column, ...] = (
    *(
        _c(
            key,
            f"Outcome: {label}",
            f"Yes if the activity measured changes in {label.casefold()}.",
            "yes_no",
            required=_CLOSE + ": at least one Yes",
        )
        for key, label in (
            ("outcome_competence", "Learner Competence"),
            ("outcome_performance", "Learner Performance"),
            ("outcome_patient_health", "Patient Health"),
            ("outcome_community_health", "Community/Population Health"),
        )
    ),
    _c(
        "physician_learners",
        "Physician Learners",
        "Physicians (residents included). A series counts each learner once per session.",
        "count",
        required=_CLOSE,
    ),
    _c(
        "other_learners",
        "Other Learners",
        "Everyone else who took part.",
        "count",
        required=_CLOSE,
    ),
)

CLOSE_COLUMN = _c(
    "close",
    "Close Activity",
    "Yes closes the activity after applying the row, if everything needed to close is there; "
    "otherwise the row is reported with what is missing.",
    "yes_no",
)


def _group(prefix: str, key: str, n: int, fields: tuple, required: str) -> list[Column]:
    return [
        _c(
            f"{key}.{n}.{name}",
            f"{prefix} {n} {suffix}",
            help,
            kind,
            choice=choice,
            required=required if n == 1 else "",
            width=18 if kind != "text" else 24,
        )
        for name, suffix, kind, help, choice in fields
    ]


def supporter_columns(n: int) -> list[Column]:
    """The five columns of commercial supporter group n (1-based)."""
    return _group("Supporter", "supporters", n, _SUPPORTER_FIELDS, _CLOSE + " when support is Yes")


def moc_columns(n: int) -> list[Column]:
    """The four columns of MOC registration group n (1-based)."""
    return _group("MOC", "moc", n, _MOC_FIELDS, "Only for activities registered for MOC")


def activity_columns(
    supporters: int = TEMPLATE_SUPPORTERS, moc: int = TEMPLATE_MOC
) -> list[Column]:
    """Every template column in order, with this many supporter and MOC groups."""
    return [
        *_SCALARS_BEFORE_GROUPS,
        *(c for n in range(1, supporters + 1) for c in supporter_columns(n)),
        *_OUTCOMES_AND_AFTER,
        *(c for n in range(1, moc + 1) for c in moc_columns(n)),
        CLOSE_COLUMN,
    ]


COLUMNS: tuple[Column, ...] = tuple(activity_columns())
SCALAR_KEYS: tuple[str, ...] = tuple(
    c.key for c in (*_SCALARS_BEFORE_GROUPS, *_OUTCOMES_AND_AFTER, CLOSE_COLUMN)
)

# Older or shorter names people give the same columns.
_HEADER_ALIASES: dict[str, str] = {
    "title": "title",
    "activity format": "format",
    "activity type": "format",
    "delivery": "delivery",
    "activity start date": "start_date",
    "activity end date": "end_date",
    "credits": "credits",
    "ama pra category 1 credits designated": "credits",
    "physicians": "physician_learners",
    "of physicians": "physician_learners",
    "other learners count": "other_learners",
    "of other learners": "other_learners",
    "cme passport listed": "passport_listed",
    "close": "close",
}

ACTIVITY_HEADERS: dict[str, Column] = {
    fold(c.header): c for c in activity_columns(MAX_SUPPORTER_GROUPS, MAX_MOC_GROUPS)
}
_BY_KEY = {c.key: c for c in ACTIVITY_HEADERS.values()}
ACTIVITY_HEADERS.update({alias: _BY_KEY[key] for alias, key in _HEADER_ALIASES.items()})

# A template needs its key (or at least a title) and the three fields every Draft has.
REQUIRED_KEYS: tuple[str, ...] = ("format", "start_date", "end_date")
IDENTITY_KEYS: tuple[str, ...] = ("provider_activity_id", "title")


def column(key: str) -> Column:
    """The Column of a key or group path ('credits', 'supporters.2.amount')."""
    return _BY_KEY[key]


# --- Learner counts ------------------------------------------------------------------------

COUNT_COLUMNS: tuple[Column, ...] = (
    _c(
        "provider_activity_id",
        "Provider Activity ID",
        "Your code for the activity, as entered in the app.",
        "id",
        required="Always",
        width=22,
    ),
    _c(
        "title",
        "Activity Title",
        "For your reference only: not imported.",
        width=40,
    ),
    _c(
        "physician_learners",
        "Physician Learners",
        "Physicians (residents included); for an enduring material the cumulative total "
        "since it started.",
        "count",
        required="Always",
        width=18,
    ),
    _c(
        "other_learners",
        "Other Learners",
        "Everyone else; cumulative for an enduring material.",
        "count",
        required="Always",
        width=18,
    ),
    _c(
        "counts_year",
        "As of December 31",
        "Enduring materials: the year whose December 31 the totals are as of. Leave blank for "
        "other formats.",
        "year",
        required="Enduring materials",
        width=18,
    ),
)
COUNT_HEADERS: dict[str, Column] = {fold(c.header): c for c in COUNT_COLUMNS}
COUNT_HEADERS.update(
    {
        "as of december 31 year": COUNT_COLUMNS[4],
        "as of year": COUNT_COLUMNS[4],
        "year": COUNT_COLUMNS[4],
    }
)


def looks_like_counts(folded_headers: set[str]) -> bool:
    """Whether a header row is the learner-count template rather than the activity one."""
    known = {COUNT_HEADERS[h].key for h in folded_headers if h in COUNT_HEADERS}
    if "counts_year" in known:
        return True
    unknown = folded_headers - COUNT_HEADERS.keys()
    counts = {"physician_learners", "other_learners"} & known
    return not unknown and "provider_activity_id" in known and bool(counts)


def imply_delivery(values: dict[str, object]) -> None:
    """Turn a legacy format code (IL, IEM) into today's format and its implied delivery."""
    raw = values.get("format")
    if not isinstance(raw, str):
        return
    implied = _implied_delivery(raw)
    if implied is not None:
        values["format"] = implied[0]
        if not values.get("delivery"):
            values["delivery"] = implied[1]


@lru_cache(maxsize=256)
def _implied_delivery(raw: str) -> tuple[str, str] | None:
    # Cached: a file repeats a handful of formats over thousands of rows.
    try:
        code, delivery = normalize_format(raw)
    except ValueError:
        return None  # left as given: the import reports it with the other row errors
    return None if delivery is None else (code, delivery)

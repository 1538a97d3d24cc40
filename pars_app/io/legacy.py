"""ACCME's legacy tab-delimited layouts, Template C (2014) and Template D (2015+), spec §10.

No header row, one activity per line, columns by position. Template D is Template C without
columns 16-23 (supporter count, total amount, activity-level in-kind flags) and 40-42 (income
and expenses). After the fixed columns come 8 columns per commercial supporter.

Mapping [ours]: the "designed to change" / "changes evaluated" pairs become outcome measures
(Yes when either is Yes); hours become credits when credits are blank; the end date is the
start date, or start + 1 year - 1 day for an enduring material (the files had one date);
sub-categories, competencies, income and the reporting year go to `legacy_data`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from pars_app.domain.codes import IN_KIND_NATURES
from pars_app.domain.formats import max_end_date, normalize_format
from pars_app.domain.values import parse_date, parse_money_cents, parse_yes_no

from .fields import fold, imply_delivery, split_names
from .rows import RawRow, RowProblem, UnreadableFile
from .tabular import as_text

Cells = list[object]

_C_ONLY = frozenset({16, 17, 18, 19, 20, 21, 22, 23, 40, 41, 42})

# Template C, in order: (value key, ACCME's column name). "legacy:" keys go to legacy_data;
# "designed:"/"evaluated:" keys are the outcome pairs.
_TEMPLATE_C: tuple[tuple[str, str], ...] = (
    ("legacy:template", "Template"),
    ("accme_activity_id", "ACCME Activity ID"),
    ("provider_activity_id", "Provider Activity ID"),
    ("legacy:reporting_year", "Reporting Year"),
    ("title", "Activity Title"),
    ("start_date", "Activity Date"),
    ("city", "City"),
    ("state", "State"),
    ("country", "Country"),
    ("providership", "Providership"),
    ("format", "Activity Type"),
    ("legacy:hours_of_instruction", "Hours of Instruction"),
    ("physician_learners", "# of Physicians"),
    ("other_learners", "# of Other Learners"),
    ("commercial_support", "Commercial Support Received?"),
    ("legacy:commercial_supporters", "# of Commercial Supporters"),
    ("legacy:total_monetary_support", "Total Monetary Amount Received"),
    ("legacy:in_kind_durable_equipment", "In-kind: durable equipment?"),
    ("legacy:in_kind_facilities", "In-kind: facilities/space?"),
    ("legacy:in_kind_disposable_supplies", "In-kind: disposable supplies?"),
    ("legacy:in_kind_animal_parts", "In-kind: animal parts or tissue?"),
    ("legacy:in_kind_human_parts", "In-kind: human parts or tissue?"),
    ("legacy:in_kind_other", "In-kind: other"),
    ("designed:outcome_competence", "Designed to change competence?"),
    ("evaluated:outcome_competence", "Changes in competence evaluated?"),
    ("designed:outcome_performance", "Designed to change performance?"),
    ("evaluated:outcome_performance", "Changes in performance evaluated?"),
    ("designed:outcome_patient_health", "Designed to change patient outcomes?"),
    ("evaluated:outcome_patient_health", "Changes in patient outcomes evaluated?"),
    ("legacy:subcategory_case_based_discussion", "Case-based discussion"),
    ("legacy:subcategory_lecture", "Lecture"),
    ("legacy:subcategory_panel", "Panel"),
    ("legacy:subcategory_simulation", "Simulation"),
    ("legacy:subcategory_skill_based_training", "Skill-based training"),
    ("legacy:subcategory_small_group_discussion", "Small group discussion"),
    ("legacy:subcategory_other", "Other sub-category"),
    ("joint_providers", "Joint Provider(s)"),
    ("credits", "AMA PRA Category 1 Credits designated"),
    ("description", "Description of content"),
    ("legacy:advertising_exhibit_income", "Advertising & exhibit income"),
    ("legacy:other_income", "Other income"),
    ("legacy:expenses", "Expenses"),
    ("legacy:abms_patient_care", "ABMS/ACGME: Patient care"),
    ("legacy:abms_medical_knowledge", "ABMS/ACGME: Medical knowledge"),
    ("legacy:abms_practice_based_learning", "ABMS/ACGME: Practice-based learning"),
    ("legacy:abms_interpersonal_communication", "ABMS/ACGME: Interpersonal skills"),
    ("legacy:abms_professionalism", "ABMS/ACGME: Professionalism"),
    ("legacy:abms_systems_based_practice", "ABMS/ACGME: Systems-based practice"),
    ("legacy:iom_patient_centered_care", "IOM: Patient-centered care"),
    ("legacy:iom_interdisciplinary_teams", "IOM: Interdisciplinary teams"),
    ("legacy:iom_evidence_based_practice", "IOM: Evidence-based practice"),
    ("legacy:iom_quality_improvement", "IOM: Quality improvement"),
    ("legacy:iom_informatics", "IOM: Informatics"),
    ("legacy:ipec_values_ethics", "IPEC: Values/ethics"),
    ("legacy:ipec_roles_responsibilities", "IPEC: Roles/responsibilities"),
    ("legacy:ipec_interprofessional_communication", "IPEC: Interprofessional communication"),
    ("legacy:ipec_teams_teamwork", "IPEC: Teams and teamwork"),
    ("legacy:other_competencies", "Other competencies"),
)

# Per supporter, after the fixed columns: name, amount, then the in-kind flags in this order;
# the last one ("other") may hold a description instead of Yes/No.
SUPPORTER_WIDTH = 8
_SUPPORTER_NATURES = (
    "durable_equipment",
    "facilities",
    "disposable_supplies",
    "animal_parts",
    "human_parts",
    "other",
)
assert set(_SUPPORTER_NATURES) == set(IN_KIND_NATURES)


@dataclass(frozen=True)
class Layout:
    """One legacy template: its name and its fixed columns as (1-based position, key, name)."""

    name: str
    columns: tuple[tuple[int, str, str], ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    def position(self, key: str) -> int:
        return next(pos for pos, k, _ in self.columns if k == key)


TEMPLATE_C = Layout("C", tuple((i, k, n) for i, (k, n) in enumerate(_TEMPLATE_C, start=1)))
TEMPLATE_D = Layout(
    "D",
    tuple(
        (i, k, n)
        for i, (k, n) in enumerate(
            (kn for pos, kn in enumerate(_TEMPLATE_C, start=1) if pos not in _C_ONLY), start=1
        )
    ),
)
LAYOUTS = {"C": TEMPLATE_C, "D": TEMPLATE_D}

_LITERAL = re.compile(r"template\s*([cd])", re.IGNORECASE)


def template_literal(cell: object) -> str | None:
    """'C' or 'D' when a first cell says "Template C" / "Template D", else None."""
    found = _LITERAL.fullmatch(str(cell).strip()) if isinstance(cell, str) else None
    return found.group(1).upper() if found else None


def layout_of(cells: Cells) -> Layout | None:
    """The row's template: from its first cell, else from how many values it has."""
    literal = template_literal(cells[0]) if cells else None
    if literal:
        return LAYOUTS[literal]
    n = len(cells)
    for layout in (TEMPLATE_C, TEMPLATE_D):
        if n >= layout.width and (n - layout.width) % SUPPORTER_WIDTH == 0:
            return layout
    return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _json_safe(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


class _Row:
    """Builds one RawRow from a legacy line, collecting structural problems."""

    def __init__(self, layout: Layout, cells: Cells):
        self.layout = layout
        self.cells = cells
        self.values: dict[str, object] = {}
        self.legacy: dict[str, object] = {"template": f"Template {layout.name}"}
        self.problems: list[RowProblem] = []
        self.flags: dict[str, list[tuple[str, object]]] = {}

    def cell(self, position: int) -> object:
        value = self.cells[position - 1] if position <= len(self.cells) else None
        return None if _blank(value) else value

    def yes_no(self, header: str, value: object) -> bool | None:
        try:
            return parse_yes_no(value)
        except ValueError:
            self.problems.append(RowProblem(header, f'"{value}" is not Yes or No.'))
            return None

    def fixed(self) -> None:
        for position, key, name in self.layout.columns:
            value = self.cell(position)
            header = f"column {position} ({name})"
            if key.startswith("legacy:"):
                if value is not None and key != "legacy:template":
                    self.legacy[key[7:]] = _json_safe(value)
            elif key.startswith(("designed:", "evaluated:")):
                self.flags.setdefault(key.split(":")[1], []).append((header, value))
            elif key == "joint_providers":
                self.values[key] = split_names(as_text(value))
            elif key in ("provider_activity_id", "accme_activity_id", "title", "description"):
                self.values[key] = as_text(value)
            else:
                self.values[key] = value

    def outcomes(self) -> None:
        for key, pair in self.flags.items():
            answers = [self.yes_no(header, value) for header, value in pair if value is not None]
            if True in answers:
                self.values[key] = True
            elif False in answers:
                self.values[key] = False

    def dates_and_credits(self) -> None:
        if self.values.get("credits") is None and "hours_of_instruction" in self.legacy:
            self.values["credits"] = self.legacy["hours_of_instruction"]
        self.values["end_date"] = _end_date(
            self.values.get("start_date"), self.values.get("format")
        )
        imply_delivery(self.values)

    def supporters(self) -> None:
        found: list[dict[str, object]] = []
        start = self.layout.width + 1
        for number, first in enumerate(range(start, len(self.cells) + 1, SUPPORTER_WIDTH), 1):
            found += self._supporter(number, first)
        if found:
            self.values["supporters"] = found

    def _supporter(self, number: int, first: int) -> list[dict[str, object]]:
        name, amount = as_text(self.cell(first)), self.cell(first + 1)
        flags = [self.cell(first + 2 + i) for i in range(len(_SUPPORTER_NATURES))]
        if name is None and amount is None and all(f is None for f in flags):
            return []
        header = f"supporter {number} (columns {first}-{first + SUPPORTER_WIDTH - 1})"
        base = {"number": number, "name": name, "amount": None, "nature": None, "other": None}
        entries = []
        if amount is not None and not _is_zero(amount):
            entries.append({**base, "kind": "monetary", "amount": amount})
        for nature, flag in zip(_SUPPORTER_NATURES, flags, strict=True):
            entry = self._in_kind(base, header, nature, flag)
            if entry:
                entries.append(entry)
        return entries or [{**base, "kind": None}]

    def _in_kind(self, base: dict, header: str, nature: str, flag: object) -> dict | None:
        if flag is None:
            return None
        if nature == "other":
            try:
                given = parse_yes_no(flag)
            except ValueError:
                # The last flag may carry the description of the "other" support instead.
                return {**base, "kind": "in_kind", "nature": "other", "other": as_text(flag)}
        else:
            given = self.yes_no(header, flag)
        return {**base, "kind": "in_kind", "nature": nature} if given else None

    def build(self, number: int) -> RawRow:
        self.fixed()
        self.outcomes()
        self.dates_and_credits()
        self.supporters()
        self.values["legacy_data"] = self.legacy
        return RawRow(number, self.values, tuple(self.problems))


def _is_zero(amount: object) -> bool:
    try:
        return parse_money_cents(amount) == 0
    except ValueError:
        return False  # the import reports the amount itself


def _end_date(start: object, fmt: object) -> date | None:
    try:
        first = parse_date(start)
    except ValueError:
        return None  # the import reports the start date
    if first is None:
        return None
    try:
        enduring = isinstance(fmt, str) and normalize_format(fmt)[0] == "EM"
    except ValueError:
        enduring = False
    # Legacy files had one date. An enduring material runs up to a year from it: the 12-month
    # span of every non-enduring format ends exactly there (start + 1 year - 1 day).
    return max_end_date("C", first) if enduring else first


def map_row(number: int, cells: Cells) -> RawRow:
    """One legacy line (cells by position) as a RawRow keyed like the app's own columns."""
    layout = layout_of(cells)
    if layout is None:
        message = (
            f"This row has {len(cells)} values. Template C has {TEMPLATE_C.width} and Template D "
            f"{TEMPLATE_D.width}, plus {SUPPORTER_WIDTH} per commercial supporter; put "
            '"Template C" or "Template D" in the first column.'
        )
        return RawRow(number, {}, (RowProblem("column 1 (Template)", message),))
    return _Row(layout, cells).build(number)


def is_header(cells: Cells) -> bool:
    """Whether a row is a header row pasted above legacy data ("Template", "ACCME ...")."""
    return bool(cells) and isinstance(cells[0], str) and fold(cells[0]) == "template"


def legacy_rows(rows: Iterable[tuple[int, Cells]]) -> Iterator[RawRow]:
    """RawRows from numbered rows of cells, skipping a header row at the top."""
    first = True
    for number, cells in rows:
        if first and is_header(cells):
            first = False
            continue
        first = False
        yield map_row(number, cells)


def label(path: str) -> str:
    """A value's column in a legacy file, by ACCME's name for it."""
    names = {key: name for _, key, name in TEMPLATE_C.columns}
    if path in names:
        return names[path]
    if path == "end_date":
        return "Activity Date"
    if path.startswith("outcome_"):
        return names.get(f"evaluated:{path}", path)
    if path.startswith("supporters."):
        return f"commercial supporter {path.split('.')[1]}"
    return path


# --- Tab-delimited text ---------------------------------------------------------------------


def text_rows(text: str, delimiter: str = "\t") -> Iterator[tuple[int, Cells]]:
    """(line number, cells) of delimited text (tabs, or commas for a CSV), blank lines left
    out; quotes as Excel does."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    line = 0
    try:
        for cells in reader:
            number, line = line + 1, reader.line_num
            if any(c.strip() for c in cells):
                yield number, [c.strip() or None for c in cells]
    except csv.Error as err:
        raise UnreadableFile(
            f'Line {line + 1} cannot be read ({err}). A quote (") may be unbalanced: save the '
            "file again from Excel as tab-delimited text or CSV."
        ) from None

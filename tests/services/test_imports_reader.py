"""The import's fast reader (`import_input.read_row`) reads a new activity's row exactly as the
web form's reader would: same `ActivityInput`, same messages per field, in the same order, on
generated rows valid and invalid. The reference is the form's own path: the row's values laid
over an empty form and read with `activity_input.read_form` (`import_plan.read_over`)."""

from __future__ import annotations

import os
from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pars_app.domain.codes import OUTCOMES
from pars_app.domain.status import ActivityFacts
from pars_app.io import RawRow, read_file, write_activities
from pars_app.services.activity_input import SCALAR_FIELDS, ActivityForm
from pars_app.services.import_input import _TAKE, read_row
from pars_app.services.import_plan import PlanContext, plan_activity_row, read_over
from tests.security.test_fuzz_forms import PAYLOADS
from tests.unit.test_io_fixtures import full_record

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"

# Anything a reader can hand over: text, numbers, booleans, dates, hostile strings, long text.
cell = st.one_of(
    st.none(),
    st.sampled_from(PAYLOADS),
    st.text(max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=date(1, 1, 1)),
    st.sampled_from(["x" * 65, "x" * 101, "x" * 201, "A" * 501, "x" * 20_001, " ", ""]),
)


def either(*good: object) -> st.SearchStrategy:
    """Mostly values a real file holds for the column (so the rules behind them are reached),
    sometimes anything."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), cell)


YES_NO = either("Yes", "No", "y", "N", "TRUE", "false", True, False, 1, 0, 1.0, "maybe", "")
DATE = either(
    date(2025, 3, 1),
    date(2025, 12, 31),
    date(2027, 1, 1),
    date(1949, 1, 1),
    "03/01/2025",
    "2025-03-01",
    "2025-03-01 00:00:00",
    "31/31/2025",
    45717,
    45717.5,
    "",
)
NUMBER = either(12.25, "12.25", 12, "1,040", "1,5", 1040, 0, -1, 12.5, 1e16, "$12,500.55", "abc")
VALUES: dict[str, st.SearchStrategy] = {
    "format": either("C", "Course", "RSS", "EM", "Enduring Material", "JN", "IL", "IEM", "Nope"),
    "delivery": either("In person", "Hybrid", "hybrid", "Internet", "live_stream", "Print", "Car"),
    "start_date": DATE,
    "end_date": DATE,
    "state": either("IL", "il", "Illinois", "XX", "Ontario", "N.Y."),
    "country": either("USA", "usa", "Canada", "CAN", "United States", "XXX", "Mars"),
    "providership": either("Direct", "Joint", "joint", "Jointly provided", "Partly"),
    "joint_providers": either(
        ["Lakeside Heart Society"], ["A", "B"], "A; B", "A\nB", "A\x85B", [], ["x" * 201]
    ),
    "passport_listed": YES_NO,
    "passport_fee": YES_NO,
    "passport_registration": either("Open to all", "Limited", "open", "Closed"),
    "passport_url": either("https://example.org/a", "example.org", "http://x y"),
    "commercial_support": YES_NO,
    "credits": NUMBER,
    "physician_learners": NUMBER,
    "other_learners": NUMBER,
    "accme_activity_id": either("800000001", 800000001, "12a", "1" * 19),
    **{key: YES_NO for key in OUTCOMES},
}
TEXT = either("Cardiology update", "Main hall", "Chicago", "Line one\nline two", "\x00", "x" * 501)
supporter = st.fixed_dictionaries(
    {},
    optional={
        "number": st.integers(1, 9),
        "name": TEXT,
        "kind": either("Monetary", "In-kind", "in kind", "money", "Gift"),
        "amount": either(12500.55, "12,500.55", 0, -5, "1.234", None),
        "nature": either("Durable equipment", "Other", "facilities", "Something"),
        "other": either("Chairs", None, ""),
    },
)
registration = st.fixed_dictionaries(
    {},
    optional={
        "number": st.integers(1, 9),
        "board": either("ABIM", "ABP", "abpath", "ABX"),
        "credit_types": st.lists(st.sampled_from(["Medical Knowledge", "Patient Safety", " "])),
        "points": either(10.5, "10.50", 3, "x", -1),
        "practice_areas": st.lists(st.sampled_from(["Cardiology", "Pediatrics", "", "\x07"])),
    },
)


# Half the rows start from answers that open every part of the form (location, CME Passport
# details, joint providers, supporters), so the rules behind them are reached often.
OPEN = {
    "format": "Course",
    "delivery": "Hybrid",
    "providership": "Joint",
    "passport_listed": "Yes",
    "commercial_support": "Yes",
}


@st.composite
def rows(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(SCALAR_FIELDS), unique=True, max_size=len(SCALAR_FIELDS)))
    values = dict(OPEN) if draw(st.booleans()) else {}
    values.update({key: draw(VALUES.get(key, TEXT)) for key in keys})
    if draw(st.booleans()):
        values["supporters"] = draw(st.lists(supporter, max_size=3))
    if draw(st.booleans()):
        values["moc"] = draw(st.lists(registration, max_size=3))
    if draw(st.booleans()):
        values["close"] = draw(YES_NO)
    return values


def assert_same(values: dict) -> None:
    fast = read_row(values)
    form = read_over(ActivityForm(), values)
    assert fast.data == form.data
    assert _typed(fast.data) == _typed(form.data)  # and 12 is not 12.0, nor Decimal("12")
    # facts() hands the fields over by position: the same as by name.
    by_name = {
        n: getattr(fast.data, n) for n in ActivityFacts.__dataclass_fields__ if n != "closed"
    }
    assert fast.data.facts() == ActivityFacts(**by_name)
    assert list(fast.failed.items()) == list(form.failed.items())
    assert list(fast.errors.items()) == list(form.errors.items())
    for key in [*form.failed, *form.errors]:
        assert fast.path(key) == form.path(key), key


def _typed(value: object) -> object:
    """Every part of a value with its type spelled out."""
    if hasattr(value, "__dataclass_fields__"):
        return [(name, _typed(getattr(value, name))) for name in value.__dataclass_fields__]
    if isinstance(value, tuple | list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_the_reader_takes_every_field_the_form_has():
    assert set(_TAKE) == set(SCALAR_FIELDS)


@settings(max_examples=3000 if DEEP else 400, deadline=None)
@given(values=rows())
@example(values={})
@example(values={"format": "C", "delivery": "Hybrid", "state": "Illinois", "country": "usa"})
@example(values={"commercial_support": "Yes", "supporters": [{"kind": "Gift", "amount": 5}]})
@example(values={"moc": [{"board": "ABX"}, {"board": "ABIM"}, {"board": "ABIM"}]})
def test_fast_reader_and_form_reader_agree_on_generated_rows(values):
    assert_same(values)


@settings(max_examples=300 if DEEP else 60, deadline=None)
@given(batch=st.lists(rows(), min_size=2, max_size=6), order=st.randoms())
def test_parts_remembered_from_earlier_rows_read_as_the_form_reads_them(batch, order):
    """The reader remembers supporters, MOC blocks and venues it read without a message: a
    file repeats them. Rows that share those parts, read again in another order and after
    each other's messages, still read as the form reads them."""
    shared = {k: batch[0][k] for k in ("supporters", "moc", "venue", "city") if k in batch[0]}
    again = [values | shared for values in batch]
    order.shuffle(again)
    for values in [*batch, *again, *batch]:
        assert_same(values)


def test_they_agree_on_every_row_of_a_full_template_file():
    """The readers' own output, as the import gets it: the io fixture's complete records."""
    records = [full_record(i) for i in range(1, 4)]
    records[1] |= {"start_date": "31/31/2025", "format": "Nonsense", "title": ""}
    found = list(read_file("acts.xlsx", write_activities(records)).rows)
    assert len(found) == 3
    for raw in found:
        assert_same(raw.values)


def test_a_planned_new_row_reports_what_the_form_would_in_the_files_words():
    raw = RawRow(
        7,
        {
            "title": "T",
            "format": "Nonsense",
            "start_date": "31/31/2025",
            "end_date": date(2025, 3, 1),
            "commercial_support": "Yes",
            "supporters": [{"number": 2, "name": "Acme", "kind": "Monetary", "amount": "-5"}],
        },
    )
    ctx = PlanContext(date(2026, 2, 15), frozenset(), lambda path: f"<{path}>")
    plan = plan_activity_row(raw, None, ctx)
    assert plan.action == "error"
    assert [(m.column, m.text) for m in plan.errors] == [
        (
            "<format>",
            '"Nonsense" is not an activity format. Use one of: C, RSS, EM, JN, MR, '
            "TIW, CML, PI, ISL, LFT.",
        ),
        ("<start_date>", "31/31/2025 is not a real date."),
        ("<supporters.2.amount>", "Enter 0 or more, not a negative number."),
    ]

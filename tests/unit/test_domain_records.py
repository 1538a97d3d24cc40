"""records.build: the same frozen object as the class's own __init__, or a clear refusal."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.records import build
from pars_app.domain.status import ActivityFacts, MocFacts, StatusReport, SupporterFacts, evaluate
from pars_app.services.activity_input import INPUT_DEFAULTS, ActivityInput

_text = st.none() | st.text(max_size=12)
_flag = st.none() | st.booleans()
_inputs = st.builds(
    ActivityInput,
    provider_activity_id=_text,
    accme_activity_id=st.none() | st.integers(0, 10**9),
    title=_text,
    format=st.sampled_from([None, "C", "RSS", "EM", "X"]),
    start_date=st.none() | st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    end_date=st.none() | st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    credits=st.none() | st.decimals(0, 99, places=2),
    passport_listed=_flag,
    commercial_support=_flag,
    supporters=st.lists(
        st.builds(SupporterFacts, name=st.text(max_size=5), kind=st.sampled_from(["", "monetary"])),
        max_size=2,
    ).map(tuple),
    moc=st.lists(st.builds(MocFacts, board=st.sampled_from(["ABIM", "ABP", ""])), max_size=2).map(
        tuple
    ),
    outcome_competence=st.booleans(),
    physician_learners=st.none() | st.integers(-1, 10**6),
)


@given(_inputs)
def test_built_input_is_the_input_its_constructor_makes(data: ActivityInput) -> None:
    fields = INPUT_DEFAULTS | {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
    built = build(ActivityInput, fields)
    assert built == data
    assert hash(built) == hash(data)
    assert repr(built) == repr(data)
    assert pickle.loads(pickle.dumps(built)) == data
    assert dataclasses.replace(built, title="changed") == dataclasses.replace(data, title="changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.title = "x"  # type: ignore[misc]


@given(_inputs)
def test_facts_of_an_input_are_the_facts_the_constructor_makes(data: ActivityInput) -> None:
    names = [f.name for f in dataclasses.fields(ActivityFacts) if f.name != "closed"]
    expected = ActivityFacts(**{name: getattr(data, name) for name in names})
    assert data.facts() == expected
    assert not data.facts().closed
    today = date(2026, 11, 26)
    assert evaluate(data.facts(), today) == evaluate(expected, today)


def test_build_does_not_keep_the_mapping_it_was_given() -> None:
    fields = dict(INPUT_DEFAULTS, title="Grand rounds")
    built = build(ActivityInput, fields)
    fields["title"] = "changed afterwards"
    assert built.title == "Grand rounds"
    assert copy.copy(built) == built


def test_a_missing_or_unknown_field_is_refused_by_name() -> None:
    fields = dict(INPUT_DEFAULTS)
    del fields["title"]
    with pytest.raises(TypeError, match=r"missing \['title'\], unknown \[\]"):
        build(ActivityInput, fields)
    with pytest.raises(TypeError, match=r"unknown \['closed'\]"):
        build(ActivityInput, INPUT_DEFAULTS | {"closed": False})


def test_classes_build_would_get_wrong_are_refused() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise AssertionError("build would skip this")

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclass(frozen=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True)
    class Plain:
        a: int
        b: list[int] = field(default_factory=list)

    for cls in (Mutable, Checked, Slotted, Derived):
        with pytest.raises(TypeError):
            build(cls, {"a": 1})
    assert build(Plain, {"a": 1, "b": [2]}) == Plain(1, [2])


def test_status_report_is_built_whole() -> None:
    report = evaluate(ActivityFacts(title="T", credits=Decimal(1)), date(2026, 1, 1))
    assert isinstance(report, StatusReport)
    assert {f.name for f in dataclasses.fields(report)} <= set(vars(report))

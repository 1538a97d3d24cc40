"""Activity status rules: the messages a user sees and how levels become statuses."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pars_app.domain.status import (
    LEVELS,
    STATUS_LABELS,
    ActivityFacts,
    MocFacts,
    Problem,
    Status,
    SupporterFacts,
    active_problems,
    close_problems,
    completeness,
    draft_problems,
    evaluate,
    status_from_level,
)

TODAY = date(2025, 9, 1)
CREDITS = "AMA PRA Category 1 Credits™"


def make_facts(**overrides) -> ActivityFacts:
    """A complete in-person course that ended 06/30/2025: closable as it stands."""
    base = ActivityFacts(
        title="Cardiology Update 2025",
        format="C",
        delivery="in_person",
        start_date=date(2025, 6, 1),
        end_date=date(2025, 6, 30),
        venue="Grand Hall",
        city="Chicago",
        state="IL",
        country="USA",
        credits=Decimal("6.50"),
        description="Advances in heart failure care.",
        providership="direct",
        passport_listed=False,
        commercial_support=False,
        outcome_competence=True,
        physician_learners=120,
        other_learners=30,
    )
    return dataclasses.replace(base, **overrides)


ACME = SupporterFacts(name="Acme Pharma", kind="monetary", amount_cents=500_000)
LAB = SupporterFacts(name="Lab Supply Co", kind="in_kind", in_kind_nature="disposable_supplies")
ABIM = MocFacts(
    board="ABIM", credit_types=("medical_knowledge",), points=Decimal("6.5"), practice_areas=("X",)
)


def make_rich_facts(**overrides) -> ActivityFacts:
    """A complete jointly provided activity with Passport listing, support and MOC."""
    rich = make_facts(
        providership="joint",
        joint_providers=("Heart Society",),
        passport_listed=True,
        passport_fee=False,
        passport_registration="open",
        passport_url="https://cme.example.org/cardio",
        commercial_support=True,
        supporters=(ACME, LAB),
        moc=(ABIM,),
    )
    return dataclasses.replace(rich, **overrides)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


# --- complete activities --------------------------------------------------------------------


@pytest.mark.parametrize("factory", [make_facts, make_rich_facts])
def test_complete_activity_is_ready_to_close_and_closable(factory):
    report = evaluate(factory(), TODAY)
    assert report.status is Status.READY_TO_CLOSE
    assert report.problems == ()
    assert report.closable
    assert report.missing_to_close == ()
    assert completeness(factory()) == "closable"


def test_complete_activity_is_active_until_its_end_date_has_passed():
    on_last_day = evaluate(make_facts(), date(2025, 6, 30))
    assert on_last_day.status is Status.ACTIVE
    assert not on_last_day.closable
    assert on_last_day.missing_to_close == (
        Problem("end_date", "The activity can be closed after it ends on 06/30/2025."),
    )
    assert evaluate(make_facts(), date(2025, 7, 1)).status is Status.READY_TO_CLOSE


def test_closed_activity_is_closed_and_not_closable_again():
    report = evaluate(make_facts(closed=True), TODAY)
    assert report.status is Status.CLOSED
    assert not report.closable


def test_status_labels():
    assert [STATUS_LABELS[s] for s in Status] == ["Draft", "Active", "Ready to Close", "Closed"]
    assert [str(s) for s in Status] == ["draft", "active", "ready_to_close", "closed"]


# --- Draft level ----------------------------------------------------------------------------

DRAFT_CASES = [
    ({"title": None}, "title", "Enter the activity title."),
    ({"title": "   "}, "title", "Enter the activity title."),
    ({"format": None, "delivery": None}, "format", "Choose the activity format."),
    (
        {"format": "Webinar", "delivery": None},
        "format",
        "Choose a valid activity format (C, RSS, EM, JN, MR, TIW, CML, PI, ISL, LFT).",
    ),
    ({"start_date": None}, "start_date", "Enter the start date."),
    ({"end_date": None}, "end_date", "Enter the end date."),
    (
        {"end_date": date(2025, 5, 31)},
        "end_date",
        "The end date must be on or after the start date (06/01/2025).",
    ),
    (
        {"start_date": date(2025, 1, 1), "end_date": date(2026, 1, 1)},
        "end_date",
        "A course runs at most 12 months: end by 12/31/2025, "
        "and enter each further 12 months as a new activity.",
    ),
    (
        {"format": "RSS", "start_date": date(2024, 9, 1), "end_date": date(2025, 9, 1)},
        "end_date",
        "A regularly scheduled series runs at most 12 months: end by 08/31/2025, "
        "and enter each further 12 months as a new activity.",
    ),
    (
        {
            "format": "EM",
            "delivery": "internet",
            "start_date": date(2024, 2, 29),
            "end_date": date(2027, 2, 28),
        },
        "end_date",
        "An enduring material runs at most 3 years: end by 02/27/2027.",
    ),
    (
        {"delivery": "print"},
        "delivery",
        'Choose a delivery method for a course: "In person", "Live-streamed" or "Hybrid".',
    ),
    (
        {"format": "PI", "delivery": "internet"},
        "delivery",
        "Performance Improvement has no delivery method: leave it blank.",
    ),
    (
        {"country": "US"},
        "country",
        "Enter the country as a 3-letter ISO code (for example USA or CAN).",
    ),
    (
        {"state": "Ill."},
        "state",
        "Enter the state as a 2-letter USPS code (for example IL), or leave it blank.",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), DRAFT_CASES)
def test_draft_problem_messages(overrides, field, message):
    facts = make_facts(**overrides)
    assert only(draft_problems(facts)) == Problem(field, message)
    assert completeness(facts) == "draft"
    assert evaluate(facts, TODAY).status is Status.DRAFT


def test_span_limit_is_inclusive():
    facts = make_facts(start_date=date(2025, 1, 1), end_date=date(2025, 12, 31))
    assert draft_problems(facts) == []
    em = make_facts(format="EM", delivery="internet", end_date=date(2028, 5, 31))
    assert draft_problems(em) == []


def test_a_blank_draft_lists_every_draft_field():
    fields = [p.field for p in draft_problems(ActivityFacts())]
    assert fields == ["title", "format", "start_date", "end_date"]


# --- Active level ---------------------------------------------------------------------------

ACTIVE_CASES = [
    (
        {"delivery": None},
        "delivery",
        'Choose the delivery method: "In person", "Live-streamed" or "Hybrid".',
    ),
    (
        {"format": "EM", "delivery": None},
        "delivery",
        'Choose the delivery method: "Internet" or "Print or other media".',
    ),
    ({"venue": None}, "venue", "Enter the venue where learners meet."),
    ({"delivery": "hybrid", "venue": " "}, "venue", "Enter the venue where learners meet."),
    (
        {"format": "RSS", "delivery": None, "venue": None},
        "venue",
        "Enter the venue where learners meet.",
    ),
    ({"city": None}, "city", "Enter the city where the activity takes place."),
    (
        {"country": None},
        "country",
        "Enter the country as a 3-letter ISO code (for example USA).",
    ),
    ({"state": None}, "state", "Enter the state (the activity takes place in the USA)."),
    ({"credits": None}, "credits", f"Enter the {CREDITS} (more than 0)."),
    ({"credits": Decimal("0")}, "credits", f"Enter the {CREDITS} (more than 0)."),
    (
        {"format": "RSS", "credits": Decimal("0.00")},
        "credits",
        f"Enter the {CREDITS} for the whole series (more than 0).",
    ),
    ({"description": ""}, "description", "Enter a description of the content."),
    ({"providership": None}, "providership", "Choose the providership: Direct or Joint."),
    ({"providership": "both"}, "providership", "Choose the providership: Direct or Joint."),
    (
        {"passport_listed": None},
        "passport_listed",
        "Answer whether the activity is listed in CME Passport (Yes or No).",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), ACTIVE_CASES)
def test_active_problem_messages(overrides, field, message):
    facts = make_facts(**overrides)
    assert draft_problems(facts) == []
    assert only(active_problems(facts)) == Problem(field, message)
    assert completeness(facts) == "draft"
    assert evaluate(facts, TODAY).status is Status.DRAFT


@pytest.mark.parametrize(
    "overrides",
    [
        {"delivery": "live_stream", "venue": None, "city": None, "country": None, "state": None},
        {"format": "RSS", "delivery": "live_stream", "venue": None, "city": None},
        {"country": "CAN", "state": None},
        {"format": "EM", "delivery": "print", "venue": None, "city": None, "country": None},
        {"format": "JN", "delivery": None, "venue": None, "city": None, "country": None},
        {"format": "RSS", "delivery": None},
    ],
)
def test_location_and_delivery_not_required(overrides):
    assert active_problems(make_facts(**overrides)) == []


def test_passport_listing_needs_fee_registration_and_address():
    facts = make_facts(passport_listed=True)
    assert active_problems(facts) == [
        Problem(
            "passport_fee",
            "Answer whether learners pay a fee (Yes or No) for the CME Passport listing.",
        ),
        Problem(
            "passport_registration",
            "Choose the CME Passport registration: Open to all or Limited.",
        ),
        Problem(
            "passport_url",
            "Enter the activity's web address for CME Passport, starting with https://.",
        ),
    ]


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://cme.example.org/cardio", True),
        ("http://example.org", True),
        ("HTTPS://Example.org/a?b=c", True),
        ("www.example.org", False),
        ("ftp://example.org/file", False),
        ("https://", False),
        ("https://example.org/a page", False),
        ("javascript:alert(1)", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_passport_url(url, valid):
    facts = make_rich_facts(passport_url=url)
    assert (active_problems(facts) == []) is valid


# --- Close level ----------------------------------------------------------------------------

CLOSE_CASES = [
    (
        {"providership": "joint"},
        "joint_providers",
        "Enter the joint provider's name (the activity is jointly provided).",
    ),
    (
        {"providership": "joint", "joint_providers": ("  ",)},
        "joint_providers",
        "Enter the joint provider's name (the activity is jointly provided).",
    ),
    (
        {"outcome_competence": False},
        "outcomes",
        "Choose at least one outcome measured: learner competence, learner performance, "
        "patient health, community/population health.",
    ),
    (
        {"commercial_support": None},
        "commercial_support",
        "Answer whether the activity received commercial support (Yes or No).",
    ),
    (
        {"commercial_support": True},
        "supporters",
        "Add at least one commercial supporter (commercial support is Yes).",
    ),
    (
        {"supporters": (ACME,)},
        "supporters",
        "Remove the commercial supporters, or answer Yes to commercial support.",
    ),
    (
        {"physician_learners": None},
        "physician_learners",
        "Enter the number of physician learners (0 if none).",
    ),
    (
        {"other_learners": None},
        "other_learners",
        "Enter the number of other learners (0 if none).",
    ),
    (
        {"other_learners": -1},
        "other_learners",
        "Enter the number of other learners (0 if none).",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), CLOSE_CASES)
def test_close_problem_messages(overrides, field, message):
    facts = make_facts(**overrides)
    assert draft_problems(facts) == []
    assert active_problems(facts) == []
    assert only(close_problems(facts)) == Problem(field, message)
    assert completeness(facts) == "active"
    report = evaluate(facts, TODAY)
    assert report.status is Status.READY_TO_CLOSE
    assert not report.closable
    assert report.missing_to_close == (Problem(field, message),)


@pytest.mark.parametrize(
    "outcome",
    [
        "outcome_competence",
        "outcome_performance",
        "outcome_patient_health",
        "outcome_community_health",
    ],
)
def test_any_one_outcome_is_enough(outcome):
    facts = make_facts(**{"outcome_competence": False, outcome: True})
    assert close_problems(facts) == []


def test_zero_learners_are_allowed():
    assert close_problems(make_facts(physician_learners=0, other_learners=0)) == []


SUPPORTER_CASES = [
    (
        SupporterFacts("Acme Pharma", "monetary"),
        "Acme Pharma: enter the amount received (more than $0).",
    ),
    (
        SupporterFacts("Acme Pharma", "monetary", amount_cents=0),
        "Acme Pharma: enter the amount received (more than $0).",
    ),
    (
        SupporterFacts("Acme Pharma", "monetary", 100, in_kind_nature="facilities"),
        "Acme Pharma: monetary support has no in-kind nature; remove it.",
    ),
    (
        SupporterFacts("Lab Supply Co", "in_kind"),
        "Lab Supply Co: choose the nature of the in-kind support.",
    ),
    (
        SupporterFacts("Lab Supply Co", "in_kind", in_kind_nature="gold"),
        "Lab Supply Co: choose the nature of the in-kind support.",
    ),
    (
        SupporterFacts("Lab Supply Co", "in_kind", in_kind_nature="other", in_kind_other=" "),
        "Lab Supply Co: describe the other in-kind support.",
    ),
    (
        SupporterFacts(
            "Lab Supply Co", "in_kind", amount_cents=20_000, in_kind_nature="facilities"
        ),
        "Lab Supply Co: in-kind support is reported without a dollar value.",
    ),
    (
        SupporterFacts("", "monetary", amount_cents=100),
        "Supporter 2: enter the supporter's name.",
    ),
    (
        SupporterFacts("Acme Pharma", "cash", amount_cents=100),
        "Acme Pharma: choose monetary or in-kind support.",
    ),
]


@pytest.mark.parametrize(("supporter", "message"), SUPPORTER_CASES)
def test_supporter_messages(supporter, message):
    facts = make_rich_facts(supporters=(ACME, supporter))
    assert only(close_problems(facts)) == Problem("supporters", message)


def test_valid_supporters_of_each_kind():
    other = SupporterFacts("Sim Lab", "in_kind", in_kind_nature="other", in_kind_other="Mannequins")
    for nature in ("durable_equipment", "facilities", "animal_parts", "human_parts"):
        supporter = SupporterFacts("Co", "in_kind", in_kind_nature=nature)
        assert close_problems(make_rich_facts(supporters=(supporter, other))) == []


def moc(**overrides) -> MocFacts:
    return dataclasses.replace(ABIM, **overrides)


MOC_CASES = [
    (
        moc(board="ABXY"),
        "MOC registration 1: choose a board (ABA, ABIM, ABOS, ABOHNS, ABPath, ABP, ABS, ABTS).",
    ),
    (moc(credit_types=()), "ABIM MOC: choose at least one credit type."),
    (moc(points=None), "ABIM MOC: enter the MOC points (more than 0)."),
    (moc(points=Decimal("0")), "ABIM MOC: enter the MOC points (more than 0)."),
    (
        moc(points=Decimal("6.75")),
        f"ABIM MOC: points cannot exceed the {CREDITS} (6.50).",
    ),
    (moc(board="ABP", points=Decimal("2.5")), "ABP MOC: enter the MOC points as a whole number."),
    (moc(practice_areas=()), "ABIM MOC: choose at least one practice area."),
]


@pytest.mark.parametrize(("registration", "message"), MOC_CASES)
def test_moc_messages(registration, message):
    facts = make_rich_facts(moc=(registration,))
    assert only(close_problems(facts)) == Problem("moc", message)


def test_moc_points_limits_apply_to_their_board_only():
    assert close_problems(make_rich_facts(moc=(moc(points=Decimal("6.50")),))) == []
    assert close_problems(make_rich_facts(moc=(moc(board="ABA", points=Decimal("25")),))) == []
    assert close_problems(make_rich_facts(moc=(moc(board="ABP", points=Decimal("3.00")),))) == []


def test_moc_board_entered_twice():
    facts = make_rich_facts(moc=(ABIM, ABIM))
    assert only(close_problems(facts)) == Problem("moc", "ABIM MOC is entered more than once.")


def test_levels_are_kept_separate_and_report_lists_them_in_order():
    facts = make_facts(title=None, credits=None, outcome_competence=False)
    assert [p.field for p in draft_problems(facts)] == ["title"]
    assert [p.field for p in active_problems(facts)] == ["credits"]
    assert [p.field for p in close_problems(facts)] == ["outcomes"]
    report = evaluate(facts, TODAY)
    assert [p.field for p in report.problems] == ["title", "credits", "outcomes"]


# --- status from level ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "end", "closed", "expected"),
    [
        ("draft", date(2025, 1, 1), False, Status.DRAFT),
        ("draft", None, False, Status.DRAFT),
        ("draft", date(2025, 1, 1), True, Status.CLOSED),
        ("active", TODAY, False, Status.ACTIVE),
        ("active", TODAY - timedelta(days=1), False, Status.READY_TO_CLOSE),
        ("closable", TODAY + timedelta(days=1), False, Status.ACTIVE),
        ("closable", TODAY - timedelta(days=1), False, Status.READY_TO_CLOSE),
        ("closable", TODAY - timedelta(days=1), True, Status.CLOSED),
    ],
)
def test_status_from_level(level, end, closed, expected):
    assert status_from_level(level, end, closed, TODAY) is expected


def test_status_from_level_refuses_unknown_levels():
    with pytest.raises(ValueError, match="Unknown completeness level"):
        status_from_level("ready", TODAY, False, TODAY)


# --- properties -----------------------------------------------------------------------------

BLANK = {
    "title": None,
    "format": None,
    "delivery": None,
    "start_date": None,
    "end_date": None,
    "venue": None,
    "city": None,
    "state": None,
    "country": None,
    "credits": None,
    "description": None,
    "providership": None,
    "joint_providers": (),
    "passport_listed": None,
    "passport_fee": None,
    "passport_registration": None,
    "passport_url": None,
    "commercial_support": None,
    "supporters": (),
    "outcome_competence": False,
    "physician_learners": None,
    "other_learners": None,
    "moc": (),
}
RANK = {level: i for i, level in enumerate(LEVELS)}

bases = st.sampled_from(
    [
        make_facts(),
        make_rich_facts(),
        make_facts(format="RSS", delivery="live_stream", venue=None, city=None),
        make_facts(format="EM", delivery="internet", end_date=date(2027, 5, 31)),
    ]
)
blanked_fields = st.sets(st.sampled_from(sorted(BLANK)))


def blank(facts: ActivityFacts, fields) -> ActivityFacts:
    return dataclasses.replace(facts, **{name: BLANK[name] for name in fields})


@given(bases, blanked_fields, st.booleans(), st.integers(-400, 1200))
def test_evaluate_agrees_with_problems_and_dates(base, fields, closed, days):
    facts = dataclasses.replace(blank(base, fields), closed=closed)
    today = TODAY + timedelta(days=days)
    report = evaluate(facts, today)
    ended = facts.end_date is not None and facts.end_date < today
    assert (report.status is Status.CLOSED) == closed
    assert report.closable == (not closed and not report.problems and ended)
    assert report.status is status_from_level(completeness(facts), facts.end_date, closed, today)
    assert (completeness(facts) == "closable") == (not report.problems)
    if not closed and report.status is not Status.DRAFT:
        assert draft_problems(facts) == active_problems(facts) == []


@given(bases, blanked_fields, st.data())
def test_filling_in_a_field_never_lowers_completeness(base, fields, data):
    if not fields:
        return
    restored = data.draw(st.sampled_from(sorted(fields)))
    before = completeness(blank(base, fields))
    after = completeness(blank(base, fields - {restored}))
    assert RANK[after] >= RANK[before]


@given(bases, blanked_fields)
def test_a_blanked_required_field_is_named(base, fields):
    # Every field a user empties on a complete activity shows up, or is no longer needed.
    facts = blank(base, fields)
    named = {p.field for p in evaluate(facts, TODAY).problems}
    always_required = {"title", "format", "start_date", "end_date", "credits", "description"}
    assert (fields & always_required) <= named

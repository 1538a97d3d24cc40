"""The five-step annual checklist: states, counts, wording and the JSON form."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from pars_app.domain.checklist import (
    ChecklistFacts,
    Step,
    StepState,
    build_checklist,
    checklist_as_dict,
)
from pars_app.domain.deadlines import CENTRAL, default_deadline


def central(*args) -> datetime:
    return datetime(*args, tzinfo=CENTRAL)


def make_checklist_facts(**overrides) -> ChecklistFacts:
    """Year 2025 seen on March 1, 2026, with every step done."""
    base = ChecklistFacts(
        year=2025,
        now=central(2026, 3, 1, 10, 0),
        deadline=default_deadline(2025),
        agreement_accepted_at=central(2026, 1, 10, 9, 0),
        agreement_accepted_by="Jane Doe",
        agreement_version=3,
        activities_by_format={"C": 12, "RSS": 3, "EM": 2},
        ended_in_year=14,
        ended_not_closed=0,
        enduring_in_year=4,
        enduring_missing_counts=0,
        summary_submitted_at=central(2026, 2, 27, 16, 0),
        contacts_reviewed_at=central(2026, 1, 5, 11, 0),
        contacts_reviewed_by="Sam Lee",
        year_locked=True,
    )
    return dataclasses.replace(base, **overrides)


def step(key: str, **overrides) -> Step:
    checklist = build_checklist(make_checklist_facts(**overrides))
    return next(s for s in checklist.steps if s.key == key)


# --- the whole checklist --------------------------------------------------------------------


def test_all_done():
    checklist = build_checklist(make_checklist_facts())
    assert [s.key for s in checklist.steps] == [
        "agreement",
        "activities",
        "enduring",
        "summary",
        "contacts",
    ]
    assert [s.number for s in checklist.steps] == [1, 2, 3, 4, 5]
    assert all(s.state is StepState.DONE for s in checklist.steps)
    assert all(s.left == 0 for s in checklist.steps)
    assert checklist.complete
    assert checklist.done_count == 5
    assert not checklist.late
    assert checklist.days_left == 30
    assert checklist.deadline == default_deadline(2025)
    assert checklist.as_of == central(2026, 3, 1, 10, 0)


def test_late_only_when_deadline_passed_and_not_complete():
    midnight = central(2026, 4, 1, 0, 0)
    open_step = {"summary_submitted_at": None}
    late = build_checklist(make_checklist_facts(now=midnight, **open_step))
    assert late.late
    assert late.days_left == -1
    assert late.done_count == 4
    assert not late.complete
    just_in_time = build_checklist(
        make_checklist_facts(now=central(2026, 3, 31, 23, 59, 30), **open_step)
    )
    assert not just_in_time.late
    assert just_in_time.days_left == 0
    done_after = build_checklist(make_checklist_facts(now=midnight))
    assert not done_after.late


def test_before_the_cycle_opens():
    checklist = build_checklist(
        make_checklist_facts(
            now=central(2025, 12, 31, 23, 59, 59),
            agreement_accepted_at=None,
            summary_submitted_at=None,
            contacts_reviewed_at=central(2025, 6, 3, 9, 0),
        )
    )
    states = {s.key: s.state for s in checklist.steps}
    assert states == {
        "agreement": StepState.NOT_OPEN,
        "activities": StepState.DONE,
        "enduring": StepState.DONE,
        "summary": StepState.NOT_OPEN,
        "contacts": StepState.NOT_OPEN,
    }
    not_open = [s for s in checklist.steps if s.state is StepState.NOT_OPEN]
    assert {s.summary for s in not_open} == {"Opens January 1, 2026"}
    assert all(s.link is None for s in not_open)
    assert checklist.done_count == 2
    assert not checklist.late


def test_steps_open_at_midnight_central_on_january_1():
    opened = central(2026, 1, 1, 0, 0)
    assert step("summary", now=opened, summary_submitted_at=None).state is StepState.TODO
    assert step("agreement", now=opened, agreement_accepted_at=None).state is StepState.TODO


# --- 1. agreement ---------------------------------------------------------------------------


def test_agreement_done_names_who_when_and_version():
    s = step("agreement")
    assert s.summary == "Accepted on January 10, 2026 by Jane Doe (version 3)"
    assert s.done_at == central(2026, 1, 10, 9, 0)
    assert s.link == "agreement"


def test_agreement_date_is_the_central_date():
    # Stored as UTC: 03:00 UTC on January 10 is the evening of January 9 in Chicago.
    s = step("agreement", agreement_accepted_at=datetime(2026, 1, 10, 3, 0, tzinfo=UTC))
    assert s.summary.startswith("Accepted on January 9, 2026")


def test_agreement_to_do():
    s = step("agreement", agreement_accepted_at=None)
    assert (s.state, s.left, s.link) == (StepState.TODO, 1, "agreement")
    assert s.summary == "Accept the Provider Agreement for 2025"


def test_agreement_not_published_yet():
    s = step("agreement", agreement_accepted_at=None, agreement_published=False)
    assert (s.state, s.left, s.link) == (StepState.TODO, 1, None)
    assert s.summary == "Waiting for the 2025 agreement to be published by your accreditor"


# --- 2. activities --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("not_closed", "summary"),
    [
        (1, "1 activity ended in 2025 and is not closed"),
        (14, "14 activities ended in 2025 and are not closed"),
        (1040, "1,040 activities ended in 2025 and are not closed"),
    ],
)
def test_activities_not_closed(not_closed, summary):
    s = step("activities", ended_not_closed=not_closed)
    assert (s.state, s.left, s.link) == (StepState.TODO, not_closed, "activities_ended_not_closed")
    assert s.summary == summary


@pytest.mark.parametrize(
    ("ended", "summary"),
    [
        (212, "All 212 activities that ended in 2025 are closed"),
        (1, "The 1 activity that ended in 2025 is closed"),
        (0, "17 activities entered; none ended in 2025"),
    ],
)
def test_activities_done(ended, summary):
    s = step("activities", ended_in_year=ended)
    assert (s.state, s.left, s.link) == (StepState.DONE, 0, "activities_started")
    assert s.summary == summary


def test_a_year_with_no_activities_is_flagged():
    s = step("activities", activities_by_format={}, ended_in_year=0)
    assert (s.state, s.left, s.link) == (StepState.TODO, 0, "activities_started")
    assert s.summary == "No activities entered for 2025"
    assert s.details == ()


def test_no_activities_entered_but_some_ended_unclosed():
    # An RSS that started in 2024 and ended in 2025 belongs to 2025's closing work.
    s = step("activities", activities_by_format={"C": 0}, ended_not_closed=2)
    assert s.state is StepState.TODO
    assert (
        s.summary == "2 activities ended in 2025 and are not closed; no activities entered for 2025"
    )


def test_activity_details_by_format_in_pars_order():
    s = step("activities", activities_by_format={"EM": 2, "JN": 0, "C": 1200, "RSS": 3, "ZZ": 1})
    assert s.details == (
        "Course: 1,200",
        "Regularly Scheduled Series: 3",
        "Enduring Material: 2",
        "ZZ: 1",
    )


def test_activities_step_can_be_done_before_the_year_is_over():
    s = step("activities", now=central(2025, 7, 1, 9, 0), ended_in_year=5)
    assert s.state is StepState.DONE


# --- 3. enduring counts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "summary"),
    [
        (1, "1 enduring material needs a learner count as of December 31, 2025"),
        (3, "3 enduring materials need a learner count as of December 31, 2025"),
    ],
)
def test_enduring_counts_missing(missing, summary):
    s = step("enduring", enduring_missing_counts=missing)
    assert (s.state, s.left, s.link) == (StepState.TODO, missing, "enduring_missing")
    assert s.summary == summary


@pytest.mark.parametrize(
    ("available", "summary"),
    [
        (0, "No enduring materials were available in 2025"),
        (1, "The 1 enduring material available in 2025 has its learner count"),
        (4, "All 4 enduring materials available in 2025 have their learner counts"),
    ],
)
def test_enduring_counts_done(available, summary):
    s = step("enduring", enduring_in_year=available)
    assert (s.state, s.left) == (StepState.DONE, 0)
    assert s.summary == summary


# --- 4. program summary ---------------------------------------------------------------------


def test_summary_submitted():
    s = step("summary")
    assert s.state is StepState.DONE
    assert s.summary == "Submitted on February 27, 2026; the year is locked"
    assert s.done_at == central(2026, 2, 27, 16, 0)
    assert step("summary", year_locked=False).summary == "Submitted on February 27, 2026"


def test_summary_to_do():
    s = step("summary", summary_submitted_at=None, year_locked=False)
    assert (s.state, s.left, s.link) == (StepState.TODO, 1, "summary")
    assert s.summary == "Submit the 2025 Program Summary"


# --- 5. contacts ----------------------------------------------------------------------------


def test_contacts_reviewed_this_cycle():
    s = step("contacts")
    assert s.state is StepState.DONE
    assert s.summary == "Reviewed on January 5, 2026 by Sam Lee"
    assert s.done_at == central(2026, 1, 5, 11, 0)


def test_contacts_review_counts_from_midnight_january_1_central():
    assert step("contacts", contacts_reviewed_at=central(2026, 1, 1, 0, 0)).state is StepState.DONE
    before = step("contacts", contacts_reviewed_at=central(2025, 12, 31, 23, 59))
    assert before.state is StepState.TODO
    assert before.summary == "Last reviewed on December 31, 2025: confirm or update them for 2025"


def test_contacts_never_reviewed():
    s = step("contacts", contacts_reviewed_at=None)
    assert (s.state, s.left, s.link) == (StepState.TODO, 1, "contacts")
    assert s.summary == "Review the contacts: confirm them or update them"


# --- JSON -----------------------------------------------------------------------------------


def test_checklist_as_dict_is_json_ready():
    facts = make_checklist_facts(summary_submitted_at=None)
    data = checklist_as_dict(build_checklist(facts))
    round_tripped = json.loads(json.dumps(data))
    assert round_tripped == data
    assert data["year"] == 2025
    assert data["deadline"] == "2026-03-31T23:59:00-05:00"
    assert data["deadline_text"] == "Tuesday, March 31, 2026, 11:59 p.m. Central"
    assert data["late"] is False
    assert data["days_left"] == 30
    assert data["done_count"] == 4
    assert [s["state"] for s in data["steps"]] == ["done", "done", "done", "todo", "done"]
    agreement = data["steps"][0]
    assert datetime.fromisoformat(agreement["done_at"]) == central(2026, 1, 10, 9, 0)
    assert data["steps"][3]["done_at"] is None
    assert data["steps"][1]["details"] == [
        "Course: 12",
        "Regularly Scheduled Series: 3",
        "Enduring Material: 2",
    ]
    assert datetime.fromisoformat(data["as_of"]) - facts.now == timedelta(0)

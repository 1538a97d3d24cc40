"""Code lists: countries, states, in-kind natures, outcomes, MOC boards."""

import dataclasses
import re

from pars_app.domain.codes import (
    COUNTRIES,
    IN_KIND_NATURES,
    MOC_BOARDS,
    OUTCOMES,
    PASSPORT_REGISTRATION,
    PROVIDERSHIP,
    US_STATES,
    country_choices,
)
from pars_app.domain.status import ActivityFacts


def test_countries_are_the_full_iso_alpha3_list():
    assert len(COUNTRIES) == 249
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in COUNTRIES)
    assert COUNTRIES["USA"] == "United States"
    assert COUNTRIES["CAN"] == "Canada"
    assert COUNTRIES["GBR"] == "United Kingdom"
    assert COUNTRIES["MEX"] == "Mexico"
    # Alpha-2 codes and withdrawn codes are not countries here.
    assert "US" not in COUNTRIES
    assert "ANT" not in COUNTRIES  # Netherlands Antilles, withdrawn in 2010


def test_states_cover_states_dc_and_territories():
    assert len(US_STATES) == 56
    assert {"DC", "PR", "GU", "VI", "AS", "MP"} <= set(US_STATES)
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in US_STATES)
    assert US_STATES["IL"] == "Illinois"
    assert "FM" not in US_STATES  # Micronesia is a country, not a PARS state


def test_in_kind_natures_match_the_spec():
    assert IN_KIND_NATURES == {
        "durable_equipment": "Durable equipment",
        "facilities": "Facilities/space",
        "disposable_supplies": "Disposable supplies (non-biological)",
        "animal_parts": "Animal parts or tissue",
        "human_parts": "Human parts or tissue",
        "other": "Other",
    }


def test_outcome_keys_are_activity_attributes():
    attributes = {f.name for f in dataclasses.fields(ActivityFacts)}
    assert set(OUTCOMES) <= attributes
    assert list(OUTCOMES.values()) == [
        "Learner competence",
        "Learner performance",
        "Patient health",
        "Community/population health",
    ]


def test_moc_boards():
    assert list(MOC_BOARDS) == ["ABA", "ABIM", "ABOS", "ABOHNS", "ABPath", "ABP", "ABS", "ABTS"]
    assert MOC_BOARDS["ABIM"] == "American Board of Internal Medicine"
    assert MOC_BOARDS["ABP"] == "American Board of Pediatrics"


def test_choice_lists():
    assert PROVIDERSHIP == {"direct": "Direct", "joint": "Joint"}
    assert PASSPORT_REGISTRATION == {"open": "Open to all", "limited": "Limited"}


def test_country_choices_put_usa_first_then_sort_by_name():
    choices = country_choices()
    assert choices[0] == ("USA", "United States")
    names = [name for _, name in choices[1:]]
    assert names == sorted(names)
    assert len(choices) == len(COUNTRIES)

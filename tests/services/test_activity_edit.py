"""services.activity_edit (save, delete, refusals, IDs) and services.activity_input (reading)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from pars_app.domain.status import MocFacts, SupporterFacts
from pars_app.extensions import db
from pars_app.models import Activity, AuditEvent, MocRegistration, YearLock
from pars_app.services import activity_edit as svc
from pars_app.services import activity_input as inp
from pars_app.services import data_version
from tests.factories import make_activity, make_provider, make_user

NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(ctx):
    p = make_provider("SVC")
    user = make_user("svc@example.org", p)
    db.session.commit()
    return p, user


def _course(**changes) -> inp.ActivityInput:
    values = dict(
        title="Cardiology Update",
        format="C",
        delivery="in_person",
        start_date=date(2025, 5, 1),
        end_date=date(2025, 5, 2),
        venue="Hall A",
        city="Chicago",
        state="IL",
        country="USA",
        credits=Decimal("6.50"),
        description="Guidelines.",
        providership="direct",
        passport_listed=False,
        commercial_support=True,
        supporters=(SupporterFacts("Northwind", "monetary", 250000),),
        outcome_competence=True,
        physician_learners=40,
        other_learners=3,
        moc=(MocFacts("ABIM", ("MK",), Decimal("6"), ("Cardiology",)),),
    )
    values.update(changes)
    return inp.ActivityInput(**values)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- Saving ----------------------------------------------------------------------------------


def test_create_writes_fields_children_derived_status_and_an_audit_event(world):
    p, user = world
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    db.session.expire_all()
    a = db.session.get(Activity, a.id)
    assert a.provider_activity_id == "2025-0001"
    assert (a.completeness, a.problem_count) == ("closable", 0)
    assert [s.amount_cents for s in a.supporters] == [250000]
    assert [(m.board, m.credit_types, m.points) for m in a.moc_registrations] == [
        ("ABIM", "MK", Decimal("6.00"))
    ]
    assert (a.created_by_id, a.updated_by_id, a.created_at) == (user.id, user.id, NOW)
    [event] = _events("activity.created")
    assert event.at == NOW and event.via == "web"
    changes = json.loads(event.details)["changes"]
    assert changes["credits"] == [None, "6.50"]
    assert changes["supporters"][1][0]["name"] == "Northwind"


def test_a_draft_is_saved_incomplete_but_draft_rules_block(world):
    p, user = world
    draft = svc.save_activity(p, None, _course(credits=None, venue=None), user, None, NOW)
    assert draft.completeness == "draft" and draft.problem_count == 2
    with pytest.raises(svc.ActivityInvalid) as err:
        svc.save_activity(p, None, _course(title=None, end_date=date(2025, 4, 1)), user, None, NOW)
    assert set(err.value.errors) == {"title", "end_date"}


def test_update_records_before_and_after_of_changed_fields_only(world):
    p, user = world
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    later = datetime(2026, 2, 16, tzinfo=UTC)
    svc.save_activity(
        p, a, _course(title="Renamed", provider_activity_id=a.provider_activity_id), user, 1, later
    )
    [event] = _events("activity.updated")
    assert json.loads(event.details)["changes"] == {"title": ["Cardiology Update", "Renamed"]}
    assert (a.version, a.updated_at) == (2, later)


def test_saving_unchanged_values_writes_nothing(world):
    p, user = world
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    same = _course(provider_activity_id=a.provider_activity_id)
    svc.save_activity(p, a, same, user, 1, NOW)
    assert a.version == 1 and _events("activity.updated") == []


def test_a_change_to_children_alone_bumps_the_version(world):
    """Otherwise a stale copy could overwrite a supporter change without a conflict."""
    p, user = world
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    pid = a.provider_activity_id
    more = _course(
        provider_activity_id=pid, supporters=(SupporterFacts("Northwind", "monetary", 1),)
    )
    svc.save_activity(p, a, more, user, 1, NOW)
    assert a.version == 2
    with pytest.raises(svc.ActivityConflict):
        svc.save_activity(p, a, _course(provider_activity_id=pid), user, 1, NOW)


def test_moc_boards_can_be_swapped_and_replaced_in_one_save(world):
    p, user = world
    two = (MocFacts("ABIM", ("MK",), Decimal(2)), MocFacts("ABP", ("LL",), Decimal(1)))
    a = svc.save_activity(p, None, _course(moc=two), user, None, NOW)
    swapped = (MocFacts("ABS", ("CME",), Decimal(1)), MocFacts("ABIM", ("PS",), Decimal(3)))
    svc.save_activity(
        p, a, _course(provider_activity_id=a.provider_activity_id, moc=swapped), user, 1, NOW
    )
    rows = db.session.scalars(select(MocRegistration).order_by(MocRegistration.board)).all()
    assert [(m.board, m.credit_types, m.points) for m in rows] == [
        ("ABIM", "PS", Decimal("3.00")),
        ("ABS", "CME", Decimal("1.00")),
    ]


def test_duplicate_or_unnamed_moc_boards_are_refused(world):
    p, user = world
    twice = (MocFacts("ABIM"), MocFacts("ABIM"))
    with pytest.raises(svc.ActivityInvalid) as err:
        svc.save_activity(p, None, _course(moc=twice), user, None, NOW)
    assert "once" in err.value.errors["moc"][0]


# --- Optimistic locking --------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_and_nothing_is_written(world):
    p, user = world
    a = make_activity(p, title="Original")
    db.session.commit()
    with pytest.raises(svc.ActivityConflict) as err:
        svc.save_activity(p, a, _course(provider_activity_id=a.provider_activity_id), user, 0, NOW)
    assert err.value.current.id == a.id
    db.session.expire_all()
    assert db.session.get(Activity, a.id).title == "Original"


def test_a_save_committed_between_check_and_write_is_a_conflict(world):
    p, user = world
    a = make_activity(p, title="Original")
    db.session.commit()
    assert a.version == 1
    # Another session saves the row after we loaded it: our copy still says version 1.
    with Session(db.engine) as other:
        other.execute(update(Activity).where(Activity.id == a.id).values(title="Theirs", version=2))
        data_version.touch(p.id, other)  # as the service saving it would
        other.commit()
    with pytest.raises(svc.ActivityConflict) as err:
        svc.save_activity(p, a, _course(provider_activity_id=a.provider_activity_id), user, 1, NOW)
    assert (err.value.current.title, err.value.current.version) == ("Theirs", 2)


# --- Provider Activity IDs -----------------------------------------------------------------


def test_next_generated_id_skips_every_taken_number(world):
    p, _ = world
    for pid in ("2025-0007", "2025-12", "2025-ABC", "X2025-0100", "2024-0099"):
        make_activity(p, provider_activity_id=pid)
    other = make_provider("OTHER")
    make_activity(other, provider_activity_id="2025-0500")
    assert svc.next_provider_activity_id(p.id, 2025) == "2025-0013"
    assert svc.next_provider_activity_id(p.id, 2026) == "2026-0001"
    make_activity(p, provider_activity_id="2026-9999")
    assert svc.next_provider_activity_id(p.id, 2026) == "2026-10000"


def test_a_given_id_taken_by_a_concurrent_save_is_a_field_error(world, monkeypatch):
    p, user = world
    make_activity(p, provider_activity_id="CARD-1")
    db.session.commit()
    # The check passed before the other save committed: the unique constraint still holds.
    monkeypatch.setattr(svc, "_id_taken", lambda *args: False)
    with pytest.raises(svc.ActivityInvalid) as err:
        svc.save_activity(p, None, _course(provider_activity_id="CARD-1"), user, None, NOW)
    assert "already has the ID “CARD-1”" in err.value.errors["provider_activity_id"][0]


def test_a_generated_id_taken_meanwhile_is_retried(world, monkeypatch):
    p, user = world
    make_activity(p, provider_activity_id="2025-0001")
    db.session.commit()
    answers = iter(["2025-0001", "2025-0002"])
    monkeypatch.setattr(svc, "next_provider_activity_id", lambda *args: next(answers))
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    assert a.provider_activity_id == "2025-0002"


def test_an_edit_keeps_its_id_unless_another_is_given(world):
    p, user = world
    a = svc.save_activity(p, None, _course(), user, None, NOW)
    with pytest.raises(svc.ActivityInvalid) as err:
        svc.save_activity(p, a, _course(provider_activity_id=None), user, 1, NOW)
    assert err.value.errors["provider_activity_id"] == ["Enter the Provider Activity ID."]


def test_the_accme_id_is_kept_once_set(world):
    p, user = world
    a = svc.save_activity(p, None, _course(accme_activity_id=42), user, None, NOW)
    pid = a.provider_activity_id
    svc.save_activity(p, a, _course(provider_activity_id=pid, title="T2"), user, 1, NOW)
    assert a.accme_activity_id == 42  # blank (no input shown) keeps it
    with pytest.raises(svc.ActivityInvalid):
        svc.save_activity(
            p, a, _course(provider_activity_id=pid, accme_activity_id=43), user, 2, NOW
        )


# --- Refusals and deleting -----------------------------------------------------------------


def test_closed_and_locked_activities_are_refused(world):
    p, user = world
    closed = make_activity(p, closed_at=NOW)
    open_2025 = make_activity(p)
    db.session.add(YearLock(provider_id=p.id, year=2024))
    db.session.commit()
    assert "reopen it first" in svc.edit_refusal(closed)
    with pytest.raises(svc.ActivityRefused):
        svc.save_activity(p, closed, _course(provider_activity_id="X"), user, 1, NOW)
    assert svc.edit_refusal(open_2025) is None
    db.session.add(YearLock(provider_id=p.id, year=2025))
    db.session.commit()
    assert svc.edit_refusal(open_2025).startswith("The 2025 report is submitted and locked")
    moved = _course(end_date=date(2024, 12, 31), start_date=date(2024, 12, 1))
    with pytest.raises(svc.ActivityInvalid) as err:
        svc.save_activity(p, None, moved, user, None, NOW)
    assert "2024 report is submitted and locked" in err.value.errors["end_date"][0]


def test_an_unlocked_year_is_editable_again(world):
    p, _ = world
    a = make_activity(p)
    db.session.add(YearLock(provider_id=p.id, year=2025, unlocked_at=NOW))
    db.session.commit()
    assert svc.edit_refusal(a) is None


def test_only_drafts_never_closed_are_deleted(world):
    p, user = world
    draft = make_activity(p, complete=False, title="Cancelled")
    active = make_activity(p, end_date=date(2026, 3, 31), start_date=date(2026, 3, 1))
    reopened = make_activity(p, complete=False)
    db.session.flush()
    db.session.add(
        AuditEvent(action=svc.CLOSED_ACTION, entity_type="Activity", entity_id=reopened.id)
    )
    db.session.commit()
    assert svc.delete_refusal(active) == "Only Drafts can be deleted; this activity is Active."
    assert "closed before" in svc.delete_refusal(reopened)
    svc.delete_activity(p, draft, user, NOW)
    assert db.session.get(Activity, draft.id) is None
    [event] = _events("activity.deleted")
    assert json.loads(event.details)["deleted"]["title"] == "Cancelled"
    with pytest.raises(svc.ActivityRefused):
        svc.delete_activity(p, active, user, NOW)
    assert db.session.get(Activity, active.id) is not None


# --- Reading the form ----------------------------------------------------------------------


def _read(**fields) -> tuple[inp.ActivityInput, inp.Errors]:
    return inp.read_form(inp.form_from_post(MultiDict(fields)))


def test_reading_drops_groups_that_do_not_apply():
    data, errors = _read(
        format="C",
        delivery="live_stream",
        venue="Hall A",
        country="NOPE",
        passport_listed="no",
        passport_url="https://x.org",
        providership="direct",
        joint_providers="Someone",
        commercial_support="no",
        supporter_count="1",
        **{"supporter-0-amount": "abc"},
    )
    assert errors == {}
    assert (data.venue, data.country, data.passport_url) == (None, None, None)
    assert (data.joint_providers, data.supporters) == ((), ())


def test_reading_collects_a_message_per_field():
    data, errors = _read(
        format="EM",
        delivery="internet",
        start_date="31/12/2025",
        credits="1,5",
        physician_learners="1.5",
        accme_activity_id="12a",
        commercial_support="yes",
        supporter_count="2",
        **{"supporter-0-name": "A", "supporter-0-kind": "monetary", "supporter-0-nature": "other"},
        **{"supporter-1-name": "B", "supporter-1-kind": "gift"},
        moc_count="1",
        **{"moc-0-points": "x"},
    )
    assert set(errors) == {
        "start_date",
        "credits",
        "physician_learners",
        "accme_activity_id",
        "supporter-0-nature",
        "supporter-1-kind",
        "moc-0-board",
        "moc-0-points",
    }
    assert errors["moc-0-points"] == ["Enter the MOC points as a number such as 1.5."]
    assert data.delivery == "internet"


def test_blank_rows_are_ignored_and_row_counts_are_capped():
    data, errors = _read(
        commercial_support="yes",
        supporter_count="99999",
        **{"supporter-0-name": " ", "supporter-1-name": "Real", "supporter-1-kind": "in_kind"},
        **{"supporter-1-nature": "facilities"},
    )
    assert errors == {}
    assert data.supporters == (SupporterFacts("Real", "in_kind", None, "facilities", None),)
    form = inp.form_from_post(MultiDict({"supporter_count": "99999", "moc_count": "12"}))
    assert (len(form.supporters), len(form.moc)) == (inp.MAX_SUPPORTERS, inp.MAX_MOC)


def test_row_actions_add_and_remove_rows():
    form = inp.ActivityForm(supporters=[inp.SupporterRow(name="A"), inp.SupporterRow(name="B")])
    assert [r.name for r in inp.apply_action(form, "remove_supporter:0").supporters] == ["B"]
    assert len(inp.apply_action(form, "add_supporter").supporters) == 3
    assert inp.apply_action(form, "remove_supporter:9") == form
    assert inp.apply_action(form, "remove_supporter:x") == form
    assert len(inp.apply_action(inp.apply_action(form, "add_moc"), "add_moc").moc) == 2


def test_a_stored_activity_reads_back_as_the_same_input(world):
    p, user = world
    original = _course(
        providership="joint",
        joint_providers=("Nurses", "Society"),
        passport_listed=True,
        passport_fee=False,
        passport_registration="limited",
        passport_url="https://x.org/a",
        accme_activity_id=77,
    )
    a = svc.save_activity(p, None, original, user, None, NOW)
    again, errors = inp.read_form(inp.form_of(a))
    assert errors == {}
    assert again == inp.ActivityInput(
        **{**original.__dict__, "provider_activity_id": a.provider_activity_id}
    )

"""The dashboard: the five annual steps of a provider's year, their counts, links and deadline."""

# The en dash of "1–25 of 60" and the non-ASCII digits are what users see and type.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
import time_machine

from pars_app.extensions import db
from tests.factories import (
    accept_agreement,
    login,
    make_activity,
    make_agreement,
    make_contact_review,
    make_enduring,
    make_provider,
    make_snapshot,
    make_summary,
    make_user,
    utc,
)
from tests.web.html import by_class, by_id, parse, result_count, rows, spoken_text, text

# Sunday February 15, 2026, noon in Chicago: the 2025 cycle is open, its deadline is ahead.
FEB_15 = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
# Thursday April 2, 2026: the 2025 deadline (Tuesday March 31, 11:59 p.m. Central) has passed.
APR_2 = datetime(2026, 4, 2, 18, 0, tzinfo=UTC)
# November 2025: the 2025 agreement, summary and contact review are not open yet.
NOV_15 = datetime(2025, 11, 15, 18, 0, tzinfo=UTC)

STEP_KEYS = ("agreement", "activities", "enduring", "summary", "contacts")
STATE_TEXT = {"done": "Done", "todo": "To do", "not_open": "Not open yet"}
DEADLINE_TEXT = "Tue Mar 31, 2026, 11:59 PM CDT"

# What the "busy" provider's data add up to (see _seed_busy).
ENDED_NOT_CLOSED = 4  # a3, a4, a7 and the enduring material e3 that expired in 2025
ENDURING_MISSING = 2  # e2 (no snapshot) and e3 (only a 2024 snapshot)


def _seed_busy(app) -> str:
    """A provider with agreement, summary and contact review done, activities and counts not."""
    with app.app_context():
        p = make_provider("BUSY")
        p.name = "Busy Hospital CME"
        u = make_user("busy@example.org", p)
        closed = utc(2026, 1, 20, 15)
        # Activities that ended in 2025: a1, a2, a5 closed; a3, a4, a7 open.
        make_activity(p, start_date=date(2025, 1, 10), end_date=date(2025, 1, 10), closed_at=closed)
        make_activity(p, start_date=date(2025, 3, 1), end_date=date(2025, 3, 31), closed_at=closed)
        make_activity(p, start_date=date(2025, 5, 1), end_date=date(2025, 5, 31))
        make_activity(p, start_date=date(2025, 9, 1), end_date=date(2025, 9, 30), complete=False)
        make_activity(
            p, start_date=date(2025, 12, 1), end_date=date(2025, 12, 31), closed_at=closed
        )
        # Started in 2025, ends in 2026: counted as entered, not as ended.
        make_activity(p, start_date=date(2025, 11, 1), end_date=date(2026, 1, 31))
        # Started in 2024, ended in 2025 and still open.
        make_activity(p, start_date=date(2024, 12, 1), end_date=date(2025, 1, 15))
        # 2024 only: neither counted nor listed for 2025.
        make_activity(p, start_date=date(2024, 2, 1), end_date=date(2024, 2, 28))
        # Enduring materials available in 2025: e1 counted, e2 and e3 missing their count.
        e1 = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31))
        make_snapshot(e1, 2024)
        make_snapshot(e1, 2025)
        make_enduring(p, date(2025, 2, 1), date(2027, 1, 31))
        e3 = make_enduring(p, date(2023, 1, 1), date(2025, 6, 30))
        make_snapshot(e3, 2024)
        # Expired at the end of 2024: not available in 2025, so nothing to count.
        make_enduring(p, date(2022, 1, 1), date(2024, 12, 31))
        # Another provider's missing counts and open activities never leak into these numbers.
        other = make_provider("OTHER")
        make_activity(other, start_date=date(2025, 5, 1), end_date=date(2025, 5, 31))
        make_enduring(other, date(2025, 1, 1), date(2025, 12, 31))

        text_2025 = make_agreement(p.accreditor, 2025)
        accept_agreement(p, text_2025, u, utc(2026, 1, 10, 15))
        make_summary(p, 2025, submitted_at=utc(2026, 2, 1, 16))
        make_summary(p, 2024, submitted_at=utc(2025, 3, 1, 16))
        make_contact_review(p, utc(2026, 1, 5, 15), u)
        db.session.commit()
    return "busy@example.org"


def _seed_idle(app) -> str:
    """A provider that has done nothing for 2025 yet (an old contact review only)."""
    with app.app_context():
        p = make_provider("IDLE")
        p.name = "Idle Society CME"
        u = make_user("idle@example.org", p)
        make_agreement(p.accreditor, 2025)
        make_summary(p, 2025)  # a draft: not submitted
        make_contact_review(p, utc(2025, 12, 20, 15), u)  # before the 2025 cycle opened
        db.session.commit()
    return "idle@example.org"


def _steps(doc) -> dict[str, dict[str, str]]:
    checklist = by_id(doc, "checklist")
    assert checklist is not None, "no checklist on the dashboard"
    out = {}
    for key in STEP_KEYS:
        step = by_id(checklist, f"step-{key}")
        assert step is not None, f"step {key} missing"
        out[key] = {
            "state": spoken_text(by_class(step, "badge")[0]),
            "summary": text(by_class(step, "step__summary")[0]),
            "details": [
                text(li) for li in step.xpath(".//ul[contains(@class,'step__details')]/li")
            ],
        }
    return out


def _action_href(doc, key: str) -> str | None:
    links = by_id(doc, f"step-{key}").xpath(".//a[contains(@class,'step__action')]")
    return links[0].get("href") if links else None


# --- The five steps ----------------------------------------------------------------------------


def test_dashboard_shows_each_step_state_and_exact_counts(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        resp = client.get("/?year=2025")
    assert resp.status_code == 200
    doc = parse(resp)
    assert text(doc.xpath("//h1")[0]) == "Annual reporting 2025"
    steps = _steps(doc)
    assert [s["state"] for s in steps.values()] == ["Done", "To do", "To do", "Done", "Done"]
    assert steps["agreement"]["summary"] == (
        "Accepted on January 10, 2026 by busy@example.org (version 1)"
    )
    assert steps["activities"]["summary"] == "4 activities ended in 2025 and are not closed"
    # Entered in 2025, by format: a1–a6 are journal-based, e2 is enduring.
    assert steps["activities"]["details"] == ["Enduring Material: 1", "Journal-based CME: 6"]
    assert steps["enduring"]["summary"] == (
        "2 enduring materials need a learner count as of December 31, 2025"
    )
    assert steps["summary"]["summary"] == "Submitted on February 1, 2026"
    assert steps["contacts"]["summary"] == "Reviewed on January 5, 2026 by busy@example.org"
    assert text(by_id(doc, "steps-title")) == "3 of 5 steps done"
    action = by_id(doc, "step-activities").xpath(".//a[contains(@class,'step__action')]")[0]
    assert text(action) == "Close the 4 open activities"


def test_deadline_and_days_left(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
    deadline = by_id(doc, "deadline")
    assert "Deadline for 2025" in text(deadline)
    assert DEADLINE_TEXT in text(by_class(deadline, "deadline__when")[0])
    # February 15 to March 31, 2026: 13 + 31 days.
    assert text(by_class(deadline, "deadline__left")[0]) == "44 days left."
    assert "deadline--late" not in deadline.get("class")


def test_late_cycle_is_marked_plainly(app, client):
    email = _seed_busy(app)
    with time_machine.travel(APR_2, tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
    deadline = by_id(doc, "deadline")
    assert "deadline--late" in deadline.get("class")
    assert text(by_class(deadline, "deadline__left")[0]) == (
        "Late: the deadline passed 2 days ago and 2 steps are not done."
    )


def test_deadline_day_reads_due_today_and_the_last_minute_is_on_time(app, client):
    email = _seed_busy(app)
    # 11:59 p.m. CDT on March 31 is 04:59 UTC on April 1.
    with time_machine.travel(datetime(2026, 4, 1, 4, 59, 30, tzinfo=UTC), tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
    assert text(by_class(by_id(doc, "deadline"), "deadline__left")[0]) == "Due today."
    with time_machine.travel(datetime(2026, 4, 1, 5, 0, 0, tzinfo=UTC), tick=False):
        doc = parse(client.get("/?year=2025"))
    assert text(by_class(by_id(doc, "deadline"), "deadline__left")[0]).startswith("Late:")


def test_idle_provider_has_every_open_step_to_do(app, client):
    email = _seed_idle(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
    steps = _steps(doc)
    assert [s["state"] for s in steps.values()] == ["To do", "To do", "Done", "To do", "To do"]
    assert steps["agreement"]["summary"] == "Accept the Provider Agreement for 2025"
    assert steps["activities"]["summary"] == "No activities entered for 2025"
    assert steps["enduring"]["summary"] == "No enduring materials were available in 2025"
    assert steps["summary"]["summary"] == "Submit the 2025 Program Summary"
    # A review from before the cycle opened does not count for 2025, but is shown.
    assert steps["contacts"]["summary"] == (
        "Last reviewed on December 20, 2025: confirm or update them for 2025"
    )
    assert text(by_id(doc, "steps-title")) == "1 of 5 steps done"
    # Every step link on the page leads somewhere real.
    for key in STEP_KEYS:
        href = _action_href(doc, key)
        if href:
            with time_machine.travel(FEB_15, tick=False):
                assert client.get(href).status_code == 200, (key, href)


def test_a_new_agreement_version_asks_again(app, client):
    email = _seed_busy(app)
    with app.app_context():
        from pars_app.models import Accreditor, Provider

        p = db.session.scalar(db.select(Provider).where(Provider.code == "BUSY"))
        make_agreement(db.session.get(Accreditor, p.accreditor_id), 2025, version=2)
        db.session.commit()
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        steps = _steps(parse(client.get("/?year=2025")))
    assert steps["agreement"]["state"] == "To do"
    assert steps["agreement"]["summary"] == "Accept the Provider Agreement for 2025"


def test_steps_not_open_before_january_first(app, client):
    email = _seed_idle(app)
    with time_machine.travel(NOV_15, tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
    steps = _steps(doc)
    for key in ("agreement", "summary", "contacts"):
        assert steps[key]["state"] == "Not open yet", key
        assert steps[key]["summary"] == "Opens January 1, 2026", key
    # November 15 to March 31: 15 + 31 + 31 + 28 + 31 days.
    assert text(by_class(by_id(doc, "deadline"), "deadline__left")[0]) == "136 days left."


# --- Step links lead to lists of exactly that many rows ----------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"), [("activities", ENDED_NOT_CLOSED), ("enduring", ENDURING_MISSING)]
)
def test_step_link_lists_exactly_the_counted_rows(app, client, step, expected):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        doc = parse(client.get("/?year=2025"))
        summary = _steps(doc)[step]["summary"]
        assert int(re.match(r"(\d+) ", summary).group(1)) == expected
        href = _action_href(doc, step)
        assert href, f"step {step} has no link"
        listing = client.get(href)
    assert listing.status_code == 200
    ldoc = parse(listing)
    # Step 3 leads to the enduring counts page (issue 3), the others to the activities list.
    table = "enduring-table" if step == "enduring" else "activities-table"
    assert len(rows(ldoc, table)) == expected
    assert result_count(ldoc) == f"1–{expected} of {expected}"


def test_enduring_link_lists_the_right_materials(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        href = _action_href(parse(client.get("/?year=2025")), "enduring")
        ldoc = parse(client.get(href))
    # e2 (2025-02-01 to 2027-01-31) and e3 (2023-01-01 to 2025-06-30), both enduring: the
    # enduring counts page lists only enduring materials, with their dates in column 3.
    assert href.startswith("/enduring/2025?") and "missing=1" in href
    periods = sorted(text(tr.xpath("./td")[2]) for tr in rows(ldoc, "enduring-table"))
    assert periods == ["01/01/2023 – 06/30/2025", "02/01/2025 – 01/31/2027"]


# --- Year choice -------------------------------------------------------------------------------


def test_bad_year_shows_a_warning_and_the_default_year(app, client):
    email = _seed_busy(app)
    # "²" and other non-ASCII digits pass str.isdigit() but not int(): they once gave a 500.
    bad_years = ["abc", "20x5", "1899", "99999", "-2025", "2025.0", "²", "٢٠٢٥", "２０２５"]
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        for bad in bad_years:
            resp = client.get("/?" + urlencode({"year": bad}))
            assert resp.status_code == 200, bad
            doc = parse(resp)
            warnings = by_class(doc, "flash--warning")
            assert warnings, f"no warning shown for {bad!r}"
            assert f"“{bad}” is not a reporting year" in text(warnings[0])
            # Until the 2025 deadline passes, the year being closed out is 2025.
            assert text(doc.xpath("//h1")[0]) == "Annual reporting 2025", bad
    # A good year shows no warning.
    with time_machine.travel(FEB_15, tick=False):
        doc = parse(client.get("/?year=2024"))
    assert not by_class(doc, "flash--warning")
    assert text(doc.xpath("//h1")[0]) == "Annual reporting 2024"


def test_default_year_switches_after_the_deadline(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        assert text(parse(client.get("/")).xpath("//h1")[0]) == "Annual reporting 2025"
    with time_machine.travel(APR_2, tick=False):
        login(client, email)  # the February session has long expired
        assert text(parse(client.get("/")).xpath("//h1")[0]) == "Annual reporting 2026"


# --- Printable checklist -----------------------------------------------------------------------


def test_print_page_has_name_deadline_time_and_steps_without_nav(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        resp = client.get("/checklist/2025/print")
    assert resp.status_code == 200
    doc = parse(resp)
    body = text(doc.xpath("//main")[0])
    assert "Busy Hospital CME (BUSY) — PARS annual reporting 2025" in body
    assert f"Deadline: {DEADLINE_TEXT} — 44 days left" in body
    # Noon in Chicago on Sunday February 15, 2026 (CST).
    assert "Printed Sun Feb 15, 2026, 12:00 PM CST" in body
    table_rows = doc.xpath("//table[contains(@class,'print-steps')]/tbody/tr")
    assert [text(tr.xpath("./td")[1]) for tr in table_rows] == [
        "Provider Agreement",
        "Activities",
        "Enduring material learner counts",
        "Program Summary",
        "Contact information",
    ]
    assert [text(tr.xpath("./td")[2]) for tr in table_rows] == [
        "Done",
        "To do",
        "To do",
        "Done",
        "Done",
    ]
    assert "4 activities ended in 2025 and are not closed" in text(table_rows[1])
    assert not doc.xpath("//nav"), "the printed page carries the site navigation"
    assert not by_class(doc, "user-menu")


def test_print_page_for_a_year_out_of_range_is_404(app, client):
    email = _seed_busy(app)
    login(client, email)
    assert client.get("/checklist/1999/print").status_code == 404


# --- The CLI agrees with the page --------------------------------------------------------------


def test_cli_json_matches_the_page(app, client):
    email = _seed_busy(app)
    with time_machine.travel(FEB_15, tick=False):
        login(client, email)
        steps = _steps(parse(client.get("/?year=2025")))
        result = app.test_cli_runner().invoke(
            args=["pars", "checklist", "--provider", "BUSY", "--year", "2025", "--json"]
        )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["provider"] == "BUSY"
    assert data["year"] == 2025
    assert data["days_left"] == 44
    assert data["late"] is False
    cli_steps = {s["key"]: s for s in data["steps"]}
    assert list(cli_steps) == list(STEP_KEYS)
    for key in STEP_KEYS:
        assert STATE_TEXT[cli_steps[key]["state"]] == steps[key]["state"], key
        assert cli_steps[key]["summary"] == steps[key]["summary"], key
    assert {k: s["left"] for k, s in cli_steps.items()} == {
        "agreement": 0,
        "activities": ENDED_NOT_CLOSED,
        "enduring": ENDURING_MISSING,
        "summary": 0,
        "contacts": 0,
    }
    assert data["deadline"] == "2026-03-31T23:59:00-05:00"


def test_cli_refuses_an_unknown_provider(app):
    result = app.test_cli_runner().invoke(
        args=["pars", "checklist", "--provider", "NOPE", "--year", "2025", "--json"]
    )
    assert result.exit_code != 0
    assert "no provider with code 'NOPE'" in result.output


def test_activities_ending_later_this_year_are_not_counted_as_ended(app, client):
    with app.app_context():
        p = make_provider("NOW")
        make_user("now@example.org", p)
        make_activity(p, start_date=date(2026, 3, 1), end_date=date(2026, 3, 15))  # ended
        make_activity(p, start_date=date(2026, 3, 1), end_date=date(2026, 11, 30))  # not yet
        db.session.commit()
    with time_machine.travel(APR_2, tick=False):
        login(client, "now@example.org")
        doc = parse(client.get("/?year=2026"))
        steps = _steps(doc)
        listing = parse(client.get(_action_href(doc, "activities")))
    assert steps["activities"]["summary"] == "1 activity ended in 2026 and is not closed"
    assert len(rows(listing)) == 1


def test_an_accreditors_earlier_deadline_is_the_one_shown(app, client):
    from pars_app.domain.deadlines import deadline_from_local
    from pars_app.models import ReportingDeadline

    with app.app_context():
        p = make_provider("EARLY")
        make_user("early@example.org", p)
        db.session.add(
            ReportingDeadline(
                accreditor_id=p.accreditor_id,
                year=2025,
                due_at=deadline_from_local(date(2026, 3, 13)),
                reason="State society calendar",
            )
        )
        db.session.commit()
    with time_machine.travel(FEB_15, tick=False):
        login(client, "early@example.org")
        doc = parse(client.get("/?year=2025"))
    deadline = by_id(doc, "deadline")
    # Daylight saving time starts on March 8, 2026: the 13th is in CDT.
    assert "Fri Mar 13, 2026, 11:59 PM CDT" in text(deadline)
    assert text(by_class(deadline, "deadline__left")[0]) == "26 days left."
    # Once that earlier deadline has passed, the dashboard moves on to 2026.
    with time_machine.travel(datetime(2026, 3, 20, 15, tzinfo=UTC), tick=False):
        login(client, "early@example.org")
        assert text(parse(client.get("/")).xpath("//h1")[0]) == "Annual reporting 2026"
        printed = parse(client.get("/checklist/2025/print"))
    assert "Deadline: Fri Mar 13, 2026, 11:59 PM CDT — LATE" in text(printed.xpath("//main")[0])

"""The Program Summary page: fill, validate (422), conflicts (409), submit with confirmation,
the locked year, roles, and one provider never seeing another's summary."""

# ruff: noqa: RUF001

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from pars_app.extensions import db
from pars_app.models import Accreditor, ProgramSummary, Provider, User, YearLock
from pars_app.services import unlocks
from tests.factories import (
    csrf_token,
    login,
    make_accreditor,
    make_activity,
    make_provider,
    make_summary,
    make_user,
    utc,
)
from tests.web.html import by_class, by_id, parse, text

FEB_15 = utc(2026, 2, 15, 18)
DEC_31_2025 = utc(2026, 1, 1, 5, 59)  # 11:59 p.m. Central on December 31, 2025
FIGURES = {
    "period_start_month": "1",
    "advertising_exhibit": "12,500",
    "registration_fees": "12500.00",
    "government_grants": "$12,500.50",
    "private_donations": "0",
}


@pytest.fixture(autouse=True)
def _in_cycle():
    with time_machine.travel(FEB_15, tick=False):
        yield


@pytest.fixture
def ids(app) -> dict:
    """Provider A (admin, staff and reviewer), with a 2025 activity; provider B with its own."""
    with app.app_context():
        a = make_provider("PROV-A")
        make_user("admin@a.org", a, role="admin")
        make_user("reviewer@a.org", a, role="reviewer")
        ended = make_activity(
            a,
            title="Ended in 2025",
            start_date=date(2025, 5, 1),
            end_date=date(2025, 5, 2),
            commercial_support=True,
            supporters=[{"name": "Acme", "kind": "monetary", "amount_cents": 750_000}],
        )
        b = make_provider("PROV-B", make_accreditor())
        make_user("admin@b.org", b, role="admin")
        theirs = make_summary(b, 2025)
        theirs.advertising_exhibit_cents = 98_765_400  # $987,654.00: must never show for A
        db.session.flush()  # version 2
        make_activity(
            b,
            start_date=date(2025, 5, 1),
            end_date=date(2025, 5, 2),
            commercial_support=True,
            supporters=[{"name": "Theirs", "kind": "monetary", "amount_cents": 11_111_100}],
        )
        db.session.commit()
        return {"a": a.id, "b": b.id, "ended": ended.id, "b_summary": theirs.id}


def _post(client, path="/summary/2025", **values):
    data = {**FIGURES, "version": "0", **values}
    data["csrf_token"] = csrf_token(client, "/summary/2025")
    return client.post(path, data=data)


def _summary(app, provider_id: int) -> ProgramSummary | None:
    with app.app_context():
        s = db.session.scalar(
            select(ProgramSummary).where(ProgramSummary.provider_id == provider_id)
        )
        if s is not None:
            db.session.expunge(s)
        return s


def _error(doc, name: str) -> str:
    return text(by_id(doc, f"f-{name}-error"))


# --- Filling in ------------------------------------------------------------------------------


def test_the_page_shows_the_fields_with_help_and_the_computed_support(app, client, ids):
    login(client, "admin@a.org")
    doc = parse(client.get("/summary/2025"))
    assert text(doc.xpath("//h1")[0]) == "Program Summary — 2025"
    for name in ("advertising_exhibit", "registration_fees", "government_grants"):
        assert by_id(doc, f"f-{name}").get("value") == ""
        assert text(by_id(doc, f"f-{name}-hint"))
    assert "commercial support" in text(by_id(doc, "f-advertising_exhibit-hint")).lower()
    assert "joint provider" in text(by_id(doc, "joint-note"))
    # Computed from A's activity only, never an input.
    assert text(by_id(doc, "support-total")) == "$7,500.00"
    assert "1 monetary supporter;" in text(by_id(doc, "support-detail"))
    assert "1 of 1 activity with commercial support" in text(by_id(doc, "support-detail"))
    assert not doc.xpath("//input[contains(@name,'commercial')]")
    link = by_id(doc, "support-activities")
    assert link.get("href") == "/activities?year=2025&by=end"
    assert client.get(link.get("href")).status_code == 200
    # Calendar year by default; fiscal years ending in 2025 can be chosen.
    selected = doc.xpath("//select[@id='f-period']/option[@selected]")[0]
    assert text(selected) == "Calendar year: January 1, 2025 – December 31, 2025"
    options = [text(o) for o in doc.xpath("//select[@id='f-period']/option")]
    assert "Fiscal year: July 1, 2024 – June 30, 2025" in options


def test_a_draft_saves_and_shows_what_was_saved(app, client, ids):
    login(client, "admin@a.org")
    r = _post(client, period_start_month="7")
    assert r.status_code == 302 and r.headers["Location"] == "/summary/2025"
    doc = parse(client.get("/summary/2025"))
    assert "draft is saved" in text(by_id(doc, "flash"))
    assert by_id(doc, "f-advertising_exhibit").get("value") == "12,500.00"
    assert by_id(doc, "f-government_grants").get("value") == "12,500.50"
    assert by_id(doc, "f-private_donations").get("value") == "0.00"
    assert "July 1, 2024" in text(doc.xpath("//select[@id='f-period']/option[@selected]")[0])
    assert text(by_id(doc, "summary-status")).startswith("Draft, last saved")
    s = _summary(app, ids["a"])
    assert (s.period_start, s.period_end, s.version) == (date(2024, 7, 1), date(2025, 6, 30), 1)
    assert s.government_grants_cents == 1_250_050


def test_bad_money_comes_back_422_with_a_message_per_field_and_everything_typed(app, client, ids):
    login(client, "admin@a.org")
    r = _post(
        client,
        advertising_exhibit="-250",
        registration_fees="lots",
        government_grants="1,000.999",
        private_donations="3,000",
        period_start_month="13",
    )
    assert r.status_code == 422
    doc = parse(r)
    assert _error(doc, "advertising_exhibit") == "Error: Enter 0 or more, not a negative number."
    assert _error(doc, "registration_fees") == "Error: Enter an amount in dollars."
    assert "at most 2 decimals" in _error(doc, "government_grants")
    assert _error(doc, "private_donations") == ""
    assert "12-month period" in _error(doc, "period")
    assert "4 things to fix" in text(by_id(doc, "error-summary"))
    # What was typed is kept, wrong or not, so nothing has to be typed twice.
    values = {n: by_id(doc, f"f-{n}").get("value") for n in FIGURES if n != "period_start_month"}
    assert values == {
        "advertising_exhibit": "-250",
        "registration_fees": "lots",
        "government_grants": "1,000.999",
        "private_donations": "3,000",
    }
    assert by_id(doc, "f-registration_fees").get("aria-invalid") == "true"
    assert _summary(app, ids["a"]) is None


def test_a_stale_save_gets_409_and_overwrites_nothing(app, client, ids):
    login(client, "admin@a.org")
    _post(client)  # version 1
    _post(client, version="1", government_grants="10")  # version 2
    r = _post(client, version="1", government_grants="99")
    assert r.status_code == 409
    doc = parse(r)
    notice = text(by_id(doc, "summary-conflict"))
    assert notice.startswith("Changed by admin@a.org at")
    assert "Government monetary grants $10.00" in notice
    assert by_id(doc, "f-government_grants").get("value") == "99"  # kept, not lost
    # Saving again from this page is a deliberate overwrite: it carries the stored version.
    assert doc.xpath("//input[@name='version']")[0].get("value") == "2"
    assert _summary(app, ids["a"]).government_grants_cents == 1_000


def test_prior_year_is_shown_beside_with_a_swing_warning(app, client, ids):
    with app.app_context():
        prior = make_summary(db.session.get(Provider, ids["a"]), 2024, submitted_at=utc(2025, 3, 1))
        prior.advertising_exhibit_cents = 500_000  # $5,000 -> $12,500: +150 %
        prior.registration_fees_cents = 1_000_000  # $10,000 -> $12,500: +25 %
        prior.government_grants_cents = 0  # $0 -> $12,500.50
        db.session.commit()
    login(client, "admin@a.org")
    _post(client)
    doc = parse(client.get("/summary/2025"))
    prior_cells = [text(td) for td in by_class(by_id(doc, "summary-figures"), "prior", "td")]
    assert prior_cells[:4] == ["$5,000.00", "$10,000.00", "$0.00", "—"]
    assert text(by_id(doc, "f-advertising_exhibit-swing")) == (
        "Warning: Up 150% on $5,000.00 in 2024: check this figure."
    )
    assert by_id(doc, "f-registration_fees-swing") is None
    assert "Up from $0.00 in 2024" in text(by_id(doc, "f-government_grants-swing"))
    assert "f-advertising_exhibit-swing" in by_id(doc, "f-advertising_exhibit").get(
        "aria-describedby"
    )


# --- Not open yet, roles, isolation ----------------------------------------------------------


def test_before_january_first_the_page_explains_and_saving_is_refused(app, client, ids):
    with time_machine.travel(DEC_31_2025, tick=False):
        login(client, "admin@a.org")
        doc = parse(client.get("/summary/2025"))
        assert "opens on January 1, 2026" in text(by_id(doc, "summary-status"))
        assert by_id(doc, "summary-form") is None
        assert text(by_id(doc, "support-total")) == "$7,500.00"  # known so far
        r = _post(client)
        assert r.status_code == 302
        doc = parse(client.get("/summary/2025"))
        assert "opens on January 1, 2026: it cannot be saved yet" in text(by_id(doc, "flash"))
    assert _summary(app, ids["a"]) is None


def test_a_reviewer_reads_but_cannot_save_or_submit(app, client, ids):
    login(client, "reviewer@a.org")
    doc = parse(client.get("/summary/2025"))
    assert by_id(doc, "summary-form") is None
    assert "Only provider admins and staff" in text(by_id(doc, "read-only-note"))
    assert _post(client).status_code == 403
    assert _post(client, "/summary/2025/submit", attest="yes", confirm="yes").status_code == 403
    assert _summary(app, ids["a"]) is None


def test_another_providers_summary_is_never_shown_or_touched(app, client, ids):
    login(client, "admin@a.org")
    body = client.get("/summary/2025").get_data(as_text=True)
    assert "987,654" not in body and "111,111" not in body
    assert "Not started" in body  # A has no summary, whatever B has
    _post(client)
    with app.app_context():
        b = db.session.get(ProgramSummary, ids["b_summary"])
        assert (b.advertising_exhibit_cents, b.version, b.status) == (98_765_400, 2, "draft")
        assert (
            db.session.scalar(
                select(ProgramSummary.provider_id).where(
                    ProgramSummary.advertising_exhibit_cents == 1_250_000
                )
            )
            == ids["a"]
        )


def test_years_outside_the_range_are_404(app, client, ids):
    login(client, "admin@a.org")
    assert client.get("/summary/1999").status_code == 404
    assert client.get("/summary/2101").status_code == 404


# --- Submitting ------------------------------------------------------------------------------


def test_submit_with_open_steps_lists_them_and_asks_for_a_second_tick(app, client, ids):
    login(client, "admin@a.org")
    doc = parse(client.get("/summary/2025"))
    listed = text(by_id(doc, "open-steps"))
    assert "3 other steps are not done yet" in listed
    assert "Provider Agreement" in listed and "Contact information" in listed
    assert "1 activity ended in 2025 and is not closed" in listed
    r = _post(client, "/summary/2025/submit", attest="yes")
    assert r.status_code == 422
    doc = parse(r)
    assert "tick “Submit anyway”" in text(by_id(doc, "error-summary"))
    assert doc.xpath("//input[@id='f-attest']")[0].get("checked") is not None  # kept
    with app.app_context():
        assert db.session.scalar(select(YearLock)) is None
    r = _post(client, "/summary/2025/submit")  # ticked "anyway" but did not attest
    assert r.status_code == 422
    assert "Tick the box to attest" in text(by_id(parse(r), "error-summary"))


def test_submit_locks_the_year_everywhere(app, client, ids):
    login(client, "admin@a.org")
    r = _post(client, "/summary/2025/submit", attest="yes", confirm="yes")
    assert r.status_code == 302
    doc = parse(client.get("/summary/2025"))
    status = text(by_id(doc, "summary-status"))
    assert status.startswith("Submitted on Sun Feb 15, 2026, 12:00 PM CST by User")
    assert "the year is locked" in status
    assert by_id(doc, "summary-form") is None
    assert text(by_id(doc, "f-government_grants")) == "$12,500.50"  # read-only figures
    # Saving or submitting again is refused, nothing changes.
    r = _post(client, version="1", government_grants="1")
    assert r.status_code == 302
    assert "submitted and locked" in text(by_id(parse(client.get("/summary/2025")), "flash"))
    assert _summary(app, ids["a"]).government_grants_cents == 1_250_050
    # The activity that ended in 2025 is read-only now, with the reason.
    page = parse(client.get(f"/activities/{ids['ended']}/edit", follow_redirects=True))
    assert "2025 report is submitted and locked" in text(page)
    # The dashboard says so and links here.
    dash = parse(client.get("/?year=2025"))
    banner = text(by_id(dash, "year-lock"))
    assert "submitted on Sun Feb 15, 2026" in banner and "2025 is locked" in banner
    step = by_id(dash, "step-summary")
    assert step.xpath(".//a[contains(@class,'step__action')]")[0].get("href") == "/summary/2025"


def test_a_late_submission_is_said_to_be_late(app, client, ids):
    with time_machine.travel(utc(2026, 4, 1, 5, 0, 0), tick=False):
        login(client, "admin@a.org")
        doc = parse(client.get("/summary/2025"))
        assert "will be recorded as late" in text(by_id(doc, "submit-box"))
        _post(client, "/summary/2025/submit", attest="yes", confirm="yes")
        doc = parse(client.get("/summary/2025"))
    assert "after the deadline; the year is locked" in text(by_id(doc, "summary-status"))
    assert _summary(app, ids["a"]).submitted_late is True


def test_after_an_unlock_the_page_says_who_and_why_and_can_be_resubmitted(app, client, ids):
    login(client, "admin@a.org")
    _post(client, "/summary/2025/submit", attest="yes", confirm="yes")
    with app.app_context():
        p = db.session.get(Provider, ids["a"])
        staff = make_user("staff@acc.org", accreditor=db.session.get(Accreditor, p.accreditor_id))
        staff.name = "Alex Reyes"
        unlocks.unlock_year(p.accreditor, p, 2025, "Counts to fix", staff, utc(2026, 2, 16, 18))
    doc = parse(client.get("/summary/2025"))
    status = text(by_id(doc, "summary-status"))
    assert status.startswith("Unlocked by Alex Reyes on Mon Feb 16, 2026")
    assert "“Counts to fix”" in status
    assert by_id(doc, "summary-form") is not None  # editable again
    r = _post(client, "/summary/2025/submit", version="2", attest="yes", confirm="yes")
    assert r.status_code == 302
    with app.app_context():
        locks = db.session.scalars(select(YearLock).order_by(YearLock.id)).all()
        assert [lk.unlocked_at is None for lk in locks] == [False, True]
        assert db.session.scalar(select(User.email).where(User.id == locks[1].locked_by_id)) == (
            "admin@a.org"
        )
    assert "the year is locked" in text(by_id(parse(client.get("/summary/2025")), "summary-status"))

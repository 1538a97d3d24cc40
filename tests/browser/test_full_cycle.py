"""The demo provider's 2025 cycle in a real browser, from open to done, in the close-out season:
accept the agreement, close the activities that ended, enter the December 31 counts, confirm the
contacts, fill and submit the Program Summary. Then all five steps are done, the year is locked,
and editing an activity that ended in 2025 is refused with the reason.

The server runs on its own demo database with the app's clock set to February 16, 2026 (ticking):
DEMO's 2025 close-out, which the demo data has already done, is undone first, so the walk starts
from an open cycle with a few activities and counts still to do.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from .conftest import CSP_LISTENER, LiveServer, sign_in

SEASON = datetime(2026, 2, 16, 18, 0, tzinfo=UTC)  # noon in Chicago, 43 days before March 31
REOPENED = 4  # activities that ended in 2025 left open for the walk to close
UNCOUNTED = 2  # enduring materials left without their December 31, 2025 count

# Chromium reports every 4xx page load as a console error; none is expected on this walk.
EXPECTED = re.compile(r"Failed to load resource: .* status of (409|422) ")


def _reopen_demo_2025() -> dict:
    """Undo DEMO's 2025 close-out (agreement, summary and lock, contact review), reopen a few
    activities that ended in 2025 (one without learner counts) and drop two December 31 counts."""
    from pars_app.extensions import db
    from pars_app.models import (
        Activity,
        AgreementAcceptance,
        AgreementText,
        ContactReview,
        LearnerSnapshot,
        ProgramSummary,
        Provider,
        YearLock,
    )
    from pars_app.services.activities import refresh_derived

    demo = db.session.scalar(select(Provider).where(Provider.code == "DEMO"))
    texts = select(AgreementText.id).where(AgreementText.year == 2025)
    db.session.execute(
        delete(AgreementAcceptance).where(
            AgreementAcceptance.provider_id == demo.id,
            AgreementAcceptance.agreement_text_id.in_(texts),
        )
    )
    for model in (ProgramSummary, YearLock):
        db.session.execute(delete(model).where(model.provider_id == demo.id, model.year == 2025))
    db.session.execute(delete(ContactReview).where(ContactReview.provider_id == demo.id))

    ended = db.session.scalars(
        select(Activity)
        .where(
            Activity.provider_id == demo.id,
            Activity.format != "EM",
            Activity.end_date.between(date(2025, 1, 1), date(2025, 12, 31)),
        )
        .order_by(Activity.id)
        .limit(REOPENED)
    ).all()
    for a in ended:
        a.closed_at, a.closed_by_id = None, None
    ended[0].physician_learners = ended[0].other_learners = None
    for a in ended:
        refresh_derived(a)
    materials = db.session.scalars(
        select(Activity)
        .where(
            Activity.provider_id == demo.id,
            Activity.format == "EM",
            Activity.start_date <= date(2025, 12, 31),
            Activity.end_date > date(2025, 12, 31),  # not in its last year: no final total
        )
        .order_by(Activity.id)
        .limit(UNCOUNTED)
    ).all()
    db.session.execute(
        delete(LearnerSnapshot).where(
            LearnerSnapshot.year == 2025,
            LearnerSnapshot.activity_id.in_([m.id for m in materials]),
        )
    )
    db.session.commit()
    return {
        "uncounted": ended[0].id,
        "uncounted_code": ended[0].provider_activity_id,
        "reopened": [a.id for a in ended],
        "materials": [m.id for m in materials],
    }


@pytest.fixture
def season_server(tmp_path) -> Iterator[tuple[LiveServer, dict]]:
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    with time_machine.travel(SEASON, tick=True):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/cycle.sqlite3",
                "TESTING": True,
                "SECRET_KEY": "x",
                "RATELIMIT_ENABLED": False,
                "PARS_JOB_BACKEND": "immediate",
                # The browser keeps the real clock: a session cookie that expires 12 hours
                # after the app's February 2026 would be thrown away at once.
                "PERMANENT_SESSION_LIFETIME": timedelta(days=3650),
            }
        )
        with app.app_context():
            db.create_all()
            seed_demo(datetime.now(UTC))
            ids = _reopen_demo_2025()
            db.session.remove()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="cycle-server", daemon=True)
        thread.start()
        try:
            yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app), ids
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def cycle_page(browser, season_server):
    server, ids = season_server
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(8_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    sign_in(page, "demo@example.org")
    yield page, ids, errors
    context.close()


def _open_step(page, key: str) -> None:
    """From the dashboard, follow the step's own link, as a coordinator does."""
    page.goto("/")
    page.locator(f"#step-{key} a.step__action").click()


def _expect_step(page, key: str, state: str) -> None:
    expect(page.locator(f"#step-{key}")).to_have_class(re.compile(rf"\bstep--{state}\b"))


def test_the_2025_cycle_from_open_to_done(cycle_page):
    page, ids, errors = cycle_page

    # The dashboard opens on 2025, in the season: every step to do, the deadline ahead.
    expect(page.locator("h1")).to_have_text("Annual reporting 2025")
    expect(page.locator("#steps-title")).to_have_text("0 of 5 steps done")
    expect(page.locator("#deadline .deadline__left")).to_have_text("43 days left.")
    expect(page.locator("#chart-progress figcaption")).to_have_text("Progress: 0 of 5 steps done")

    # 1. The agreement.
    _open_step(page, "agreement")
    expect(page).to_have_url(re.compile(r"/agreement/2025$"))
    page.get_by_label(re.compile("I have read this agreement and accept it")).check()
    page.get_by_role("button", name="Accept the 2025 agreement").click()
    expect(page.locator("#flash")).to_contain_text("The 2025 Provider Agreement is accepted.")
    _expect_step(page, "agreement", "done")
    expect(page.locator("#step-agreement .step__summary")).to_contain_text(
        "Accepted on February 16, 2026 by demo@example.org"
    )

    # 2. Close what ended: type the missing counts in the list, then close them all at once.
    _open_step(page, "activities")
    expect(page).to_have_url(re.compile(r"/activities\?year=2025&view=ended_open$"))
    rows = page.locator("#activities-table tbody tr")
    expect(rows).to_have_count(REOPENED)
    row = page.locator(f"#activity-{ids['uncounted']}")
    row.get_by_role("link", name=re.compile(r"^Physician learners of ")).click()
    physicians = row.get_by_label(re.compile(r"^Physician learners of "))
    expect(physicians).to_be_focused()
    physicians.fill("120")
    page.keyboard.press("Tab")
    page.keyboard.type("8")
    page.keyboard.press("Enter")
    expect(row.locator("td.status")).to_have_text("Ready to Close")
    page.get_by_label("Select every activity on this page").check()
    page.get_by_role("button", name="Close selected").click()
    expect(page.locator("#bulk-result")).to_contain_text(f"Closed {REOPENED} activities.")
    expect(rows).to_have_count(0)

    # 3. December 31 counts of the enduring materials still missing them.
    _open_step(page, "enduring")
    expect(page).to_have_url(re.compile(r"/enduring/2025\?missing=1$"))
    expect(page.locator("#enduring-rule")).to_contain_text("Cumulative totals")
    for n, material in enumerate(ids["materials"]):
        counts = page.locator(f"#snapshot-{material}")
        counts.get_by_label(re.compile(r"^Physicians as of December 31, 2025")).fill(str(200 + n))
        other = counts.get_by_label(re.compile(r"^Other learners as of December 31, 2025"))
        other.fill("15")
        other.press("Enter")
        expect(counts.locator(".saved-note")).to_contain_text("Saved")
    expect(page.locator("#enduring-summary")).to_contain_text("have a count as of December 31")

    # 5. The contacts, confirmed as they are.
    _open_step(page, "contacts")
    page.get_by_role("button", name="Confirm contacts are current").click()
    expect(page.locator("#last-review")).to_contain_text("(confirmed unchanged)")

    # Four steps are done now; the dashboard says so before the summary.
    page.goto("/")
    expect(page.locator("#steps-title")).to_have_text("4 of 5 steps done")
    for key in ("agreement", "activities", "enduring", "contacts"):
        _expect_step(page, key, "done")

    # 4. The Program Summary, last: nothing else is open, so the attestation is enough.
    _open_step(page, "summary")
    expect(page.locator("h1")).to_have_text("Program Summary — 2025")
    page.get_by_label("The 12 months these figures cover").select_option("1")
    page.get_by_label("Advertising and exhibit income").fill("42,500")
    page.get_by_label("Registration fees").fill("189000.00")
    page.get_by_label("Government monetary grants").fill("0")
    page.get_by_label("Private monetary donations").fill("12,000")
    expect(page.locator("#open-steps")).to_have_count(0)
    page.get_by_label(re.compile("I attest that")).check()
    page.get_by_role("button", name="Submit and lock 2025").click()
    expect(page.locator("#flash")).to_contain_text("submitted: 2025 is locked")
    status = page.locator("#summary-status")
    expect(status).to_contain_text(re.compile(r"Submitted on .*Feb 16, 2026"))
    expect(status).to_contain_text("by Dana Morgan; the year is locked")  # on time: not late

    # Done: five done steps, the year shows locked, the charts agree.
    page.goto("/")
    expect(page.locator("#steps-title")).to_have_text("5 of 5 steps done")
    for key in ("agreement", "activities", "enduring", "summary", "contacts"):
        _expect_step(page, key, "done")
    expect(page.locator("#deadline .deadline__left")).to_have_text("All five steps are done.")
    expect(page.locator("#year-lock")).to_contain_text("2025 is locked")
    expect(page.locator("#step-summary .step__summary")).to_contain_text("the year is locked")
    expect(page.locator("#chart-progress figcaption")).to_have_text("Progress: 5 of 5 steps done")

    # An activity that ended in 2025 can no longer be edited, and the page says why: it is
    # closed, and it cannot be reopened because 2025 is locked.
    page.goto(f"/activities/{ids['uncounted']}/edit")
    expect(page).to_have_url(re.compile(rf"/activities/{ids['uncounted']}$"))
    expect(page.locator("#flash")).to_contain_text("This activity is closed: reopen it first")
    expect(page.locator(".closed-banner__why")).to_contain_text(
        "The 2025 report is submitted and locked"
    )
    expect(page.locator("#reopen-activity")).to_have_count(0)

    assert [e for e in errors if not EXPECTED.search(e)] == []
    assert page.evaluate("window.__cspViolations") == []

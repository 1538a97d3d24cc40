"""The Program Summary in a real browser: fill it in, save a draft, submit with the attestation,
see the year locked; an activity that ended in that year then refuses to be edited.

This module changes data (it locks WEST's 2025), so it runs its own live server on its own
database rather than the shared read-only one.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from .conftest import CSP_LISTENER, LiveServer, sign_in


@pytest.fixture(scope="module")
def summary_server(tmp_path_factory) -> Iterator[LiveServer]:
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    path = tmp_path_factory.mktemp("summary") / "s.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "TESTING": True,
            "SECRET_KEY": "x",
            "RATELIMIT_ENABLED": False,
            "PARS_JOB_BACKEND": "immediate",
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo(datetime.now(UTC))
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="summary-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def west_page(browser, summary_server):
    context = browser.new_context(
        base_url=summary_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(5_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    sign_in(page, "west@example.org")
    yield page, errors
    context.close()


def _west_activity_ended_in_2025(server: LiveServer) -> tuple[int, str]:
    from sqlalchemy import select

    from pars_app.extensions import db
    from pars_app.models import Activity, Provider

    def find():
        west = db.session.scalar(select(Provider).where(Provider.code == "WEST"))
        a = db.session.scalars(
            select(Activity)
            .where(
                Activity.provider_id == west.id,
                Activity.end_date.between(date(2025, 1, 1), date(2025, 12, 31)),
                Activity.closed_at.is_(None),  # editable until the lock, which is the point
            )
            .order_by(Activity.id)
        ).first()
        return a.id, a.provider_activity_id

    return server.query(find)


def test_fill_save_submit_and_the_year_is_locked(west_page, summary_server):
    page, errors = west_page
    activity_id, activity_code = _west_activity_ended_in_2025(summary_server)
    # Before submitting, that activity can be edited.
    page.goto(f"/activities/{activity_id}/edit")
    expect(page).to_have_url(re.compile(rf"/activities/{activity_id}/edit$"))

    page.goto("/summary/2025")
    expect(page.locator("h1")).to_have_text("Program Summary — 2025")
    # WEST's draft (demo data) reports its July-June fiscal year.
    expect(page.get_by_label("The 12 months these figures cover")).to_have_value("7")
    page.get_by_label("Registration fees").fill("$12,500")
    page.get_by_label("Government monetary grants").fill("0")
    page.get_by_label("Private monetary donations").fill("1,000.50")
    page.get_by_label("Private monetary donations").press("Enter")  # Enter saves a draft
    expect(page.locator("#flash")).to_contain_text("The 2025 Program Summary draft is saved.")
    expect(page.get_by_label("Registration fees")).to_have_value("12,500.00")
    expect(page.locator("#summary-status")).to_contain_text("Draft, last saved")

    # WEST has open steps: submitting lists them and needs both ticks.
    expect(page.locator("#open-steps")).to_contain_text("not done yet")
    page.get_by_label(re.compile("I attest that")).check()
    page.get_by_role("button", name="Submit and lock 2025").click()
    expect(page.locator("#error-summary")).to_contain_text("Submit anyway")
    page.get_by_label(re.compile("Submit anyway")).check()
    page.get_by_role("button", name="Submit and lock 2025").click()

    expect(page.locator("#flash")).to_contain_text("submitted: 2025 is locked")
    status = page.locator("#summary-status")
    expect(status).to_contain_text("Submitted on")
    expect(status).to_contain_text("by Wes Tanaka")
    expect(status).to_contain_text("the year is locked")
    expect(page.locator("#summary-form")).to_have_count(0)
    expect(page.locator("#f-registration_fees")).to_have_text("$12,500.00")

    # The dashboard shows the lock, and the activity that ended in 2025 is read-only now.
    page.goto("/?year=2025")
    expect(page.locator("#year-lock")).to_contain_text("2025 is locked")
    page.goto(f"/activities/{activity_id}/edit")
    expect(page).to_have_url(re.compile(rf"/activities/{activity_id}$"))
    expect(page.locator("#flash")).to_contain_text("The 2025 report is submitted and locked")
    expect(page.locator("#read-only-reason")).to_contain_text("locked")
    assert activity_code
    # The refused submission came back 422 on purpose; Chromium logs any 4xx page load.
    assert [e for e in errors if "status of 422" not in e] == []
    assert page.evaluate("window.__cspViolations") == []

"""The accreditor console in a real browser: filter to the late providers, open one, unlock its
submitted year with a reason; the provider sees the unlock and the audit log has both events.

This module changes data (an unlock), so it runs its own live server on its own database
rather than the shared read-only one.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from .conftest import CSP_LISTENER, LiveServer, sign_in

REASON = "Two 2025 courses need their learner counts corrected"


def _submit_west_2025() -> None:
    """WEST submits its 2025 Program Summary (a draft in the demo data), which locks 2025."""
    from sqlalchemy import select

    from pars_app.extensions import db
    from pars_app.models import ProgramSummary, Provider, User
    from pars_app.services import clock, program_summary

    west = db.session.scalar(select(Provider).where(Provider.code == "WEST"))
    user = db.session.scalar(select(User).where(User.email == "west@example.org"))
    draft = db.session.scalar(select(ProgramSummary).where(ProgramSummary.provider_id == west.id))
    figures = dict.fromkeys(
        ("advertising_exhibit", "registration_fees", "government_grants", "private_donations"),
        "0",
    )
    values = {**figures, "period_start_month": "7", "attest": "yes", "confirm": "yes"}
    program_summary.submit(west, 2025, values, draft.version, user, clock.now())


@pytest.fixture(scope="module")
def console_server(tmp_path_factory) -> Iterator[LiveServer]:
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    path = tmp_path_factory.mktemp("accreditor") / "a.sqlite3"
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
        _submit_west_2025()
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def new_page(browser, console_server):
    contexts = []

    def make():
        context = browser.new_context(
            base_url=console_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
        )
        context.set_default_timeout(5_000)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        return page, errors

    yield make
    for context in contexts:
        context.close()


def test_filter_late_open_provider_unlock_and_see_it_everywhere(new_page):
    page, errors = new_page()
    sign_in(page, "accreditor@example.org")
    page.wait_for_url(re.compile(r"/accreditor/"))
    page.goto("/accreditor/?year=2025")
    expect(page.locator("h1")).to_have_text("Providers — reporting year 2025")
    table = page.locator("#providers tbody tr")
    expect(table).to_have_count(2)  # DEMO and WEST: ACCME sees every provider

    page.get_by_label("Show").select_option("late")  # htmx swaps the table in place
    expect(table).to_have_count(1)
    expect(table.first).to_contain_text("Western Valley Medical Society")
    expect(table.first.locator(".pill--late")).to_have_text("Late")
    assert "state=late" in page.url

    page.get_by_role("link", name="Western Valley Medical Society").click()
    page.wait_for_url(re.compile(r"/\?year=2025$"))
    expect(page.locator("#viewing-banner")).to_contain_text(
        "Viewing Western Valley Medical Society (WEST) as ACCME — read only"
    )
    expect(page.locator("#year-lock")).to_contain_text("2025 is locked")
    page.get_by_label(re.compile("Reason for unlocking")).fill(REASON)
    page.get_by_role("button", name="Unlock 2025").click()
    expect(page.locator("#flash")).to_contain_text("2025 report is unlocked")
    notice = page.locator("#year-unlocked")
    expect(notice).to_contain_text("2025 was unlocked by Alex Reyes")
    expect(notice).to_contain_text(REASON)
    expect(page.locator("#unlock")).to_have_count(0)

    page.get_by_role("link", name="Back to all providers").click()
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-events tbody tr")
    expect(rows.filter(has_text="year.unlocked")).to_have_count(1)
    expect(rows.filter(has_text="summary.submitted")).to_have_count(1)
    expect(rows.filter(has_text="year.unlocked")).to_contain_text(REASON)
    page.get_by_label("Action").fill("year.")
    expect(rows).to_have_count(2)  # searched as typed, table swapped: locked, then unlocked
    expect(rows.nth(0)).to_contain_text("year.unlocked")
    expect(rows.nth(1)).to_contain_text("year.locked")
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []

    # The provider itself sees who unlocked its year, and why.
    west, west_errors = new_page()
    sign_in(west, "west@example.org")
    west.goto("/?year=2025")
    notice = west.locator("#year-unlocked")
    expect(notice).to_contain_text("2025 was unlocked by Alex Reyes")
    expect(notice).to_contain_text(REASON)
    expect(west.locator("#viewing-banner")).to_have_count(0)
    assert west_errors == []

"""Real-browser fixtures: the system Chromium driven by Playwright against a live server.

The server is the real app on a temporary SQLite file, seeded with the demo data as of the
real clock, served by werkzeug in a daemon thread. One server and one browser per session
(the tests only read, and each test gets a fresh browser context: no shared cookies).
Expected numbers are computed from the same database through the services (`live.checklist`)
so the tests hold whatever today's date is.

Never `playwright install`: Chromium is the Debian package at /usr/bin/chromium.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = bool(os.environ.get("CI"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A closed network: without these, Chromium keeps trying to reach Google and logs refusals.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "demo"
# Records the console messages and CSP violations of a page (CDP-injected: not subject to CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # read by the `page` fixture's teardown
    return report


@dataclass
class LiveServer:
    url: str
    app: Flask

    def checklist(self, provider_code: str, year: int | None = None):
        """The checklist the server would compute right now (and the year it picked)."""
        from pars_app.extensions import db
        from pars_app.models import Provider
        from pars_app.services import checklist, clock, cycle

        with self.app.app_context():
            provider = db.session.scalar(db.select(Provider).where(Provider.code == provider_code))
            year = year if year is not None else cycle.default_year(provider, clock.now())
            result = checklist.checklist_for(provider, year, clock.now())
            db.session.remove()
            return year, result

    def query(self, fn):
        """Run `fn()` in an app context (trusted, unscoped) and return its result."""
        from pars_app.extensions import db

        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    tmp_path = tmp_path_factory.mktemp("browser")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/b.sqlite3",
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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in reports
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(
                f"Chromium must be installed at {CHROMIUM} in CI (apt-get install chromium)"
            )
        pytest.skip(
            "Chromium not installed at /usr/bin/chromium (apt-get install chromium); CI is unset"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Console:
    """Errors a page reported: console errors, uncaught exceptions, failed requests."""

    errors: list[str] = field(default_factory=list)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser, live, console, request):
    context = browser.new_context(
        base_url=live.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(5_000)
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()
    pg.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    pg.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as err:  # a screenshot must never hide the real failure
            print(f"could not save a screenshot: {err}")
    context.close()


def sign_in(page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real form, as a user does, and wait to leave the login page."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def demo_page(page):
    """A page signed in as demo@example.org (admin of DEMO), on the dashboard."""
    sign_in(page, "demo@example.org")
    return page


# --- A fresh server per test (issue 3: inline counts and closing change data) -----------------


@pytest.fixture
def fresh_live(tmp_path) -> Iterator[LiveServer]:
    """Like `live`, on its own new demo database: for a test that changes data, so neither it
    nor the shared session server sees the other's changes. Seeding takes a fraction of a second."""
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/fresh.sqlite3",
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
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fresh-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def fresh_page(browser, fresh_live, console, request):
    """A page on `fresh_live`, signed in as demo@example.org (admin of DEMO)."""
    context = browser.new_context(
        base_url=fresh_live.url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(5_000)
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()
    pg.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    pg.on("pageerror", lambda e: console.errors.append(f"uncaught: {e}"))
    sign_in(pg, "demo@example.org")
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as err:  # a screenshot must never hide the real failure
            print(f"could not save a screenshot: {err}")
    context.close()

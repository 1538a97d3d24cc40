"""Batch files in a real browser: upload → preview → confirm → counts; and a big file's
progress bar moving to completion under the embedded worker thread."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from werkzeug.serving import make_server

from pars_app.io import write_activities
from tests.browser.conftest import CSP_LISTENER, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _journal(i: int, pid: str = "") -> dict:
    return {
        "provider_activity_id": pid or f"BR-{i:05d}",
        "title": f"Browser journal {i}",
        "format": "JN",
        "start_date": date(2026, 2, 1),
        "end_date": date(2026, 2, 28),
        "credits": 1,
        "description": "Reading.",
        "providership": "direct",
        "passport_listed": False,
        "commercial_support": False,
        "outcome_competence": True,
        "physician_learners": 12,
        "other_learners": 3,
        "close": i == 1,
    }


def test_upload_preview_confirm_and_see_the_counts(fresh_page, console):
    page = fresh_page
    data = write_activities([_journal(1), _journal(2), _journal(3) | {"title": ""}])
    page.goto("/imports/new")
    page.get_by_label("Batch file").set_input_files(
        {"name": "journals.xlsx", "mimeType": XLSX, "buffer": data}
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#import-status")).to_have_text("Preview ready: nothing written yet")
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-closed")).to_have_text("1")
    expect(page.locator("#count-errors")).to_have_text("1")
    expect(page.locator("#row-4")).to_contain_text("Activity Title")
    # Rows in error: the user must say the others may go in without them.
    page.get_by_label(re.compile("Import the other rows")).check()
    page.get_by_role("button", name=re.compile(r"Import 3 change")).click()
    expect(page.locator("#import-status")).to_have_text("Imported")
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-closed")).to_have_text("1")
    page.goto("/activities?q=Browser+journal")
    expect(page.locator("#activities-table")).to_contain_text("Browser journal 2")
    page.goto("/imports")
    expect(page.locator("#imports-table")).to_contain_text("journals.xlsx")
    assert console.errors == []


def test_a_previewed_file_can_be_discarded(fresh_page, console):
    page = fresh_page
    page.goto("/imports/new")
    page.get_by_label("Batch file").set_input_files(
        {"name": "unwanted.xlsx", "mimeType": XLSX, "buffer": write_activities([_journal(9)])}
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#import-status")).to_have_text("Preview ready: nothing written yet")
    page.locator("#discard-import").click()
    expect(page.locator("#import-status")).to_have_text("Discarded: nothing written")
    page.goto("/activities?q=Browser+journal+9")
    expect(page.locator("#activities-table")).not_to_contain_text("Browser journal 9")
    assert console.errors == []


@pytest.fixture
def thread_server(tmp_path):
    """A live server whose imports run on the embedded worker thread, none in the request."""
    from pars_app import create_app
    from pars_app.extensions import db
    from pars_app.services.demo import seed_demo

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/thread.sqlite3",
            "TESTING": True,
            "SECRET_KEY": "x",
            "RATELIMIT_ENABLED": False,
            "PARS_JOB_BACKEND": "thread",
            "PARS_IMPORT_INLINE_BYTES": 0,
            "PARS_IMPORT_INLINE_ROWS": 0,
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo(datetime.now(UTC))
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


_BAR_VALUE = """() => {
    const bar = document.querySelector("#import-progress-bar");
    return bar ? bar.getAttribute("value") : "gone";
}"""


def test_a_big_files_progress_bar_moves_to_completion(browser, thread_server, console):
    context = browser.new_context(base_url=thread_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    sign_in(page, "demo@example.org")
    # Big enough that the preview outlasts several polls of the bar. The preview keeps getting
    # faster: 8,000 rows once took under two seconds, then 24,000 rows of XML (20 MB, near the
    # upload limit) were read in about three and a poll sometimes missed them. An .xlsx
    # holds far more rows for its size: 60,000 (6 MB) take several seconds to preview.
    rows = 60_000
    data = write_activities(_journal(i) | {"close": False} for i in range(1, rows + 1))
    page.goto("/imports/new")
    page.get_by_label("Batch file").set_input_files(
        {"name": "big.xlsx", "mimeType": XLSX, "buffer": data}
    )
    page.get_by_role("button", name="Upload and preview").click()
    bar = page.locator("#import-progress-bar")
    expect(bar).to_be_visible()
    seen: set[int] = set()
    # Read in one step in the page: asking "is the bar there?" and then "what is its value?"
    # raced the end of the preview, when the page moves on to the preview, and the second
    # question then waited for a bar that was gone (seen once in CI).
    while True:
        try:
            value = page.evaluate(_BAR_VALUE)
        except PlaywrightError:  # the page moved on during the question: ask the new one
            page.wait_for_load_state()
            continue
        if value == "gone":
            break
        if value is not None:
            seen.add(int(value))
        page.wait_for_timeout(200)
    expect(page.locator("#import-status")).to_have_text("Preview ready: nothing written yet")
    expect(page.locator("#count-created")).to_have_text(f"{rows:,}")
    assert any(0 < v < 100 for v in seen), f"the bar never showed progress: {sorted(seen)}"
    # Confirming queues the commit on the thread too; the page follows it to the end.
    page.get_by_role("button", name=re.compile(f"Import {rows:,} change")).click()
    expect(page.locator("#import-status")).to_have_text("Imported", timeout=120_000)
    expect(page.locator("#count-created")).to_have_text(f"{rows:,}")
    assert console.errors == []
    context.close()

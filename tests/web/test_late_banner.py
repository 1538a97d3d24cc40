"""A provider late for last year sees it on the current year's dashboard."""

from datetime import date

import lxml.html
import time_machine

from pars_app.extensions import db
from tests.factories import login, make_activity, make_provider, make_user, utc


def _provider_with_2025_open(app):
    with app.app_context():
        p = make_provider()
        make_user("late@example.org", p)
        make_activity(p, start_date=date(2025, 5, 1), end_date=date(2025, 5, 2))
        db.session.commit()


@time_machine.travel(utc(2026, 6, 1, 15), tick=False)
def test_banner_links_back_to_the_late_year(app, client):
    _provider_with_2025_open(app)
    login(client, "late@example.org")
    doc = lxml.html.fromstring(client.get("/").data)
    banner = doc.get_element_by_id("late-previous")
    assert "Your 2025 report is late" in banner.text_content()
    assert banner.cssselect("a")[0].get("href") == "/?year=2025"
    # Viewing the late year itself shows its own late state, not the banner again.
    doc = lxml.html.fromstring(client.get("/?year=2025").data)
    assert not doc.cssselect("#late-previous")
    assert "deadline--late" in doc.get_element_by_id("deadline").get("class")


@time_machine.travel(utc(2026, 3, 1, 15), tick=False)
def test_no_banner_before_the_deadline(app, client):
    _provider_with_2025_open(app)
    login(client, "late@example.org")
    assert b'id="late-previous"' not in client.get("/").data

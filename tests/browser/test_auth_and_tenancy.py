"""Signing in, and what one provider's user can and cannot see."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from .conftest import sign_in


def test_wrong_password_shows_the_error_and_stays_on_login(page):
    page.goto("/login")
    page.get_by_label("Email").fill("demo@example.org")
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as r:
        page.get_by_role("button", name="Sign in").click()
    assert r.value.status == 401
    assert page.url.endswith("/login")
    error = page.get_by_role("alert")
    expect(error).to_have_text(re.compile("do not match an account"))
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Email")).to_have_value("demo@example.org")
    expect(page.locator("nav.site-nav")).to_have_count(0)  # not signed in

    # The right password still works straight after.
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#checklist")).to_be_visible()


def _a_demo_activity_id(live) -> int:
    from pars_app.extensions import db
    from pars_app.models import Activity, Provider

    return live.query(
        lambda: db.session.scalar(
            select(Activity.id)
            .join(Provider, Provider.id == Activity.provider_id)
            .where(Provider.code == "DEMO")
            .limit(1)
        )
    )


def test_west_sees_only_west(page, live, console):
    sign_in(page, "west@example.org")
    header = page.locator(".site-header")
    expect(header).to_contain_text("Western Valley Medical Society")
    expect(header).not_to_contain_text("Lakeside")

    page.get_by_role("link", name="Activities", exact=True).click()
    page.wait_for_url(re.compile(r"/activities"))
    page.locator("#f-per-page").select_option("200")  # everything WEST has, on one page
    expect(page.locator("#result-count")).to_have_text(re.compile(r"^1\u2013\d+ of \d+$"))
    ids = page.locator("#activities-table tbody tr td:first-child").all_inner_texts()
    assert ids, "WEST has activities in the demo data"
    assert all(i.startswith("WEST-") for i in ids), ids
    # Searching for the other provider's ids finds nothing.
    page.locator("#q").fill("DEMO-")
    expect(page.locator("#activities-table")).to_contain_text("No activities match")

    demo_id = _a_demo_activity_id(live)
    response = page.goto(f"/activities/{demo_id}")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.locator("body")).not_to_contain_text("DEMO-")
    expect(page.get_by_role("link", name="Go to the dashboard")).to_be_visible()

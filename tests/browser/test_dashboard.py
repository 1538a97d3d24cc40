"""The dashboard in a real browser: the five steps, the deadline, the year switch, keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from pars_app.web.filters import central

from .conftest import sign_in

STATE_LABELS = {"done": "Done", "todo": "To do", "not_open": "Not open yet"}


def test_dashboard_shows_the_five_steps_as_the_service_computes_them(demo_page, live):
    page = demo_page
    year, expected = live.checklist("DEMO")

    expect(page.locator("h1")).to_have_text(f"Annual reporting {year}")
    expect(page.locator("#year")).to_have_value(str(year))
    steps = page.locator("#checklist li.step")
    expect(steps).to_have_count(5)
    expect(page.locator("#steps-title")).to_have_text(f"{expected.done_count} of 5 steps done")

    for step in expected.steps:
        item = page.locator(f"#step-{step.key}")
        expect(item).to_have_class(re.compile(rf"\bstep--{step.state.value}\b"))
        expect(item.locator(".step__title")).to_contain_text(step.title)
        expect(item.locator(".step__title .badge")).to_have_text(
            re.compile(re.escape(STATE_LABELS[step.state.value]))
        )
        expect(item.locator(".step__summary")).to_have_text(step.summary)

    deadline = page.locator("#deadline")
    expect(deadline).to_be_visible()
    expect(deadline.locator("#deadline-title")).to_have_text(f"Deadline for {year}")
    expect(deadline.locator(".deadline__when strong")).to_have_text(central(expected.deadline))
    left = deadline.locator(".deadline__left")
    if expected.complete:
        expect(left).to_have_text("All five steps are done.")
    elif expected.late:
        expect(deadline).to_have_class(re.compile(r"\bdeadline--late\b"))
        expect(left).to_contain_text(f"passed {-expected.days_left} day")
    elif expected.days_left == 0:
        expect(left).to_have_text("Due today.")
    else:
        s = "" if expected.days_left == 1 else "s"
        expect(left).to_have_text(f"{expected.days_left} day{s} left.")


def _year_with_open_activities(live, code: str, years: list[int]) -> tuple[int, int] | None:
    for year in years:
        _, c = live.checklist(code, year)
        activities = next(s for s in c.steps if s.key == "activities")
        if activities.left:
            return year, activities.left
    return None


def test_activities_step_leads_to_the_ended_and_not_closed_list(page, live):
    # Whatever today is, some year of DEMO or WEST has activities that ended and are open.
    for email, code in (("demo@example.org", "DEMO"), ("west@example.org", "WEST")):
        sign_in(page, email)
        default_year = int(page.locator("#year").input_value())
        years = [
            int(v)
            for v in page.locator("#year option").evaluate_all("opts => opts.map(o => o.value)")
        ]
        # Prefer a year other than the one shown, so the year switch is exercised too.
        found = _year_with_open_activities(
            live, code, sorted(years, key=lambda y: (y == default_year, -y))
        )
        if found:
            break
        page.context.clear_cookies()
    else:
        pytest.fail("the demo data should leave some ended activities open in some year")
    year, left = found

    if year == default_year:  # switch away and back: the select submits itself on change
        other = next(y for y in years if y != year)
        page.locator("#year").select_option(str(other))
        page.wait_for_url(re.compile(rf"/\?year={other}$"))
        expect(page.locator("h1")).to_have_text(f"Annual reporting {other}")
    page.locator("#year").select_option(str(year))
    page.wait_for_url(re.compile(rf"/\?year={year}$"))
    expect(page.locator("h1")).to_have_text(f"Annual reporting {year}")

    action = page.locator("#step-activities a.step__action")
    noun = "activity" if left == 1 else "activities"
    expect(action).to_have_text(f"Close the {left} open {noun}")
    action.click()
    page.wait_for_url(re.compile(r"/activities\?"))
    assert f"year={year}" in page.url and "view=ended_open" in page.url
    table = page.locator("#activities-table")
    expect(table).to_contain_text("Ended in the year and not closed")
    expect(page.locator("#f-view")).to_have_value("ended_open")
    expect(page.locator("#result-count")).to_have_text(re.compile(rf"of {left:,}$"))
    expect(table.locator("tbody tr")).to_have_count(min(left, 50))
    # Every row listed is open: none shows the Closed badge.
    expect(table.locator("tbody .badge--closed")).to_have_count(0)


def test_dashboard_has_no_console_errors_or_csp_violations(demo_page, console):
    page = demo_page
    # Exercise the scripts a little: switch the year (app.js autosubmit), then come back.
    other = page.locator("#year option:not([selected])").first.get_attribute("value")
    page.locator("#year").select_option(other)
    page.wait_for_url(re.compile(rf"year={other}"))
    page.go_back()
    page.wait_for_load_state("load")
    expect(page.locator("#checklist li.step")).to_have_count(5)
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"
    assert page.evaluate("window.__cspViolations") == []
    assert console.errors == []


def test_keyboard_reaches_skip_link_year_select_and_step_links(demo_page):
    page = demo_page
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_class("skip-link")
    expect(focused).to_be_in_viewport()  # hidden off-screen until it has focus

    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    wanted = set(page.locator("a.step__action").evaluate_all("els => els.map(e => e.href)"))
    reached_year, reached_links = False, set()
    for _ in range(30):
        page.keyboard.press("Tab")
        info = page.evaluate(
            "() => ({id: document.activeElement.id, href: document.activeElement.href || ''})"
        )
        reached_year = reached_year or info["id"] == "year"
        if info["href"] in wanted:
            reached_links.add(info["href"])
        if reached_year and reached_links == wanted:
            break
    assert reached_year, "the year select is not reachable with Tab"
    assert reached_links == wanted, "some step links are not reachable with Tab"

    # The select works from the keyboard too. Arrowing through the years does not leave the
    # page at each step (Chromium fires `change` on every arrow key); Enter shows the year.
    select = page.locator("#year")
    select.focus()
    before = select.input_value()
    url = page.url
    page.keyboard.press("ArrowDown")
    chosen = select.input_value()
    assert chosen != before
    page.wait_for_timeout(300)
    assert page.url == url, "an arrow key navigated away"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"\?year={chosen}$"))
    expect(page.locator("h1")).to_have_text(f"Annual reporting {chosen}")
    expect(page.locator("#year")).to_have_value(chosen)


def test_printable_checklist_has_no_chrome_and_names_provider_and_deadline(
    demo_page, live, console
):
    page = demo_page
    year, expected = live.checklist("DEMO")
    page.get_by_role("link", name="Printable checklist").click()
    page.wait_for_url(f"**/checklist/{year}/print")
    expect(page.locator("nav")).to_have_count(0)
    expect(page.locator(".site-header, .site-footer")).to_have_count(0)
    heading = page.locator("h1")
    expect(heading).to_contain_text("Lakeside University School of Medicine")
    expect(heading).to_contain_text(str(year))
    expect(page.locator(".print-head")).to_contain_text(f"Deadline: {central(expected.deadline)}")
    expect(page.locator(".print-steps tbody tr")).to_have_count(5)
    expect(page.locator(".print-head")).to_contain_text(f"{expected.done_count} of 5 steps done")
    assert console.errors == []

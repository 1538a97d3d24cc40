"""The activities list: search as you type, sort, paginate and go back — all through htmx."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

SEARCH = "demo-2025"  # DEMO's 2025 activities: more than one page of 50
DASH = "\u2013"  # the en dash in the result count, "1-50 of 140"
NEXT = "Next \u203a"


def _expected_total(live, q: str) -> int:
    from pars_app.extensions import db
    from pars_app.models import Provider
    from pars_app.services import activity_list, clock

    def run():
        provider = db.session.scalar(db.select(Provider).where(Provider.code == "DEMO"))
        f = activity_list.parse_filter({"q": q})
        return activity_list.list_activities(provider.id, f, clock.today()).total

    return live.query(run)


def _shown_ids(page) -> list[str]:
    return page.locator("#activities-table tbody tr td:first-child").all_inner_texts()


def _ids_for(page, url: str) -> list[str]:
    """What the server lists for `url` (same session): the truth the screen must match."""
    html = page.request.get(url, headers={"HX-Request": "true"}).text()
    return re.findall(r'<a href="/activities/\d+">([^<]+)</a>', html)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_search_sort_paginate_and_back(demo_page, live, console):
    page = demo_page
    page.goto("/activities")  # every year (the nav link keeps the dashboard's year)
    page.evaluate("window.__marker = 'still the same page'")
    total = _expected_total(live, SEARCH)
    assert total > 50, "the search must match more than one page"

    # Type into the search box: htmx swaps the table and pushes the URL (debounced).
    page.locator("#q").press_sequentially(SEARCH)
    page.wait_for_url(lambda url: _query(url).get("q") == [SEARCH])
    expect(page.locator("#result-count")).to_have_text(f"1{DASH}50 of {total:,}")
    assert page.evaluate("window.__marker") == "still the same page", "a full page load happened"
    assert "year=" not in page.url, "empty filters should stay out of the URL"
    searched_url = page.url
    assert all(i.lower().startswith(SEARCH) for i in _shown_ids(page))

    # Sort by title (first click: descending) by clicking its column header.
    page.locator("#activities-table th a", has_text="Title").click()
    page.wait_for_url(lambda url: _query(url).get("sort") == ["title"])
    sorted_url = page.url
    assert _query(sorted_url).get("q") == [SEARCH], "sorting kept the search"
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    titles = page.locator("#activities-table tbody tr td:nth-child(2)").all_inner_texts()
    assert titles == sorted(titles, reverse=True)
    first_page = _shown_ids(page)
    assert first_page == _ids_for(page, sorted_url)

    # Next page.
    page.get_by_role("link", name=NEXT).click()
    page.wait_for_url(lambda url: _query(url).get("page") == ["2"])
    expect(page.locator("#result-count")).to_have_text(f"51{DASH}{min(100, total)} of {total:,}")
    assert _query(page.url).get("sort") == ["title"] and _query(page.url).get("q") == [SEARCH]
    assert _shown_ids(page) == _ids_for(page, page.url)
    assert set(_shown_ids(page)).isdisjoint(first_page)
    assert page.evaluate("window.__marker") == "still the same page"

    # Back: the previous view, table and form alike.
    page.go_back()
    page.wait_for_url(sorted_url)
    expect(page.locator("#result-count")).to_have_text(f"1{DASH}50 of {total:,}")
    assert _shown_ids(page) == first_page
    expect(page.locator("#q")).to_have_value(SEARCH)
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")

    # Back again: the search alone (leaving the search box added no extra history entry).
    page.go_back()
    page.wait_for_url(searched_url)
    expect(page.locator("th[aria-sort]")).to_contain_text("Start")
    assert _shown_ids(page) == _ids_for(page, searched_url)
    expect(page.locator("#q")).to_have_value(SEARCH)
    assert page.evaluate("window.__marker") == "still the same page"
    assert console.errors == []


def test_sorting_then_searching_keeps_the_sort(demo_page):
    page = demo_page
    page.goto("/activities")
    page.locator("#activities-table th a", has_text="Provider Activity ID").click()
    page.wait_for_url(lambda url: _query(url).get("sort") == ["id"])
    page.locator("#q").press_sequentially("demo-2026")
    page.wait_for_url(lambda url: _query(url).get("q") == ["demo-2026"])
    assert _query(page.url).get("sort") == ["id"], "the search dropped the chosen sort"
    expect(page.locator("th[aria-sort]")).to_contain_text("Provider Activity ID")
    ids = page.locator("#activities-table tbody tr td:first-child").all_inner_texts()
    assert ids == sorted(ids, reverse=True)

"""Exporting the list from the keyboard: filter, Tab to "Export to Excel", Enter, get the file."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from pars_app.io import read_file

SEARCH = "demo-2025"  # more than one page of 50: the export must hold every page


def _expected_ids(live, q: str) -> list[str]:
    from pars_app.extensions import db
    from pars_app.models import Provider
    from pars_app.services import activity_list, clock

    def run():
        provider = db.session.scalar(db.select(Provider).where(Provider.code == "DEMO"))
        f = activity_list.parse_filter({"q": q})
        stmt = activity_list.filtered_select(provider.id, f, clock.today())
        return sorted(a.provider_activity_id for a in db.session.scalars(stmt))

    return live.query(run)


def _tab_to(page, element_id: str, limit: int = 100) -> None:
    """Tab until `element_id` has focus: proves it is in the tab order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_the_filtered_list_exports_from_the_keyboard(demo_page, live, console):
    page = demo_page
    page.goto("/activities")
    page.locator("#q").press_sequentially(SEARCH)
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("q") == [SEARCH])
    link = page.locator("#export-xlsx")
    expect(link).to_have_attribute("href", f"/exports/activities.xlsx?q={SEARCH}")

    page.locator("#q").focus()
    _tab_to(page, "export-xlsx")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    download = info.value
    assert download.suggested_filename == "activities-DEMO.xlsx"
    with open(download.path(), "rb") as fh:
        rows = list(read_file("activities-DEMO.xlsx", fh.read()).rows)
    expected = _expected_ids(live, SEARCH)
    assert len(expected) > 50
    assert sorted(r.values["provider_activity_id"] for r in rows) == expected
    assert console.errors == []

"""Inline learner counts and closing, in a real browser on a fresh demo database per test:
edit a count like a spreadsheet, meet a stale edit, bulk close a mixed selection, select all
matching across pages, and undo."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

ENDED_OPEN = "/activities?view=ended_open&sort=id&dir=asc"


def _demo(live, fn):
    """Run `fn(provider_id, today)` against the server's database."""
    from pars_app.extensions import db
    from pars_app.models import Provider
    from pars_app.services import clock

    def run():
        provider = db.session.scalar(db.select(Provider).where(Provider.code == "DEMO"))
        return fn(provider.id, clock.today())

    return live.query(run)


def _activity(live, activity_id: int):
    from pars_app.extensions import db
    from pars_app.models import Activity

    def run():
        a = db.session.get(Activity, activity_id)
        return a.physician_learners, a.other_learners, a.closed_at

    return live.query(run)


def _listed(live, args: dict) -> list[tuple[int, str, bool]]:
    """(id, Provider Activity ID, closable now) of every activity a list filter matches."""
    from pars_app.extensions import db
    from pars_app.models import Activity
    from pars_app.services import activity_list

    def run(pid, today):
        f = activity_list.parse_filter(args)
        closable = (Activity.completeness == "closable") & (Activity.end_date < today)
        rows = db.session.execute(
            db.select(
                Activity.id, Activity.provider_activity_id, closable, Activity.closed_at
            ).where(*activity_list.conditions(pid, f, today))
        ).all()
        return [(i, pid_, bool(ok) and closed is None) for i, pid_, ok, closed in rows]

    return _demo(live, run)


# Chromium logs every 4xx answer as a console error; 409 and 422 are answers meant for the user.
EXPECTED = re.compile(r"Failed to load resource: .* status of (409|422) ")


def _no_errors(page, console) -> None:
    assert page.evaluate("window.__cspViolations") == []
    assert [e for e in console.errors if not EXPECTED.search(e)] == []


def _count_link(row, field: str):
    name = "Physician learners" if field == "physicians" else "Other learners"
    return row.get_by_role("link", name=re.compile(rf"^{name} of "))


def test_inline_counts_save_with_enter_move_down_and_persist(fresh_page, fresh_live, console):
    page = fresh_page
    page.goto(ENDED_OPEN)
    rows = page.locator("#activities-table tbody tr").filter(has=page.locator("a.count-link"))
    editable = [r.get_attribute("id") for r in rows.all()]
    missing = [r.get_attribute("id") for r in rows.filter(has=page.locator(".to-fix")).all()]
    # A row whose learner counts are missing, and the next editable row after it.
    start = next((i for i, rid in enumerate(editable[:-1]) if rid in missing), None)
    assert start is not None, "the demo should leave ended activities without learner counts"
    # By id: a row being edited has no count link, so the filter above would move on.
    first, second = (page.locator("#" + editable[i]) for i in (start, start + 1))
    first_id = int(editable[start].removeprefix("activity-"))
    expect(first.locator(".to-fix")).to_have_text("2 to fix")
    before_second = second.locator("td.counts").inner_text()

    _count_link(first, "physicians").click()
    physicians = first.get_by_label(re.compile(r"^Physician learners of "))
    expect(physicians).to_be_focused()
    physicians.fill("1,234")
    page.keyboard.press("Tab")
    expect(first.get_by_label(re.compile(r"^Other learners of "))).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("56")
    page.keyboard.press("Enter")

    expect(_count_link(first, "physicians")).to_contain_text("1,234")
    expect(_count_link(first, "others")).to_contain_text("56")
    expect(page.locator("#announcer")).to_contain_text("Saved the learner counts of")
    # The row's status came along out of band: nothing is left to fix.
    expect(first.locator("td.status")).to_have_text("Ready to Close")
    # Like a spreadsheet: focus is on the same count of the next row.
    expect(_count_link(second, "others")).to_be_focused()

    # Enter opens that cell; Esc puts back what is stored and keeps the place.
    page.keyboard.press("Enter")
    others = second.get_by_label(re.compile(r"^Other learners of "))
    expect(others).to_be_focused()
    others.fill("999")
    page.keyboard.press("Escape")
    expect(_count_link(second, "others")).to_be_focused()
    assert second.locator("td.counts").inner_text() == before_second

    page.reload()
    row = page.locator(f"#activity-{first_id}")
    expect(_count_link(row, "physicians")).to_contain_text("1,234")
    expect(_count_link(row, "others")).to_contain_text("56")
    assert _activity(fresh_live, first_id)[:2] == (1234, 56)
    _no_errors(page, console)


def test_bad_value_and_a_stale_edit_in_a_second_tab(fresh_page, fresh_live, console):
    page = fresh_page
    page.goto(ENDED_OPEN)
    rows = page.locator("#activities-table tbody tr").filter(has=page.locator("a.count-link"))
    row = page.locator("#" + rows.first.get_attribute("id"))
    activity_id = int(row.get_attribute("id").removeprefix("activity-"))
    stored = _activity(fresh_live, activity_id)[:2]

    _count_link(row, "physicians").click()
    field = row.get_by_label(re.compile(r"^Physician learners of "))
    expect(field).to_be_focused()  # htmx has processed the swapped-in form
    field.fill("-4")
    page.keyboard.press("Enter")
    expect(row.locator(".error")).to_have_text("Enter 0 or more, not a negative number.")
    expect(field).to_have_attribute("aria-invalid", "true")

    # A second tab opens the same counts, and saves first.
    other = page.context.new_page()
    other.goto(ENDED_OPEN)
    other_row = other.locator(f"#activity-{activity_id}")
    _count_link(other_row, "physicians").click()
    other_field = other_row.get_by_label(re.compile(r"^Physician learners of "))
    expect(other_field).to_be_focused()
    other_field.fill("11")
    other.keyboard.press("Enter")
    expect(_count_link(other_row, "physicians")).to_contain_text("11")

    # The first tab still holds the version it opened: its save is refused, nothing lost.
    expect(field).to_be_focused()
    field.fill("22")
    page.keyboard.press("Enter")
    alert = row.get_by_role("alert")
    expect(alert).to_contain_text("Changed by demo@example.org at")
    expect(alert).to_contain_text("— reload")
    expect(alert).to_contain_text("you typed 22")
    expect(row.get_by_label(re.compile(r"^Physician learners of "))).to_have_value("11")
    assert _activity(fresh_live, activity_id)[:2] == (11, stored[1])
    other.close()
    _no_errors(page, console)


def test_bulk_close_of_a_mixed_selection_then_undo(fresh_page, fresh_live, console):
    page = fresh_page
    listed = _listed(fresh_live, {"view": "ended_open"})
    closable = {pid for _, pid, ok in listed if ok}
    blocked = {pid for _, pid, ok in listed if not ok}
    if not closable or not blocked or len(listed) > 50:
        pytest.fail(f"the demo should leave a mixed page of ended, open activities: {listed}")
    page.goto(ENDED_OPEN)
    page.get_by_label("Select every activity on this page").check()
    expect(page.locator("#bulk-status")).to_have_text(
        f"All {len(listed)} on this page are selected."
    )
    page.get_by_role("button", name="Close selected").click()

    result = page.locator("#bulk-result")
    expect(result).to_contain_text(f"Closed {len(closable)} activities.")
    expect(result).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text(f"Closed {len(closable)} activities.")
    refused = result.locator("#bulk-refused > li")
    expect(refused).to_have_count(len(blocked))
    names = {li.locator("a").first.inner_text() for li in refused.all()}
    assert names == blocked
    assert all(li.locator("li").count() >= 1 for li in refused.all()), "each names its reasons"
    expect(result).to_contain_text("Enter the number of physician learners (0 if none).")
    # The list re-fetched itself: only the refused ones are left open.
    expect(page.locator("#activities-table tbody tr")).to_have_count(len(blocked))
    closed_ids = [i for i, pid, ok in listed if ok]
    assert all(_activity(fresh_live, i)[2] is not None for i in closed_ids)

    page.get_by_role("button", name=re.compile(r"^Undo: reopen")).click()
    expect(result).to_contain_text(f"Reopened {len(closable)} activities")
    expect(page.locator("#activities-table tbody tr")).to_have_count(len(listed))
    assert all(_activity(fresh_live, i)[2] is None for i in closed_ids)
    _no_errors(page, console)


def test_select_all_matching_closes_across_pages(fresh_page, fresh_live, console):
    page = fresh_page
    args = {"year": "2026", "per_page": "25"}
    listed = _listed(fresh_live, args)
    page.goto("/activities?year=2026&per_page=25")
    on_page = set(page.locator("#activities-table tbody tr td:first-child").all_inner_texts())
    beyond = {pid for _, pid, ok in listed if ok and pid not in on_page}
    assert len(listed) > 25 and beyond, "some closable activities must be on later pages"

    page.get_by_label("Select every activity on this page").check()
    select_all = page.get_by_role("button", name=f"Select all {len(listed)} matching this filter")
    select_all.click()
    expect(page.locator("#bulk-status")).to_have_text(
        f"All {len(listed)} activities matching this filter are selected."
    )
    expect(page.get_by_role("button", name="Close selected")).to_be_focused()
    with page.expect_request(lambda r: r.url.endswith("/activities/bulk/close")) as sent:
        page.keyboard.press("Enter")
    posted = parse_qs(sent.value.post_data)
    assert posted["scope"] == ["matching"] and posted["year"] == ["2026"]
    assert "ids" not in posted, "the filter is sent, not the ids of this page"

    closable = [i for i, _, ok in listed if ok]
    expect(page.locator("#bulk-result")).to_contain_text(f"Closed {len(closable)} activities.")
    assert all(_activity(fresh_live, i)[2] is not None for i in closable)
    # Unticking one row after "select all" falls back to the ticked rows only.
    page.get_by_label("Select every activity on this page").check()
    page.get_by_role("button", name=re.compile(r"^Select all \d+ matching")).click()
    page.locator('#activities-table tbody input[name="ids"]').first.uncheck()
    expect(page.locator("#bulk-status")).to_have_text("24 selected.")
    _no_errors(page, console)


def test_close_and_reopen_from_the_detail_page(fresh_page, fresh_live, console):
    page = fresh_page
    listed = _listed(fresh_live, {"view": "closable"})
    activity_id = listed[0][0]
    page.goto(f"/activities/{activity_id}")
    page.get_by_role("button", name="Close activity").click()
    expect(page.locator("#flash")).to_contain_text("closed.")
    expect(page.locator(".closed-banner")).to_contain_text("by demo@example.org")
    page.get_by_role("button", name="Reopen to edit").click()
    expect(page.locator("#flash")).to_contain_text("reopened")
    expect(page.get_by_role("button", name="Close activity")).to_be_visible()
    assert _activity(fresh_live, activity_id)[2] is None
    _no_errors(page, console)

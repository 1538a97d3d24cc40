"""The activities area with the keyboard alone (issue 3, point 8).

After the first `page.goto` every test moves only with keys a keyboard user has — Tab,
Shift+Tab, Enter, Space, Escape, arrows (End and Ctrl+A inside a text field) — and types values.
It asserts what such a user notices: where focus lands (never back on <body> after an htmx
swap), that it is visibly ringed and not covered, what got saved, and what the aria-live regions
read out. Signing in (the fixtures) is not part of that.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

DASH = "\u2013"
ENDED_OPEN = "/activities?view=ended_open&sort=id&dir=asc"
# Chromium logs every 4xx answer as a console error; 409 and 422 are answers meant for the user.
EXPECTED = re.compile(r"Failed to load resource: .* status of (409|422) ")

# What a sighted keyboard user needs of the focused element: it is not <body>; it is on screen,
# not hidden under something else (a sticky table header); and it shows a focus ring.
FOCUS_PROBLEM = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "focus is on <body>";
  const what = el.outerHTML.slice(0, 120);
  const box = el.getBoundingClientRect();
  if (box.width < 4 || box.height < 4) return "the focused element is not visible: " + what;
  const left = Math.max(box.left, 0), right = Math.min(box.right, innerWidth);
  const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, innerHeight);
  if (right - left < 2 || bottom - top < 2) return "the focused element is off screen: " + what;
  const seen = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
  if (!seen || !(el.contains(seen) || seen.contains(el) || (seen.control === el)))
    return "the focused element is covered by " + (seen ? seen.outerHTML.slice(0, 80) : "?") +
      ": " + what;
  const style = getComputedStyle(el);
  if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2)
    return "no focus ring on " + what;
  return "";
}"""
STOP = (
    """(selector) => {
  const el = document.activeElement;
  const where = el ? el.tagName + "#" + el.id + " " + (el.textContent || "").trim().slice(0, 30)
    : "";
  return [!!el && el.matches(selector), ("""
    + FOCUS_PROBLEM
    + """)(), where];
}"""
)


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has wired what it swapped in.

    htmx processes new content in its settle step, 20 ms after the swap: a key pressed on a
    swapped-in form before then submits it natively (a whole-page POST). A person is never
    that fast; a test under load can be, right after an expect() saw the new content.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, "
        ".htmx-added')"
    )


def focus_is_visible(page) -> None:
    problem = page.evaluate(FOCUS_PROBLEM)
    assert problem == "", problem


def tab_to(page, selector: str, *, back: bool = False, limit: int = 200) -> None:
    """Press Tab (or Shift+Tab) until focus is on `selector`: proves it is in the tab order, and
    that every stop on the way shows where focus is."""
    key = "Shift+Tab" if back else "Tab"
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        found, problem, where = page.evaluate(STOP, selector)
        assert problem == "", f"after {key} from {seen[-1:]}: {problem}"
        if found:
            return
        seen.append(where)
    raise AssertionError(f"{key} never reached {selector}; last stops: {seen[-8:]}")


# The accessible name of the focused control, as far as these pages need it (aria-label,
# aria-labelledby, <label>, a link's or button's text), and what is wrong with its role.
NAME_AND_ROLE = """() => {
  const el = document.activeElement;
  const t = (s) => (s || "").replace(/\\s+/g, " ").trim();
  let name = t(el.getAttribute("aria-label"));
  const by = el.getAttribute("aria-labelledby");
  if (!name && by) name = t(by.split(/\\s+/).map((id) => {
    const ref = document.getElementById(id); return ref ? ref.textContent : ""; }).join(" "));
  if (!name && el.labels && el.labels.length)
    name = t(Array.from(el.labels).map((l) => l.textContent).join(" "));
  if (!name && el.matches("a, button")) name = t(el.textContent);
  if (!name) name = t(el.title);
  let role = "";
  if (el.tagName === "A" && !el.hasAttribute("href")) role = "a link without href is tabbable";
  if (el.getAttribute("aria-hidden") === "true") role = "an aria-hidden control is tabbable";
  return [name, role, el.outerHTML.slice(0, 120)];
}"""


def tab_through(page, limit: int = 400) -> list[str]:
    """Tab from the top of the page to its end; every stop must show its focus ring, not be
    covered, and have a name. Returns the names in tab order."""
    names: list[str] = []
    first = None
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement === document.body"):
            break  # past the last control
        focus_is_visible(page)
        name, role_problem, what = page.evaluate(NAME_AND_ROLE)
        assert name, f"a control without a name: {what}"
        assert not role_problem, f"{role_problem}: {what}"
        if what == first:
            break  # wrapped around
        first = first or what
        names.append(name)
    else:
        raise AssertionError(f"Tab never reached the end of the page: {names[-5:]}")
    return names


def select_all_and_type(page, text: str) -> None:
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _no_errors(page, console) -> None:
    assert page.evaluate("window.__cspViolations") == []
    assert [e for e in console.errors if not EXPECTED.search(e)] == []


def _demo(live, fn):
    """Run `fn(provider_id, today)` against the server's database."""
    from pars_app.extensions import db
    from pars_app.models import Provider
    from pars_app.services import clock

    def run():
        provider = db.session.scalar(db.select(Provider).where(Provider.code == "DEMO"))
        return fn(provider.id, clock.today())

    return live.query(run)


def _total(live, args: dict) -> int:
    from pars_app.services import activity_list

    def run(pid, today):
        return activity_list.list_activities(pid, activity_list.parse_filter(args), today).total

    return _demo(live, run)


def _listed(live, args: dict) -> list[tuple[int, str, bool, str]]:
    """(id, Provider Activity ID, closable now, format) of every activity a list filter matches."""
    from pars_app.extensions import db
    from pars_app.models import Activity
    from pars_app.services import activity_list

    def run(pid, today):
        f = activity_list.parse_filter(args)
        closable = (Activity.completeness == "closable") & (Activity.end_date < today)
        rows = db.session.execute(
            db.select(
                Activity.id, Activity.provider_activity_id, closable, Activity.closed_at,
                Activity.format,
            ).where(*activity_list.conditions(pid, f, today)).order_by(Activity.id)
        ).all()  # fmt: skip
        return [(i, p, bool(ok) and closed is None, fmt) for i, p, ok, closed, fmt in rows]

    return _demo(live, run)


def _activity(live, activity_id: int):
    from pars_app.extensions import db
    from pars_app.models import Activity

    def run():
        a = db.session.get(Activity, activity_id)
        return a.physician_learners, a.other_learners, a.closed_at

    return live.query(run)


# --- The list: filters, search, sorting, page size, pagination ------------------------------------


def test_list_search_filters_sorting_and_paging_by_keyboard(demo_page, live, console):
    page = demo_page
    page.goto("/activities")
    total = _total(live, {"q": "demo-2025"})
    assert total > 50, "the search must match several pages"
    announcer = page.locator("#announcer")

    # Search as you type: the table follows, focus stays in the box, the count is read out.
    tab_to(page, "#q")
    page.keyboard.type("demo-2025")
    page.wait_for_url(lambda url: _query(url).get("q") == ["demo-2025"])
    expect(page.locator("#result-count")).to_have_text(f"1{DASH}50 of {total:,}")
    expect(announcer).to_have_text(f"1{DASH}50 of {total:,}")
    expect(page.locator("#q")).to_be_focused()

    # Page size: an arrow key on the select (50 -> 25); focus stays on it.
    tab_to(page, "#f-per-page")
    page.keyboard.press("ArrowUp")
    page.wait_for_url(lambda url: _query(url).get("per_page") == ["25"])
    expect(announcer).to_have_text(f"1{DASH}25 of {total:,}")
    expect(page.get_by_label("Per page")).to_be_focused()

    # A filter select: the first format, then back to all of them.
    tab_to(page, "#f-format", back=True)
    page.keyboard.press("ArrowDown")
    page.wait_for_url(lambda url: _query(url).get("format") == ["C"])
    courses = _total(live, {"q": "demo-2025", "format": "C"})
    expect(announcer).to_have_text(f"1{DASH}{min(25, courses)} of {courses:,}")
    formats = page.locator("#activities-table tbody td:nth-child(3)").all_inner_texts()
    assert formats and set(formats) == {"C"}
    expect(page.get_by_label("Format")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.wait_for_url(lambda url: "format" not in _query(url))
    expect(announcer).to_have_text(f"1{DASH}25 of {total:,}")

    # A column header sorts on Enter, and keeps focus through the table swap, so Enter again
    # reverses the order. Its name says what Enter will do.
    tab_to(page, "#sort-title")
    expect(page.get_by_role("link", name="Title (sort descending)")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: _query(url).get("sort") == ["title"])
    expect(page.get_by_role("link", name="Title (sort ascending)")).to_be_focused()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    focus_is_visible(page)
    titles = page.locator("#activities-table tbody td:nth-child(2)").all_inner_texts()
    assert titles == sorted(titles, reverse=True)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: _query(url).get("dir") == ["asc"])
    expect(page.get_by_role("link", name="Title (sort descending)")).to_be_focused()
    titles = page.locator("#activities-table tbody td:nth-child(2)").all_inner_texts()
    assert titles == sorted(titles)

    # Pagination: Enter on Next stays on Next; back on page 1, Previous is gone and focus goes
    # to Next rather than to the top of the page.
    tab_to(page, 'a[rel="next"]')
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: _query(url).get("page") == ["2"])
    expect(announcer).to_have_text(f"26{DASH}50 of {total:,}")
    expect(page.get_by_role("link", name="Next \u203a")).to_be_focused()
    focus_is_visible(page)
    assert _query(page.url).get("sort") == ["title"], "paging kept the sort"
    tab_to(page, 'a[rel="prev"]', back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "page" not in _query(url))
    expect(announcer).to_have_text(f"1{DASH}25 of {total:,}")
    expect(page.get_by_role("link", name="Next \u203a")).to_be_focused()
    focus_is_visible(page)
    # Back up through every row: the table scrolls in its box under a sticky header, which must
    # never cover the control that has focus (tab_to checks each stop).
    tab_to(page, "#select-page", back=True)
    _no_errors(page, console)


# --- Bulk selection, bulk close and its undo ------------------------------------------------------


def test_bulk_close_and_undo_by_keyboard(fresh_page, fresh_live, console):
    page = fresh_page
    listed = _listed(fresh_live, {"view": "ended_open"})
    closable = [i for i, _, ok, _ in listed if ok]
    blocked = {pid for _, pid, ok, _ in listed if not ok}
    if not closable or not blocked or len(listed) > 50:
        pytest.fail(f"the demo should leave a mixed page of ended, open activities: {listed}")
    page.goto(ENDED_OPEN)
    status = page.get_by_role("status").filter(has_text="selected")

    tab_to(page, "#select-page")
    expect(page.get_by_label("Select every activity on this page")).to_be_focused()
    page.keyboard.press("Space")
    expect(status).to_have_text(f"All {len(listed)} on this page are selected.")
    # The Close button sits just before the header checkbox.
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Close selected")).to_be_focused()
    focus_is_visible(page)
    page.keyboard.press("Enter")

    # The result takes focus and is read out; its links and Undo follow in tab order.
    result = page.locator("#bulk-result")
    expect(result).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text(f"Closed {len(closable)} activities.")
    focus_is_visible(page)
    expect(page.locator("#activities-table tbody tr")).to_have_count(len(blocked))
    page.keyboard.press("Tab")
    first_refused = result.locator("#bulk-refused > li a").first
    expect(first_refused).to_be_focused()
    assert first_refused.inner_text() in blocked
    tab_to(page, "#undo-bulk-close")
    page.keyboard.press("Enter")
    expect(result).to_contain_text(f"Reopened {len(closable)} activities")
    expect(result).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text(f"Reopened {len(closable)} activities.")
    expect(page.locator("#activities-table tbody tr")).to_have_count(len(listed))
    assert all(_activity(fresh_live, i)[2] is None for i in closable)
    _no_errors(page, console)


def test_select_all_matching_and_clear_by_keyboard(demo_page, live, console):
    page = demo_page
    total = _total(live, {"year": "2026"})
    assert total > 25, "the filter must match more than one page"
    page.goto("/activities?year=2026&per_page=25")
    status = page.locator("#bulk-status")
    expect(status).to_have_attribute("role", "status")

    # Close with nothing selected: the refusal takes focus and is read out; nothing changes.
    tab_to(page, "#close-selected")
    page.keyboard.press("Enter")
    expect(page.locator("#bulk-result")).to_be_focused()
    expect(page.locator("#bulk-result").get_by_role("alert")).to_have_text(
        "Select at least one activity to close."
    )
    expect(page.locator("#announcer")).to_have_text("Select at least one activity to close.")

    tab_to(page, "#select-page")
    page.keyboard.press("Space")
    expect(status).to_have_text("All 25 on this page are selected.")
    # "Select all N matching" appears in the bar just above; Shift+Tab reaches it.
    tab_to(page, "#select-matching", back=True)
    expect(
        page.get_by_role("button", name=f"Select all {total:,} matching this filter")
    ).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text(f"All {total:,} activities matching this filter are selected.")
    # The button pressed is hidden now: focus goes to what comes next, Close selected.
    expect(page.get_by_role("button", name="Close selected")).to_be_focused()
    focus_is_visible(page)

    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Clear selection")).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text("No activities selected.")
    expect(page.get_by_label("Select every activity on this page")).to_be_focused()
    # One row by Space: its checkbox is the next stop after the header links.
    tab_to(page, '#activities-table tbody input[name="ids"]')
    page.keyboard.press("Space")
    expect(status).to_have_text("1 selected.")
    _no_errors(page, console)


# --- Inline learner counts ------------------------------------------------------------------------


def _missing_counts_rows(page) -> tuple[str, str]:
    """Ids of a list row missing both learner counts and of the next editable row after it."""
    rows = page.locator("#activities-table tbody tr").filter(has=page.locator("a.count-link"))
    editable = [r.get_attribute("id") for r in rows.all()]
    missing = {
        r.get_attribute("id")
        for r in rows.filter(has=page.locator(".to-fix", has_text="2 to fix")).all()
    }
    start = next((i for i, rid in enumerate(editable[:-1]) if rid in missing), None)
    assert start is not None, "the demo should leave ended activities without learner counts"
    return editable[start], editable[start + 1]


def test_inline_counts_by_keyboard(fresh_page, fresh_live, console):
    page = fresh_page
    page.goto(ENDED_OPEN)
    first_id, second_id = _missing_counts_rows(page)
    first, second = page.locator("#" + first_id), page.locator("#" + second_id)
    activity_id = int(first_id.removeprefix("activity-"))
    before_second = second.locator("td.counts").inner_text()
    announcer = page.locator("#announcer")

    # Enter on a count opens the editor on that count.
    tab_to(page, f"#{first_id} a.count-link[data-field=physicians]")
    page.keyboard.press("Enter")
    physicians = first.get_by_label(re.compile(r"^Physician learners of "))
    expect(physicians).to_be_focused()
    focus_is_visible(page)

    # A bad value (422): the message is shown, tied to the field, and read out.
    page.keyboard.type("-4")
    page.keyboard.press("Enter")
    message = "Enter 0 or more, not a negative number."
    expect(first.locator(".error")).to_have_text(message)
    expect(physicians).to_have_attribute("aria-invalid", "true")
    expect(physicians).to_have_accessible_description(re.compile(re.escape(message)))
    expect(announcer).to_have_text(f"Not saved. {message}")
    expect(physicians).to_be_focused()

    # Fix it, Tab across to the other count, Enter saves: read out, and focus moves to the
    # same count of the next row, like a spreadsheet.
    select_all_and_type(page, "1234")
    page.keyboard.press("Tab")
    expect(first.get_by_label(re.compile(r"^Other learners of "))).to_be_focused()
    page.keyboard.type("56")
    page.keyboard.press("Enter")
    expect(announcer).to_contain_text("Saved the learner counts of")
    expect(announcer).to_contain_text("1,234 physicians, 56 other learners.")
    others_link = second.locator("a.count-link[data-field=others]")
    expect(others_link).to_be_focused()
    focus_is_visible(page)
    assert _activity(fresh_live, activity_id)[:2] == (1234, 56)

    # Tab moves across the counts of a row without opening them.
    page.keyboard.press("Shift+Tab")
    expect(second.locator("a.count-link[data-field=physicians]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(others_link).to_be_focused()

    # Esc cancels: what is stored comes back and focus returns to the count.
    page.keyboard.press("Enter")
    others = second.get_by_label(re.compile(r"^Other learners of "))
    expect(others).to_be_focused()
    page.keyboard.type("999")
    page.keyboard.press("Escape")
    expect(others_link).to_be_focused()
    assert second.locator("td.counts").inner_text() == before_second

    # The editor's own buttons: Tab to Cancel, Enter, and focus is back on the count too.
    page.keyboard.press("Enter")
    expect(others).to_be_focused()
    tab_to(page, f"#{second_id} [data-cancel]")
    page.keyboard.press("Enter")
    expect(second.locator("a.count-link[data-field=physicians]")).to_be_focused()
    focus_is_visible(page)
    _no_errors(page, console)


def test_a_stale_inline_edit_is_announced_and_tied_to_the_field(fresh_page, fresh_live, console):
    page = fresh_page
    page.goto(ENDED_OPEN)
    first_id, _ = _missing_counts_rows(page)
    row = page.locator("#" + first_id)
    activity_id = int(first_id.removeprefix("activity-"))
    tab_to(page, f"#{first_id} a.count-link[data-field=physicians]")
    page.keyboard.press("Enter")
    field = row.get_by_label(re.compile(r"^Physician learners of "))
    expect(field).to_be_focused()

    # Meanwhile a second tab saves the same counts, by keyboard as well.
    other = page.context.new_page()
    other.goto(ENDED_OPEN)
    tab_to(other, f"#{first_id} a.count-link[data-field=physicians]")
    other.keyboard.press("Enter")
    expect(other.locator(f"#{first_id} input[name=physicians]")).to_be_focused()
    other.keyboard.type("11")
    other.keyboard.press("Enter")
    expect(other.locator("#announcer")).to_contain_text("Saved the learner counts of")
    other.close()

    # The first tab's save is refused (409): the alert says who changed it, the field keeps
    # focus and is described by the alert, and what is stored is shown.
    page.keyboard.type("22")
    page.keyboard.press("Enter")
    alert = row.get_by_role("alert")
    expect(alert).to_contain_text("Changed by demo@example.org at")
    expect(alert).to_contain_text("you typed 22")
    expect(field).to_have_value("11")
    expect(field).to_be_focused()
    expect(field).to_have_accessible_description(re.compile("Changed by demo@example.org"))
    assert _activity(fresh_live, activity_id)[0] == 11
    _no_errors(page, console)


# --- The activity form ----------------------------------------------------------------------------


def test_activity_form_by_keyboard(demo_page, console):
    page = demo_page
    page.goto("/activities/new")
    announcer = page.locator("#announcer")

    tab_to(page, "#f-title")
    page.keyboard.type("Keyboard course")
    # Choosing the format re-renders the field groups: focus stays on the select.
    page.keyboard.press("Tab")
    expect(page.get_by_label("Format (required)")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Delivery method")).to_be_visible()
    expect(page.get_by_label("Format (required)")).to_have_value("C")
    expect(page.get_by_label("Format (required)")).to_be_focused()
    expect(announcer).to_have_text("Form updated for course.")
    focus_is_visible(page)
    # The group that appeared comes next in tab order.
    page.keyboard.press("Tab")
    expect(page.get_by_label("Delivery method")).to_be_focused()
    page.keyboard.press("ArrowDown")  # In person
    expect(page.locator("#location-group")).to_be_visible()
    expect(page.get_by_label("Delivery method")).to_be_focused()

    # Commercial support: Yes opens a first supporter row; "Add a supporter" adds another and
    # focus goes into it; removing it puts focus on the Add button.
    tab_to(page, "#f-commercial_support")
    page.keyboard.press("ArrowDown")  # Yes
    expect(page.locator("#supporter-0")).to_be_visible()
    expect(page.get_by_label("Commercial support received?")).to_be_focused()
    tab_to(page, "#f-supporter-0-name")
    page.keyboard.type("Acme Pharma")
    tab_to(page, "#add-supporter")
    page.keyboard.press("Enter")
    expect(page.locator("#f-supporter-1-name")).to_be_focused()
    expect(page.get_by_role("group", name="Supporter 2")).to_be_visible()
    tab_to(page, "#remove-supporter-1")
    expect(page.get_by_role("button", name="Remove supporter 2")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("group", name="Supporter 2")).to_have_count(0)
    expect(page.get_by_role("button", name="Add a supporter")).to_be_focused()
    expect(page.locator("#f-supporter-0-name")).to_have_value("Acme Pharma")
    focus_is_visible(page)

    # MOC rows, the same way.
    tab_to(page, "#add-moc")
    page.keyboard.press("Space")
    expect(page.get_by_label("Board")).to_be_focused()
    tab_to(page, "#remove-moc-0")
    page.keyboard.press("Enter")
    expect(page.locator("#moc-0")).to_have_count(0)
    expect(page.get_by_role("button", name="Add an MOC board")).to_be_focused()

    # Create with the dates missing: the page comes back on its error summary, whose links
    # take focus to the field named.
    tab_to(page, "button[value=save]:not([tabindex])")
    expect(page.get_by_role("button", name="Create activity")).to_be_focused()
    page.keyboard.press("Enter")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    focus_is_visible(page)
    page.keyboard.press("Tab")
    link = summary.get_by_role("link").first
    expect(link).to_be_focused()
    target = link.get_attribute("href").removeprefix("#")
    page.keyboard.press("Enter")
    expect(page.locator(f"#{target}")).to_be_focused()
    focus_is_visible(page)
    expect(page.get_by_label("Title (required)")).to_have_value("Keyboard course")
    expect(page.locator("#f-supporter-0-name")).to_have_value("Acme Pharma")
    _no_errors(page, console)


def test_a_stale_form_save_opens_on_the_conflict(fresh_page, fresh_live, console):
    page = fresh_page
    activity_id = _listed(fresh_live, {"status": "active"})[0][0]
    page.goto(f"/activities/{activity_id}/edit")
    # Another tab saves the same activity first, by keyboard too.
    other = page.context.new_page()
    other.goto(f"/activities/{activity_id}/edit")
    tab_to(other, "#f-title")
    other.keyboard.press("End")
    other.keyboard.type(" (theirs)")
    other.keyboard.press("Enter")
    other.wait_for_url(re.compile(rf"/activities/{activity_id}$"))
    other.close()

    tab_to(page, "#f-title")
    page.keyboard.press("End")
    page.keyboard.type(" (mine)")
    page.keyboard.press("Enter")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_focused()
    expect(conflict).to_contain_text("Changed by demo@example.org at")
    focus_is_visible(page)
    page.keyboard.press("Tab")
    expect(conflict.get_by_role("link", name="reload")).to_be_focused()
    expect(page.get_by_label("Title (required)")).to_have_value(re.compile(r"\(mine\)$"))
    _no_errors(page, console)


# --- The detail page ------------------------------------------------------------------------------


def test_detail_page_close_reopen_counts_history_and_copy(fresh_page, fresh_live, console):
    page = fresh_page
    listed = _listed(fresh_live, {"view": "closable"})
    activity_id = next((i for i, _, ok, fmt in listed if ok and fmt in ("C", "RSS")), None)
    assert activity_id is not None, "the demo should have a course or series ready to close"
    page.goto(f"/activities/{activity_id}")

    tab_to(page, "#close-activity")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("closed.")
    expect(page.locator(".closed-banner")).to_contain_text("by demo@example.org")
    # Dismissing the notice leaves focus in the page, not on <body>.
    tab_to(page, "#flash [data-dismiss]")
    page.keyboard.press("Enter")
    expect(page.locator("#flash .flash")).to_have_count(0)
    expect(page.locator("#main")).to_be_focused()

    tab_to(page, "#reopen-activity")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("reopened")
    expect(page.get_by_role("button", name="Close activity")).to_be_visible()
    assert _activity(fresh_live, activity_id)[2] is None

    # Learner counts on the detail page: Enter opens, Enter saves, focus back on the count.
    tab_to(page, f"#counts-{activity_id} a.count-link[data-field=others]")
    page.keyboard.press("Enter")
    others = page.get_by_label("Other learners", exact=True)
    expect(others).to_be_focused()
    select_all_and_type(page, "7")
    page.keyboard.press("Enter")
    expect(page.locator("#announcer")).to_contain_text("7 other learners.")
    expect(page.get_by_role("link", name="Other learners: 7 (edit)")).to_be_focused()
    assert _activity(fresh_live, activity_id)[1] == 7

    # History lists what was just done.
    tab_to(page, "#activity-history-link")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/activities/{activity_id}/history$"))
    titles = page.locator(".history-entry__title").all_inner_texts()
    assert "Closed" in titles and "Reopened" in titles[: titles.index("Closed")]
    tab_to(page, ".back-link a")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/activities/{activity_id}$"))

    # Copy for the next period: lands on the new draft's form.
    tab_to(page, "#copy-next")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/activities/\d+/edit$"))
    expect(page.locator("#flash")).to_contain_text("Check the details and save.")
    _no_errors(page, console)


# --- Enduring materials: December 31 counts -------------------------------------------------------


def _year_with_missing_counts(live) -> int:
    from pars_app.services import clock

    this_year = clock.today().year
    for year in range(this_year, this_year - 4, -1):
        _, checklist = live.checklist("DEMO", year)
        if next(s for s in checklist.steps if s.key == "enduring").left >= 2:
            return year
    pytest.fail("the demo data should leave December 31 counts to enter in some year")


def test_enduring_counts_by_keyboard(fresh_page, fresh_live, console):
    page = fresh_page
    year = _year_with_missing_counts(fresh_live)
    page.goto(f"/enduring/{year}?missing=1")
    rows = page.locator("#enduring-table tbody tr[data-inline-edit]:not(.is-final)")
    first_id = rows.first.get_attribute("id")
    first = page.locator("#" + first_id)
    second = page.locator(f"#{first_id} ~ tr[data-inline-edit]").first
    second_id = second.get_attribute("id")
    announcer = page.locator("#announcer")

    tab_to(page, f"#{first_id} input[name=physicians]")
    physicians = first.get_by_label(re.compile(r"^Physicians as of December 31"))
    expect(physicians).to_be_focused()
    # A bad value: the message is read out and focus stays in the field.
    page.keyboard.type("-1")
    page.keyboard.press("Enter")
    expect(physicians).to_have_attribute("aria-invalid", "true")
    errors = first.locator(".error")
    expect(errors.first).to_be_visible()
    expect(announcer).to_have_text(" ".join(["Not saved.", *errors.all_inner_texts()]))
    expect(physicians).to_be_focused()

    select_all_and_type(page, "120")
    page.keyboard.press("Tab")
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    expect(announcer).to_contain_text(f"Saved the December 31, {year} counts of")
    expect(first.locator(".saved-note")).to_contain_text("Saved")
    others = second.get_by_label(re.compile(r"^Other learners as of"))
    expect(others).to_be_focused()
    focus_is_visible(page)

    # Esc puts back what is stored and stays in the field.
    page.keyboard.type("999")
    page.keyboard.press("Escape")
    expect(second.get_by_label(re.compile(r"^Other learners as of"))).to_have_value("")
    expect(second.get_by_label(re.compile(r"^Other learners as of"))).to_be_focused()
    htmx_settled(page)

    # The row's Save and Cancel keep focus through the swap.
    tab_to(page, f"#{second_id} button[type=submit]")
    page.keyboard.press("Enter")
    expect(second.locator(".error").first).to_be_visible()
    expect(second.get_by_role("button", name=re.compile(r"^Save"))).to_be_focused()
    htmx_settled(page)
    page.keyboard.press("Tab")
    expect(second.get_by_role("link", name=re.compile(r"^Cancel"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(second.locator(".error")).to_have_count(0)
    expect(second.get_by_role("link", name=re.compile(r"^Cancel"))).to_be_focused()
    focus_is_visible(page)

    # The filter checkbox: Space shows every material, and focus comes back to the checkbox.
    tab_to(page, "#missing-only", back=True)
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(rf"/enduring/{year}\??(#.*)?$"))
    expect(page.get_by_label(re.compile("^Only materials still missing"))).not_to_be_checked()
    expect(page.get_by_label(re.compile("^Only materials still missing"))).to_be_focused()
    focus_is_visible(page)
    # Down through every row and back up: no stop hides under the sticky two-line header.
    rows = page.locator("#enduring-table tbody tr[data-inline-edit]")
    assert rows.count() > 5, "the year should list enough materials to scroll"
    tab_to(page, f"#{rows.last.get_attribute('id')} [data-cancel]")
    tab_to(page, f"#{rows.first.get_attribute('id')} input[name=physicians]", back=True)
    _no_errors(page, console)


# --- Every control of every page: reachable, named, visibly focused -------------------------------


def _pages(live) -> list[str]:
    """One page of each kind in the activities area, with its richest content in the demo."""
    from pars_app.extensions import db
    from pars_app.models import Activity

    def run(pid, today):
        rich = db.session.scalar(
            db.select(Activity.id)
            .where(Activity.provider_id == pid, Activity.closed_at.is_(None))
            .where(Activity.supporters.any(), Activity.moc_registrations.any())
            .order_by(Activity.id)
        ) or db.session.scalar(
            db.select(Activity.id)
            .where(Activity.provider_id == pid, Activity.closed_at.is_(None))
            .where(Activity.supporters.any())
            .order_by(Activity.id)
        )
        return rich

    rich = _demo(live, run)
    assert rich is not None, "the demo should have an open activity with a commercial supporter"
    year = _year_with_missing_counts(live)
    return [
        "/activities?per_page=25",
        "/activities/new",
        f"/activities/{rich}",
        f"/activities/{rich}/edit",
        f"/activities/{rich}/history",
        f"/enduring/{year}",
    ]


def test_every_control_is_reachable_named_and_visibly_focused(demo_page, live, console):
    page = demo_page
    for path in _pages(live):
        page.goto(path)
        names = tab_through(page)
        assert len(names) > 5, f"{path}: too few stops for a page of this area: {names}"
        assert names[0] == "Skip to main content", path
    _no_errors(page, console)

"""Hostile input on every form: random text, huge and negative numbers, control characters,
HTML and script, spreadsheet formula prefixes, odd dates.

Whatever is typed, the app must answer with a message (a 4xx re-render, or a redirect and a
flash), store nothing its own validation would refuse, escape everything it shows back, and
never answer 5xx. Each form's world is built once per test and shared by its examples (what a
real coordinator's session looks like); after every example the database is checked.

The default run tries ~50 cases per form so `make test` stays quick; `HYPOTHESIS_PROFILE=deep`
tries 500. The number tried is printed at the end of the run ("security figures").
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select

from pars_app.domain.contacts import contact_errors
from pars_app.domain.status import draft_problems
from pars_app.extensions import db
from pars_app.models import (
    Activity,
    AgreementAcceptance,
    Contact,
    ProgramSummary,
    User,
    YearLock,
)
from pars_app.services import activity_input as inp
from tests.factories import (
    csrf_token,
    login,
    make_accreditor,
    make_activity,
    make_agreement,
    make_contact,
    make_provider,
    make_user,
)
from tests.security.figures import record
from tests.security.test_headers import _assert_defensive_headers
from tests.web.html import parse

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
FUZZ = settings(
    max_examples=500 if DEEP else 50,
    deadline=None,
    # The world is built once per test on purpose: examples share it, as a session would.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Sunday February 15, 2026: the 2025 cycle is open (summary, agreement) and nothing is locked.
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}
EDITOR = "fuzz-editor@example.org"

# --- What a hostile user types ---------------------------------------------------------------

MARKUP = [
    "<script>alert('pars')</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</textarea><script>alert(2)</script>",
    "</title><script>alert(3)</script>",
    '<iframe src="javascript:alert(4)"></iframe>',
    "javascript:alert(5)",
    "{{ 7*7 }}{% raw %}",
    "&lt;script&gt;",
]
FORMULAS = [
    "=1+1",
    '=HYPERLINK("https://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
]
NUMBERS = [
    "-1",
    "-0",
    "-0.01",
    "0",
    "1e308",
    "1e9999",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 400,
    "99999999999999999999",
    "1,000,000,000,000",
    "(5)",
    "$-5",
    "0x10",
    "1_000",
    "١٢٣",
    "²",
    "1.005",
    ".",
    "1.",
    "5e-324",
    "12,34,5",
]
DATES = [
    "2025-02-29",
    "2024-02-29",
    "2025-13-01",
    "2025-00-10",
    "0000-00-00",
    "9999-12-31",
    "1949-12-31",
    "2101-01-01",
    "02/30/2025",
    "13/13/2025",
    "2025-05-01T00:00:00Z",
    "45658",
    "-45658",
    "2025/05/01",
    "yesterday",
    "  2025-05-01  ",
    "2025-5-1",
    "05/01/25",
]
CONTROL = [
    "\x00",
    "a\x00b",
    "\x07bell",
    "tab\there",
    "line\nbreak",
    "cr\rhere",
    "\x1b[31mred",
    "\u202eRTL",
    "\ufeffBOM",
    "zero\u200bwidth",
    "\x7f",
    "\x85",
    "\ufffe",
    "\U0001f600 emoji",
]
ODD = ["", " ", "None", "null", "undefined", "true", "' OR '1'='1", "%s%n", "../../etc/passwd"]
PAYLOADS = MARKUP + FORMULAS + NUMBERS + DATES + CONTROL + ODD

hostile = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=80),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates(min_value=date(1, 1, 1)).map(lambda d: d.isoformat()),
    st.dates(min_value=date(1, 1, 1)).map(lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}"),
    st.tuples(st.sampled_from(PAYLOADS), st.text(max_size=20)).map("".join),
    # Just past the limits of the forms and of the columns (PostgreSQL refuses what SQLite keeps).
    st.sampled_from(["x" * 65, "x" * 101, "x" * 201, "x" * 255, "A" * 501, "x" * 20_001]),
)


def hostile_fields(names) -> st.SearchStrategy[dict[str, str]]:
    """Some of `names` (at least one) with hostile values; the rest stay as the base form."""
    return st.dictionaries(st.sampled_from(sorted(names)), hostile, min_size=1, max_size=6)


# --- Checks shared by every form ---------------------------------------------------------------

# Characters XML 1.0 (and so the PARS XML export and xlsx cells) cannot carry.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _dom(body: str):
    # lxml refuses documents carrying characters XML cannot hold; what is checked here is
    # the markup around them, so they are replaced before parsing.
    return parse(_NOT_XML.sub("?", body))


def assert_escaped(resp, where: str) -> None:
    """Nothing typed became markup: no inline script, event handler, frame or typed image."""
    if "html" not in (resp.content_type or ""):
        return
    body = resp.get_data(as_text=True)
    if not body.strip():
        return
    # Escaped, these read "&lt;script&gt;…": the raw '<' must never come through.
    for raw in ("<script>alert", "<img src=x", "<svg onload", '<iframe src="javascript'):
        assert raw not in body, f"{where}: raw {raw!r} reached the page"
    doc = _dom(body)
    assert not doc.xpath("//script[not(@src)]"), f"{where}: an inline <script> in the page"
    assert all(s.startswith("/static/") for s in doc.xpath("//script/@src")), where
    handlers = doc.xpath("//@*[starts-with(name(), 'on')]")
    assert not handlers, f"{where}: event handler attributes {[h.attrname for h in handlers]}"
    # (The dashboard draws its charts as inline SVG: only markup of the payloads is looked for.)
    payload_markup = "//iframe | //object | //embed | //img[@src='x'] | //svg//script"
    assert not doc.xpath(payload_markup), f"{where}: typed markup became elements"


def has_message(resp) -> bool:
    """The page tells the user what is wrong: an error list, an alert or a flash."""
    doc = _dom(resp.get_data(as_text=True))
    found = doc.xpath(
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' error ')"
        " or @role='alert' or contains(@id, 'error') or contains(@class, 'flash')]"
    )
    return any(el.text_content().strip() for el in found)


def assert_answered(resp, where: str, ok: tuple[int, ...]) -> None:
    assert resp.status_code < 500, f"{where}: answered {resp.status_code}"
    assert resp.status_code in ok, f"{where}: answered {resp.status_code}, expected {ok}"
    _assert_defensive_headers(resp)
    assert_escaped(resp, where)
    if 400 <= resp.status_code < 500:
        assert has_message(resp), f"{where}: {resp.status_code} without a message for the user"


def _is_xml_safe(text: str | None) -> bool:
    return text is None or not _NOT_XML.search(text)


def overflows(obj) -> list[str]:
    """Text longer than its column: SQLite stores it, PostgreSQL refuses it (a 500 there)."""
    found = []
    for attr in inspect(obj).mapper.column_attrs:
        length = getattr(attr.columns[0].type, "length", None)
        value = getattr(obj, attr.key)
        if length and isinstance(value, str) and len(value) > length:
            found.append(f"{attr.key}: {len(value)} characters in a column of {length}")
    return found


# --- Activities --------------------------------------------------------------------------------

# A complete course, as the browser posts it (every field of spec §5).
COURSE: dict[str, str] = {
    "provider_activity_id": "",
    "accme_activity_id": "",
    "title": "Cardiology Update 2025",
    "format": "C",
    "delivery": "hybrid",
    "start_date": "2025-05-01",
    "end_date": "2025-05-02",
    "venue": "Lakeside Conference Center",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "credits": "6.5",
    "description": "Heart failure guidelines with case discussion.",
    "providership": "joint",
    "joint_providers": "Lakeside Nursing Association\nMidwest Heart Society",
    "passport_listed": "yes",
    "passport_fee": "no",
    "passport_registration": "open",
    "passport_url": "https://cme.example.org/cardio-2025",
    "commercial_support": "yes",
    "supporter_count": "2",
    "supporter-0-name": "Northwind Pharmaceuticals",
    "supporter-0-kind": "monetary",
    "supporter-0-amount": "12,500.50",
    "supporter-1-name": "Contoso Medical",
    "supporter-1-kind": "in_kind",
    "supporter-1-nature": "other",
    "supporter-1-other": "Simulation mannequins",
    "outcome_competence": "yes",
    "physician_learners": "1,040",
    "other_learners": "0",
    "moc_count": "1",
    "moc-0-board": "ABIM",
    "moc-0-credit_types": "MK, PS",
    "moc-0-points": "6",
    "moc-0-practice_areas": "Cardiology\nInternal Medicine",
    "action": "save",
}
ACTIVITY_FIELDS = [k for k in COURSE if k != "action"] + ["version"]
ACTIVITY_TEXT_COLUMNS = ("provider_activity_id", "title", "venue", "city", "description")


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def editor(app) -> dict:
    """A provider with an admin signed in, one activity to edit and a contact."""
    with app.app_context():
        acc = make_accreditor("FUZZ-ACC")
        p = make_provider("FUZZ", acc)
        make_user(EDITOR, p, role="admin")
        activity = make_activity(p, title="Course to edit", format="C", delivery="in_person")
        activity.venue, activity.city, activity.country = "Hall", "Chicago", "USA"
        activity.state = "IL"
        contact = make_contact(p, role="primary", name="Pat Primary")
        contact.phone = "(312) 555-0100"
        text = make_agreement(acc, 2025)
        db.session.commit()
        ids = {"provider": p.id, "activity": activity.id, "contact": contact.id, "text": text.id}
    client = app.test_client()
    assert login(client, EDITOR).status_code == 302
    ids["client"] = client
    ids["token"] = csrf_token(client, "/activities")
    return ids


def _post(editor, url: str, data: dict, htmx: bool = False):
    headers = dict(HX) if htmx else {}
    return editor["client"].post(url, data={**data, "csrf_token": editor["token"]}, headers=headers)


def _stored_activity_problems(a: Activity) -> list[str]:
    """What the app's own rules say about a stored activity: it must read back cleanly."""
    problems = []
    data, errors = inp.read_form(inp.form_of(a))
    problems += [f"{k}: {m}" for k, ms in errors.items() for m in ms]
    problems += [f"{p.field}: {p.message}" for p in draft_problems(data.facts())]
    texts = [getattr(a, c) for c in ACTIVITY_TEXT_COLUMNS]
    texts += [j.name for j in a.joint_providers]
    texts += [v for s in a.supporters for v in (s.name, s.in_kind_other)]
    texts += [v for m in a.moc_registrations for v in (m.credit_types, m.practice_areas)]
    problems += [f"not exportable: {t!r}" for t in texts if not _is_xml_safe(t)]
    for row in (a, *a.joint_providers, *a.supporters, *a.moc_registrations):
        problems += overflows(row)
    return problems


def _assert_activities_valid(app, provider_id: int, where: str, since_id: int = 0) -> None:
    """Every activity of the provider (with an id above `since_id`) reads back cleanly."""
    with app.app_context():
        query = select(Activity).where(Activity.provider_id == provider_id, Activity.id > since_id)
        for a in db.session.scalars(query):
            problems = _stored_activity_problems(a)
            assert not problems, f"{where}: stored activity {a.id} is invalid: {problems}"


def _activity_count(app, provider_id: int) -> tuple[int, int]:
    """How many activities the provider has, and the highest id."""
    with app.app_context():
        return tuple(
            db.session.execute(
                select(func.count(Activity.id), func.coalesce(func.max(Activity.id), 0)).where(
                    Activity.provider_id == provider_id
                )
            ).one()
        )


def _shown_value(resp, name: str) -> str | None:
    found = _dom(resp.get_data(as_text=True)).xpath(f'//input[@name="{name}"]/@value')
    return found[0] if found else None


@given(changes=hostile_fields(ACTIVITY_FIELDS), htmx=st.booleans())
# Cases that once reached the database (a 500 on PostgreSQL): always tried.
@example(changes={"supporter-0-name": "9" * 400}, htmx=False)
@example(changes={"title": "a\x00b", "description": "\x0b"}, htmx=False)
@example(changes={"joint_providers": "a\x00", "moc-0-practice_areas": "\x07"}, htmx=True)
@FUZZ
def test_fuzz_activity_create(app, editor, changes, htmx):
    before = _activity_count(app, editor["provider"])
    resp = _post(editor, "/activities/new", {**COURSE, **changes}, htmx)
    where = f"POST /activities/new {changes!r}"
    record("fuzz: activity create")
    assert_answered(resp, where, (303, 422))
    after = _activity_count(app, editor["provider"])
    if resp.status_code == 422:
        assert after == before, f"{where}: refused, yet an activity was stored"
        title = changes.get("title")
        if title is not None and title.isprintable():
            assert _shown_value(resp, "title") == title, f"{where}: the title typed is not shown"
    else:
        assert after[0] == before[0] + 1, where
        _assert_activities_valid(app, editor["provider"], where, since_id=before[1])


def _version(app, activity_id: int) -> int:
    with app.app_context():
        return db.session.get(Activity, activity_id).version


@given(changes=hostile_fields(ACTIVITY_FIELDS), htmx=st.booleans())
@FUZZ
def test_fuzz_activity_edit(app, editor, changes, htmx):
    aid = editor["activity"]
    form = {**COURSE, "provider_activity_id": "EDIT-1", "version": str(_version(app, aid))}
    resp = _post(editor, f"/activities/{aid}/edit", {**form, **changes}, htmx)
    where = f"POST /activities/{aid}/edit {changes!r}"
    record("fuzz: activity edit")
    # 409: a hostile version number is someone else's save as far as the server can tell.
    assert_answered(resp, where, (303, 409, 422))
    if resp.status_code == 409:
        assert "version" in changes, f"{where}: a conflict with nobody"
    _assert_activities_valid(app, editor["provider"], where, since_id=aid - 1)


def _counts(app, activity_id: int) -> tuple:
    with app.app_context():
        a = db.session.get(Activity, activity_id)
        return a.physician_learners, a.other_learners, a.version


@given(changes=hostile_fields(["physicians", "others", "version", "place"]), htmx=st.booleans())
@FUZZ
def test_fuzz_inline_learner_counts(app, editor, changes, htmx):
    aid = editor["activity"]
    before = _counts(app, aid)
    form = {"physicians": "12", "others": "3", "version": str(before[2]), **changes}
    resp = _post(editor, f"/activities/{aid}/counts", form, htmx)
    where = f"POST /activities/{aid}/counts {changes!r} htmx={htmx}"
    record("fuzz: inline learner counts")
    assert_answered(resp, where, (200, 302, 303, 409, 422))
    physicians, others, _ = after = _counts(app, aid)
    if resp.status_code >= 400:
        assert after == before, f"{where}: refused, yet the counts changed"
    for n in (physicians, others):
        assert n is None or (isinstance(n, int) and 0 <= n <= 10**9), f"{where}: stored {n!r}"


# --- Program Summary ---------------------------------------------------------------------------

MONEY = ("advertising_exhibit", "registration_fees", "government_grants", "private_donations")
SUMMARY = {
    "advertising_exhibit": "1,000",
    "registration_fees": "25,500.50",
    "government_grants": "0",
    "private_donations": "$300",
    "period_start_month": "1",
    # Ticked, so that a submission can go through unless the hostile values stop it.
    "attest": "yes",
    "confirm": "yes",
}


def _summary_rows(app, provider_id: int) -> list:
    def cents(s: ProgramSummary) -> list:
        return [getattr(s, f"{m}_cents") for m in MONEY]

    with app.app_context():
        rows = db.session.scalars(
            select(ProgramSummary).where(ProgramSummary.provider_id == provider_id)
        ).all()
        return [
            (s.year, s.status, s.version, s.period_start, s.period_end, *cents(s)) for s in rows
        ]


def _unlock(app, provider_id: int) -> None:
    """Undo a submission an example made, so the next examples can still save (test setup)."""
    with app.app_context():
        for lock in db.session.scalars(select(YearLock).where(YearLock.provider_id == provider_id)):
            db.session.delete(lock)
        db.session.commit()


@given(
    changes=hostile_fields([*MONEY, "period_start_month", "version", "attest", "confirm"]),
    submit=st.booleans(),
)
@FUZZ
def test_fuzz_program_summary(app, editor, changes, submit):
    pid = editor["provider"]
    before = _summary_rows(app, pid)
    version = before[0][2] if before else 0
    url = "/summary/2025/submit" if submit else "/summary/2025"
    resp = _post(editor, url, {**SUMMARY, "version": str(version), **changes})
    where = f"POST {url} {changes!r}"
    record("fuzz: program summary")
    assert_answered(resp, where, (302, 409, 422))
    after = _summary_rows(app, pid)
    if resp.status_code >= 400:
        assert after == before, f"{where}: refused, yet the summary changed"
    for year, _status, _v, start, end, *cents in after:
        assert year == 2025 and end.year == 2025, f"{where}: period {start} to {end}"
        assert (end - start).days in (364, 365), f"{where}: period {start} to {end}"
        for c in cents:
            assert c is None or (isinstance(c, int) and 0 <= c <= 10**13), f"{where}: {c!r}"
    _unlock(app, pid)


# --- Contacts ----------------------------------------------------------------------------------

CONTACT = {
    "role": "billing",
    "name": "Bea Billing",
    "title": "Controller",
    "email": "bea@example.org",
    "phone": "(312) 555-0199",
}


def _contacts(app, provider_id: int) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(select(Contact).where(Contact.provider_id == provider_id))
        found = []
        for c in rows:
            assert not overflows(c), f"contact {c.id}: {overflows(c)}"
            found.append((c.id, c.role, c.name, c.title, c.email, c.phone, c.version))
        return sorted(found)


def _assert_contacts_valid(app, provider_id: int, where: str) -> None:
    for _id, role, name, title, email, phone, _v in _contacts(app, provider_id):
        errors = contact_errors(role, name, title or "", email, phone)
        assert not errors, f"{where}: stored contact {_id} is invalid: {errors}"
        assert all(_is_xml_safe(t) for t in (name, title, email, phone)), where


@given(
    changes=hostile_fields([*CONTACT, "version"]),
    edit=st.booleans(),
    htmx=st.booleans(),
)
@FUZZ
def test_fuzz_contacts(app, editor, changes, edit, htmx):
    pid, cid = editor["provider"], editor["contact"]
    before = _contacts(app, pid)
    if edit:
        version = next(v for i, *_, v in before if i == cid)
        url = f"/contacts/{cid}"
        form = {**CONTACT, "role": "primary", "version": str(version), **changes}
    else:
        url, form = "/contacts", {**CONTACT, **changes}
    resp = _post(editor, url, form, htmx)
    where = f"POST {url} {changes!r} htmx={htmx}"
    record("fuzz: contacts")
    assert_answered(resp, where, (200, 302, 409, 422))
    if resp.status_code >= 400:
        assert _contacts(app, pid) == before, f"{where}: refused, yet contacts changed"
    _assert_contacts_valid(app, pid, where)


# --- Agreement ---------------------------------------------------------------------------------


@given(changes=hostile_fields(["confirm", "text_id"]))
@FUZZ
def test_fuzz_agreement_acceptance(app, editor, changes):
    form = {"confirm": "yes", "text_id": str(editor["text"]), **changes}
    resp = _post(editor, "/agreement/2025", form)
    where = f"POST /agreement/2025 {changes!r}"
    record("fuzz: agreement acceptance")
    assert_answered(resp, where, (302,))
    with app.app_context():
        accepted = db.session.scalars(select(AgreementAcceptance.agreement_text_id)).all()
    # Only the published text, only once, and only when the box was really ticked.
    assert accepted in ([], [editor["text"]]), f"{where}: acceptances {accepted}"
    if accepted and form["confirm"] != "yes":
        assert "confirm" in changes  # accepted by an earlier example, not by this one


# --- Sign in and password ----------------------------------------------------------------------


@pytest.fixture
def anonymous(app, editor) -> dict:
    """A visitor who is not signed in (the editor's account exists)."""
    client = app.test_client()
    return {"client": client, "token": csrf_token(client, "/login")}


@given(changes=hostile_fields(["email", "password", "next"]))
@FUZZ
def test_fuzz_login(app, anonymous, changes):
    form = {"email": "nobody@example.org", "password": "not it", **changes}
    data = {k: v for k, v in form.items() if k != "next"}
    data["csrf_token"] = anonymous["token"]
    query = {"next": form.get("next", "/")}
    resp = anonymous["client"].post("/login", data=data, query_string=query)
    where = f"POST /login {changes!r}"
    record("fuzz: login")
    assert_answered(resp, where, (401,))
    with app.app_context():
        users = db.session.scalars(select(User.email)).all()
    assert users == [EDITOR], f"{where}: users are now {users}"
    email = changes.get("email")
    if email is not None and email.isprintable() and len(email) <= 254:
        shown = _shown_value(resp, "email")
        assert shown in (email, email.strip()), f"{where}: email shown as {shown!r}"


def _password_hash(app) -> str:
    with app.app_context():
        return db.session.scalar(select(User.password_hash).where(User.email == EDITOR))


@given(changes=hostile_fields(["current", "new", "confirm"]))
@FUZZ
def test_fuzz_password_change(app, editor, changes):
    before = _password_hash(app)
    form = {"current": "not my password", "new": "x", "confirm": "y", **changes}
    resp = _post(editor, "/account/password", form)
    where = f"POST /account/password {changes!r}"
    record("fuzz: password change")
    assert_answered(resp, where, (422,))
    assert _password_hash(app) == before, f"{where}: the password changed"


# --- Enduring materials' December 31 counts ----------------------------------------------------


@pytest.fixture
def enduring(app, editor) -> dict:
    from tests.factories import make_enduring

    with app.app_context():
        from pars_app.models import Provider

        p = db.session.get(Provider, editor["provider"])
        em = make_enduring(p, date(2024, 6, 1), date(2026, 5, 31), title="Online module")
        db.session.commit()
        return {**editor, "em": em.id}


def _snapshots(app, activity_id: int) -> list[tuple]:
    from pars_app.models import LearnerSnapshot

    with app.app_context():
        rows = db.session.scalars(
            select(LearnerSnapshot).where(LearnerSnapshot.activity_id == activity_id)
        )
        return sorted((s.year, s.physicians, s.others) for s in rows)


@given(changes=hostile_fields(["physicians", "others", "version"]), htmx=st.booleans())
@FUZZ
def test_fuzz_enduring_counts(app, enduring, changes, htmx):
    em = enduring["em"]
    before = _snapshots(app, em)
    form = {"physicians": "40", "others": "2", "version": "", **changes}
    resp = _post(enduring, f"/enduring/2025/{em}", form, htmx)
    where = f"POST /enduring/2025/{em} {changes!r} htmx={htmx}"
    record("fuzz: enduring December 31 counts")
    assert_answered(resp, where, (200, 303, 409, 422))
    after = _snapshots(app, em)
    if resp.status_code >= 400:
        assert after == before, f"{where}: refused, yet the counts changed"
    for _year, physicians, others in after:
        for n in (physicians, others):
            assert n is None or 0 <= n <= 10**9, f"{where}: stored {n!r}"


# --- After all that: the data still exports -----------------------------------------------------


def test_what_the_forms_accept_still_exports(app, editor):
    """A save the form accepts must not break the PARS exports later (xlsx cells and XML
    cannot carry control characters): the hostile texts the form lets through export."""
    accepted = []
    for value in CONTROL + MARKUP + FORMULAS:
        resp = _post(editor, "/activities/new", {**COURSE, "title": f"T {value}", "city": value})
        assert resp.status_code in (303, 422), (value, resp.status_code)
        if resp.status_code == 303:
            accepted.append(value)
    assert set(MARKUP + FORMULAS) - {"\t=1", "\r=1"} <= set(accepted), "plain text refused"
    for url in ("/exports/activities.xlsx?year=2025", "/exports/activities.xml?year=2025"):
        resp = editor["client"].get(url)
        assert resp.status_code == 200, f"GET {url} answered {resp.status_code}"


# --- What the fuzzing found, pinned ----------------------------------------------------------


def _field_error(resp, name: str) -> str:
    found = _dom(resp.get_data(as_text=True)).xpath(f'//*[@id="f-{name}-error"]')
    return found[0].text_content().strip() if found else ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "Grand\x00Rounds", "Remove the invisible control characters"),
        ("title", "Grand\tRounds", "Keep this on one line"),
        ("city", "Chi\x1bcago", "Remove the invisible control characters"),
        ("description", "Ca\x0bses", "Remove the invisible control characters"),
        ("supporter-0-name", "N" * 201, "Shorten this to 200 characters or fewer."),
        ("moc-0-credit_types", "MK\x07", "Remove the invisible control characters"),
    ],
)
def test_text_no_export_or_database_can_carry_is_refused_on_its_field(
    app, editor, field, value, message
):
    before = _activity_count(app, editor["provider"])
    resp = _post(editor, "/activities/new", {**COURSE, field: value})
    assert resp.status_code == 422
    assert message in _field_error(resp, field)
    assert _activity_count(app, editor["provider"]) == before


def test_line_breaks_and_tabs_stay_allowed_in_a_description(app, editor):
    description = "Morning:\tcases\r\nAfternoon:\tworkshop"
    resp = _post(editor, "/activities/new", {**COURSE, "description": description})
    assert resp.status_code == 303
    with app.app_context():
        stored = db.session.scalar(select(Activity.description).order_by(Activity.id.desc()))
    assert stored == description

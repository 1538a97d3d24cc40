"""The route matrix: every route of `app.url_map` x five kinds of visitor x {GET, POST}.

For each route the table below says what kind of page it is; from that and the visitor, the
test knows the answer to expect. The walk is generated from the URL map, so a route added later
is walked too — and a route missing from `KIND` (or taking an id argument that
tests/security/test_tenancy.py's `ID_ARGS` cannot map) fails the run with a message saying which
table to extend.

What it checks:
- sign-in: anonymous visitors are sent to /login (htmx requests get 401 + HX-Redirect);
- CSRF: every POST without a valid token is refused with 400 and changes nothing;
- reviewers and accreditor staff cannot change provider data (403/404/405; data compared);
- another provider's admin, and accreditor staff of another accreditor, get 404 for every row
  of the provider;
- no answer is ever a 5xx, and every answer carries the security headers (signed-in pages
  also `Cache-Control: no-store`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import url_for
from sqlalchemy import or_, select
from werkzeug.routing import IntegerConverter, Rule

from pars_app.extensions import db
from tests.factories import (
    csrf_token,
    login,
    make_accreditor,
    make_provider,
    make_user,
)
from tests.security.figures import record
from tests.security.test_headers import _assert_defensive_headers
from tests.security.test_tenancy import ID_ARGS, PLAIN_ARGS, _rows_for

# Sunday February 15, 2026: the 2025 cycle is open, nothing is locked.
NOW = datetime(2026, 2, 15, 18, 0, tzinfo=UTC)

# --- The table a new route must be added to ------------------------------------------------------

PUBLIC = "public"  # anyone, signed in or not
ACCOUNT = "account"  # the signed-in user's own account, whatever their role
SIGNED_IN = "signed-in"  # any signed-in user; nothing of one provider that another could see
READ = "read"  # a provider's pages: its users (any role) read them
EDIT = "edit"  # changes a provider's data (or opens a form to): provider admin and staff only
ADMIN = "admin"  # a provider's admin only
ACCREDITOR = "accreditor"  # the accreditor console: accreditor staff only

KIND: dict[str, str] = {
    "static": PUBLIC,
    "health.health": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": ACCOUNT,
    "auth.password": ACCOUNT,
    "dashboard.index": READ,
    "dashboard.print_checklist": READ,
    "activities.index": READ,
    "activities.detail": READ,
    "activities.counts": READ,
    "activities.counts_edit": EDIT,
    "activities.counts_save": EDIT,
    "activities.close": EDIT,
    "activities.reopen": EDIT,
    "activities.bulk_close": EDIT,
    "activities.bulk_undo": EDIT,
    "activity_form.new": EDIT,
    "activity_form.edit": EDIT,
    "activity_form.fields": EDIT,
    "activity_form.delete": EDIT,
    "activity_history.show": READ,
    "activity_history.copy_next": EDIT,
    "agreement.show": READ,
    "agreement.accept": EDIT,
    "summary.show": READ,
    "summary.save": EDIT,
    "summary.submit": EDIT,
    "contacts.index": READ,
    "contacts.review": READ,
    "contacts.row": READ,
    "contacts.edit": EDIT,
    "contacts.update": EDIT,
    "contacts.add": EDIT,
    "contacts.delete": EDIT,
    "contacts.confirm": EDIT,
    "enduring.index": READ,
    "enduring.summary": READ,
    "enduring.row": READ,
    "enduring.save": EDIT,
    "audit.index": ADMIN,
    "audit.export": ADMIN,
    "accreditor.index": ACCREDITOR,
    "accreditor.export": ACCREDITOR,
    "accreditor.provider": ACCREDITOR,
    "accreditor.unlock": ACCREDITOR,
    "accreditor.deadlines": ACCREDITOR,
    "accreditor.agreements": ACCREDITOR,
    "accreditor.audit": ACCREDITOR,
    "accreditor.audit_export": ACCREDITOR,
    # Batch files (issue 6): exports follow the list's filters; templates need only a sign-in
    # (the learner-counts one is pre-filled for the user's own provider, blank otherwise); the
    # XSD is published for partners without an account.
    "exports.activities_xlsx": READ,
    "exports.activities_xml": READ,
    "exports.activity_template": SIGNED_IN,
    "exports.learner_counts_template": SIGNED_IN,
    "exports.activities_xsd": PUBLIC,
    # Imports (issue 6): a provider's users follow its imports; only admin and staff start,
    # commit, discard or retry one.
    "imports.index": READ,
    "imports.show": READ,
    "imports.progress": READ,
    "imports.errors_file": READ,
    "imports.uploaded_file": READ,
    "imports.new": EDIT,
    "imports.upload": EDIT,
    "imports.commit": EDIT,
    "imports.discard": EDIT,
    "imports.retry": EDIT,
    # Step guides (issue 5): the same help for every signed-in user, no provider data.
    "help.index": SIGNED_IN,
    "help.show": SIGNED_IN,
}
# Arguments that are neither row ids nor in test_tenancy's PLAIN_ARGS.
OTHER_ARGS: dict[str, str] = {"filename": "js/app.js"}

# A page, a redirect, or htmx's "nothing to swap" (a finished import's progress poll).
READ_OK = (200, 204, 302, 303)
ROLES = ("anonymous", "staff", "reviewer", "other_admin", "other_accreditor")
METHODS = ("GET", "POST")
HX = {"HX-Request": "true"}
# What a hostile or careless POST carries besides the token: names many forms use.
FORM = {
    "name": "Hijacked",
    "title": "Hijacked",
    "email": "hijack@example.org",
    "version": "1",
    "confirm": "yes",
    "attest": "yes",
    "year": "2025",
    "reason": "Because",
    "physicians": "5",
    "others": "1",
    "action": "save",
}
CSRF_MESSAGE = "Your form expired or came from elsewhere. Reload the page and try again."
EMAILS = {
    "staff": "staff-a@example.org",
    "reviewer": "reviewer-a@example.org",
    "other_admin": "admin-b@example.org",
    "other_accreditor": "staff-y@example.org",
}


# --- Building the walk ------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One URL and method: the rule that answers it (None when no rule takes that method)."""

    path: str
    method: str
    rule: Rule | None
    url: str

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint if self.rule else "-"

    @property
    def kind(self) -> str | None:
        return KIND[self.rule.endpoint] if self.rule else None

    @property
    def takes_ids(self) -> bool:
        return bool(self.rule) and any(a in ID_ARGS for a in self.rule.arguments)

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.endpoint})"


def _check_classified(rule: Rule) -> None:
    if rule.endpoint not in KIND:
        pytest.fail(
            f"route {rule.rule} ({rule.endpoint}) is not in KIND of "
            "tests/security/test_route_matrix.py: say who may use it (public, account, "
            "signed-in, read, edit, admin or accreditor)"
        )
    for name, converter in rule._converters.items():
        if name in ID_ARGS or name in PLAIN_ARGS or name in OTHER_ARGS:
            continue
        if isinstance(converter, IntegerConverter) or name == "id" or name.endswith("_id"):
            pytest.fail(
                f"route {rule.rule} ({rule.endpoint}) takes {name!r}, which no table maps to a "
                "row: add it to ID_ARGS in tests/security/test_tenancy.py"
            )
        pytest.fail(
            f"route {rule.rule} ({rule.endpoint}) takes {name!r}: give it a value in "
            "PLAIN_ARGS (tests/security/test_tenancy.py) or OTHER_ARGS (this file)"
        )


def _url(app, rule: Rule, ids: dict[type, int]) -> str:
    values = {}
    for name in rule.arguments:
        if name in ID_ARGS:
            values[name] = ids[ID_ARGS[name]]
        else:
            values[name] = PLAIN_ARGS.get(name, OTHER_ARGS.get(name))
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _targets(app, ids: dict[type, int]) -> list[Target]:
    """Every (path, method) of the URL map; logout last, as it ends the session."""
    by_path: dict[str, dict[str, Rule]] = defaultdict(dict)
    for rule in app.url_map.iter_rules():
        _check_classified(rule)
        for method in METHODS:
            if method in rule.methods:
                by_path[rule.rule][method] = rule
    targets = []
    for path, rules in by_path.items():
        any_rule = next(iter(rules.values()))
        url = _url(app, any_rule, ids)
        for method in METHODS:
            rule = rules.get(method)
            targets.append(
                Target(path, method, rule, url if rule is None else _url(app, rule, ids))
            )
    return sorted(targets, key=lambda t: (t.endpoint == "auth.logout", t.method, t.path))


# --- The world ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(app) -> dict:
    """Provider A under accreditor X (staff, reviewer), provider B under Z (its admin), and
    staff of accreditor Y, who oversees neither."""
    # CSRF must be on for the walk to mean anything, whatever the test config says.
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        x, y, z = make_accreditor("ACC-X"), make_accreditor("ACC-Y"), make_accreditor("ACC-Z")
        a = make_provider("PROV-A", x)
        b = make_provider("PROV-B", z)
        make_user(EMAILS["staff"], a, role="staff")
        make_user(EMAILS["reviewer"], a, role="reviewer")
        make_user(EMAILS["other_admin"], b, role="admin")
        make_user(EMAILS["other_accreditor"], accreditor=y)
        ids = _rows_for(a)
        _rows_for(b)
        db.session.commit()
        return {"ids": ids, "a": a.id, "x": x.id}


def _owned_by(table, provider_id: int, accreditor_id: int) -> list:
    """Conditions picking a table's rows that belong to the provider or its accreditor: by their
    own columns, or through a foreign key to a row that does (an activity's supporters)."""
    c = table.c
    conds = []
    if "provider_id" in c:
        conds.append(c.provider_id == provider_id)
    if "accreditor_id" in c:
        conds.append(c.accreditor_id == accreditor_id)
    if table.name == "providers":
        conds.append(c.id == provider_id)
    elif table.name == "accreditors":
        conds.append(c.id == accreditor_id)
    elif table.name == "users":
        members = db.metadata.tables["memberships"]
        conds.append(
            c.id.in_(select(members.c.user_id).where(members.c.provider_id == provider_id))
        )
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent is not table and "provider_id" in parent.c and fk.parent.name != "provider_id":
            owned = select(fk.column).where(parent.c.provider_id == provider_id)
            conds.append(fk.parent.in_(owned))
    return conds


def _dump(app, provider_id: int | None = None, accreditor_id: int | None = None) -> dict:
    """Every row of every table, or only the rows of one provider and its accreditor."""
    out = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            query = table.select()
            if provider_id is not None:
                conds = _owned_by(table, provider_id, accreditor_id)
                assert conds, f"no way to tell whose rows {table.name} holds: extend _owned_by"
                query = query.where(or_(*conds))
            rows = db.session.execute(query)
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _a_world(app, world) -> dict:
    return _dump(app, world["a"], world["x"])


def _signed_in(app, role: str):
    client = app.test_client()
    if role != "anonymous":
        assert login(client, EMAILS[role]).status_code == 302, role
    return client


def _token(client, role: str) -> str:
    # A page every signed-in role can open; /login for the anonymous.
    return csrf_token(client, "/login" if role == "anonymous" else "/account/password")


def _send(client, target: Target, token: str | None, htmx: bool):
    headers = dict(HX) if htmx else {}
    if target.method == "GET":
        return client.get(target.url, headers=headers)
    data = dict(FORM)
    if token is not None:
        data["csrf_token"] = token
        headers["X-CSRFToken"] = token
    return client.post(target.url, data=data, headers=headers)


def _row_exists(app, target: Target, ids: dict[type, int]) -> bool:
    with app.app_context():
        for name in target.rule.arguments:
            if name in ID_ARGS:
                model = ID_ARGS[name]
                found = db.session.scalar(select(model.id).where(model.id == ids[model]))
                if found is None:
                    return False
    return True


# --- Expectations ---------------------------------------------------------------------------------


def _path(resp, header: str = "Location") -> str:
    return urlsplit(resp.headers.get(header, "")).path


def _expect(role: str, target: Target, resp, htmx: bool, app, ids) -> None:
    where = f"{target} as {role}{' (htmx)' if htmx else ''}"
    code = resp.status_code
    assert code < 500, f"{where} answered {code}"
    _assert_defensive_headers(resp)  # on every answer: pages, fragments, errors, downloads
    if role != "anonymous" and code == 200 and "html" in (resp.content_type or ""):
        assert "no-store" in resp.headers.get("Cache-Control", ""), f"{where}: cacheable"
    if target.rule is None:
        assert code == 405, f"{where}: no route takes {target.method}, yet it answered {code}"
        return
    kind = target.kind
    if kind == PUBLIC:
        return
    if role == "anonymous":
        if target.endpoint == "auth.logout" and code == 302:
            assert _path(resp) == "/login", where  # signing out while signed out: harmless
        elif htmx:
            assert code == 401, f"{where} answered {code}, not 401 with HX-Redirect"
            assert _path(resp, "HX-Redirect") == "/login", where
        else:
            assert code == 302 and _path(resp) == "/login", f"{where}: {code}, not sent to /login"
        return
    if kind in (ACCOUNT, SIGNED_IN):
        assert code not in (401, 403, 404), f"{where}: {code} for a signed-in user"
        return
    if role == "staff":
        _expect_staff(where, kind, target, code, app, ids)
    elif role == "reviewer":
        _expect_reader(where, kind, target, code)
    elif role == "other_admin":
        if target.takes_ids:
            assert code == 404, f"{where}: {code} for a row of another provider, not 404"
        elif kind == ACCREDITOR:
            assert code == 404, f"{where}: {code}; the console is not a provider user's"
        else:
            assert code not in (401, 403, 404, 405), f"{where}: {code} on their own provider"
    elif role == "other_accreditor":
        if target.takes_ids:
            assert code == 404, f"{where}: {code} for a provider it does not oversee, not 404"
        elif kind == ACCREDITOR:
            assert code not in (401, 403, 404, 405), f"{where}: {code} on its own console"
        elif code in (302, 303):  # the dashboard sends accreditor staff to their console
            assert _path(resp) == "/accreditor/", f"{where}: sent to {_path(resp)}"
        else:
            assert code == 404, f"{where}: {code}; accreditor staff have no provider here"


def _expect_staff(where: str, kind: str, target: Target, code: int, app, ids) -> None:
    if kind == ACCREDITOR:
        assert code == 404, f"{where}: {code}; the console is not a provider user's"
    elif kind == ADMIN:
        assert code == 403, f"{where}: {code}; staff are not the provider's admin"
    elif target.method == "GET":
        assert code in READ_OK, f"{where}: {code} on their own provider"
    else:
        assert code not in (401, 403, 405), f"{where}: staff may change their provider's data"
        if code == 404:  # only when an earlier POST of the walk removed the row
            assert not _row_exists(app, target, ids), f"{where}: 404 for an existing row"


def _expect_reader(where: str, kind: str, target: Target, code: int) -> None:
    """A reviewer: reads the provider's pages, changes nothing."""
    if kind == ACCREDITOR:
        assert code == 404, f"{where}: {code}; the console is not a provider user's"
    elif kind in (EDIT, ADMIN):
        assert code in (403, 404, 405), f"{where}: {code}; a reviewer changes nothing"
    else:
        assert code in READ_OK, f"{where}: {code} on their own provider"


# --- The walks ----------------------------------------------------------------------------------


def test_every_route_is_classified_and_its_arguments_known(app):
    rules = list(app.url_map.iter_rules())
    for rule in rules:
        _check_classified(rule)
    # Guard the guard: the table is what the app serves, with no stale entries left behind.
    stale = set(KIND) - {r.endpoint for r in rules}
    assert not stale, f"KIND names endpoints the app no longer has: {sorted(stale)}"


@pytest.mark.parametrize("role", ROLES)
def test_route_matrix(app, world, role):
    client = _signed_in(app, role)
    token = _token(client, role)
    ids = world["ids"]
    everything = _dump(app)
    a_before = _a_world(app, world)
    targets = _targets(app, ids)
    checked, seen = 0, set()
    for target in targets:
        for htmx in (False, True):
            if target.endpoint == "auth.logout" and role != "anonymous" and not htmx:
                continue  # the htmx logout (last of the walk) signs out once
            resp = _send(client, target, token, htmx)
            _expect(role, target, resp, htmx, app, ids)
            checked += 1
            if target.endpoint == "auth.logout":
                token = _token(client, "anonymous")  # signing out clears session and token
        seen.add(target.endpoint)
    # Guard the guard: every endpoint of the app was walked.
    assert seen - {"-"} == {r.endpoint for r in app.url_map.iter_rules()}
    record("route matrix: requests checked", checked)
    record("route matrix: (path, method, role) cells", len(targets))
    if role in ("reviewer", "anonymous"):
        assert _dump(app) == everything, f"a request of the {role} changed data"
    elif role in ("other_admin", "other_accreditor"):
        assert _a_world(app, world) == a_before, f"a request of {role} changed provider A"


@pytest.mark.parametrize("role", ["anonymous", "staff", "reviewer"])
def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(app, world, role):
    client = _signed_in(app, role)
    real = _token(client, role)
    before = _dump(app)
    posts = [t for t in _targets(app, world["ids"]) if t.method == "POST" and t.rule is not None]
    assert {"activity_form.new", "contacts.add", "auth.login", "auth.logout"} <= {
        t.endpoint for t in posts
    }
    checked = 0
    for target in posts:
        for token in (None, "forged", real[:-4] + "AAAA"):
            for htmx in (False, True):
                resp = _send(client, target, token, htmx)
                where = f"{target} as {role}, token={token and token[:8]}, htmx={htmx}"
                assert resp.status_code == 400, f"{where} answered {resp.status_code}"
                assert CSRF_MESSAGE in resp.get_data(as_text=True), where
                checked += 1
    record("csrf: tokenless or forged POSTs refused", checked)
    assert _dump(app) == before, f"a POST without a valid token changed data ({role})"
    # Control: the session is intact, so the refusals above were about the token alone.
    if role != "anonymous":
        assert client.get("/account/password").status_code == 200

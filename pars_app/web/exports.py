"""Downloads of batch files: the list's activities exported (.xlsx, XML), the blank activity
template, the learner-count template and the published XSD."""

from __future__ import annotations

import re
from functools import cache

from flask import Blueprint, Response, g, make_response, request
from flask_login import login_required

from ..io import XSD_PATH, build_template
from ..security import provider_required
from ..services import activity_list, clock, cycle, exports
from .params import to_int

bp = Blueprint("exports", __name__)

XLSX = exports.MEDIA_TYPES["xlsx"]


def download(data: bytes, media_type: str, filename: str) -> Response:
    """A file the browser saves rather than shows."""
    resp = make_response(data)
    resp.headers["Content-Type"] = media_type
    # Provider codes and uploaded files' names are free text: ASCII letters, digits, spaces
    # and ._- are kept, anything else (quotes, slashes, accents) becomes "_".
    safe = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip() or "download"
    resp.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return resp


def _export(kind: exports.Kind) -> Response:
    # The list's filters (page and page size play no part: every matching activity goes out).
    f = activity_list.parse_filter(request.args)
    done = exports.export_activities(g.provider.id, f, kind, clock.today())
    name = exports.filename(g.provider.code, f, kind)
    return download(done.data, exports.MEDIA_TYPES[kind], name)


# Any reader of the provider: its users of every role, and accreditor staff viewing it
# (read-only: an export changes nothing).
@bp.route("/exports/activities.xlsx")
@login_required
@provider_required()
def activities_xlsx():
    return _export("xlsx")


@bp.route("/exports/activities.xml")
@login_required
@provider_required()
def activities_xml():
    return _export("xml")


@cache
def _blank_template() -> bytes:
    return build_template()  # the same bytes for everyone: built once per process


@bp.route("/templates/activities.xlsx")
@login_required
def activity_template():
    return download(_blank_template(), XLSX, "activities-template.xlsx")


@bp.route("/templates/learner-counts.xlsx")
@login_required
def learner_counts_template():
    """Pre-filled with what still needs counts for the provider's year; blank without one."""
    provider = g.get("provider")
    if provider is None:
        return download(exports.learner_counts_xlsx(None, 0, clock.today()), XLSX, _counts_name())
    year = to_int(request.args.get("year"))
    if year is None or not 1950 <= year <= 2100:
        year = cycle.default_year(provider, clock.now())
    data = exports.learner_counts_xlsx(provider.id, year, clock.today())
    return download(data, XLSX, _counts_name(provider.code, year))


def _counts_name(code: str | None = None, year: int | None = None) -> str:
    return f"learner-counts-{code}-{year}.xlsx" if code else "learner-counts-template.xlsx"


@bp.route("/schema/activities.xsd")
def activities_xsd():
    # Public: a published schema that partners validate against before they have an account.
    resp = download(XSD_PATH.read_bytes(), "application/xml", "activities.xsd")
    resp.headers["Content-Disposition"] = 'inline; filename="activities.xsd"'
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp

"""The audit log: a provider admin's own (`/audit`); the accreditor's (`/accreditor/audit`)
renders through the same helpers."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, g, make_response, render_template, request, url_for
from flask_login import login_required

from ..io.table_xlsx import write_table
from ..security import is_htmx, provider_required
from ..services import audit, audit_log
from ..services.audit_log import AuditScope
from .exports import XLSX, download

bp = Blueprint("audit", __name__)

EXPORT_HEADERS = (
    "When (Central)",
    "User",
    "Provider code",
    "Provider",
    "Action",
    "Via",
    "Entity",
    "Entity id",
    "Details",
)


def render_log(scope: AuditScope, endpoint: str, export_endpoint: str, show_provider: bool):
    """The log page, or only its table for an htmx filter/paginate request."""
    f = audit_log.parse_filter(request.args)
    page = audit_log.audit_page(scope, f)
    context = dict(
        f=f,
        page=page,
        vias=audit.PATHS,
        endpoint=endpoint,
        export_url=url_for(export_endpoint, **f.args(page=1)),
        show_provider=show_provider,
        page_url=lambda n: url_for(endpoint, **f.args(page=n)),
    )
    template = "audit/_table.html" if is_htmx() else "audit/index.html"
    resp = make_response(render_template(template, **context))
    resp.headers["Vary"] = "HX-Request"
    if is_htmx():
        resp.headers["HX-Push-Url"] = url_for(endpoint, **f.args())
    return resp


def export_log(scope: AuditScope, filename: str) -> Response:
    """The filtered log (every page) as .xlsx."""
    f = audit_log.parse_filter(request.args)
    data = write_table("Audit log", EXPORT_HEADERS, _export_rows(scope, f))
    return download(data, XLSX, filename)


def _export_rows(scope: AuditScope, f: audit_log.AuditFilter) -> Iterator[list]:
    for row in audit_log.export_rows(scope, f):
        e = row.event
        yield [
            e.at,
            row.user_email or "",
            row.provider_code or "",
            row.provider_name or "",
            e.action,
            e.via,
            e.entity_type,
            e.entity_id,
            "; ".join(row.details),
        ]


@bp.route("/audit")
@login_required
@provider_required("admin")
def index():
    scope = AuditScope.for_provider(g.provider.id)
    return render_log(scope, "audit.index", "audit.export", show_provider=False)


@bp.route("/audit.xlsx")
@login_required
@provider_required("admin")
def export():
    scope = AuditScope.for_provider(g.provider.id)
    return export_log(scope, f"audit-{g.provider.code}.xlsx")

"""Blueprint registration and request-wide context (user, provider, tenant scope, errors)."""

from __future__ import annotations

from flask import (
    Flask,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import database  # noqa: F401  (installs the SQLite pragmas)
from ..extensions import login_manager
from ..models import Accreditor
from ..security import install_security_headers, is_htmx
from ..services import accounts, oversight
from ..tenancy import NO_ACCESS, TenantScope


def init_app(app: Flask) -> None:
    """Wire blueprints, the CLI, login handling and the per-request tenant context."""
    from ..cli import pars_cli
    from . import (
        accreditor,
        activities,
        activity_form,
        activity_history,
        agreement,
        audit,
        auth,
        contacts,
        dashboard,
        enduring,
        exports,
        filters,
        health,
        imports,
        summary,
    )

    for bp in (
        auth.bp,
        dashboard.bp,
        activities.bp,
        activity_form.bp,
        agreement.bp,
        contacts.bp,
        health.bp,
        enduring.bp,
        activity_history.bp,
        accreditor.bp,
        audit.bp,
        summary.bp,
        exports.bp,
        imports.bp,
    ):
        app.register_blueprint(bp)
    from .help import bp as help_bp  # the step guides (/help)

    app.register_blueprint(help_bp)
    app.cli.add_command(pars_cli)
    install_security_headers(app)
    filters.install(app)
    _install_login(app)
    _install_errors(app)
    app.before_request(_load_request_context)
    app.context_processor(_template_context)


def _install_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(accounts.load_user_from_session)

    @login_manager.unauthorized_handler
    def _unauthorized():
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if is_htmx() or request.headers.get("HX-Request"):
            # Never put the login page inside a table cell: send the browser there instead.
            resp = app.response_class(status=401)
            resp.headers["HX-Redirect"] = login_url
            return resp
        return redirect(login_url)


def _load_request_context() -> None:
    """Decide who this request acts for: one provider, or an accreditor's providers."""
    g.tenant_scope = NO_ACCESS
    g.membership = g.provider = g.accreditor = None
    g.read_only = False
    if not current_user.is_authenticated:
        return
    chosen = accounts.choose_membership(current_user, session.get("membership_id"))
    if chosen is None:
        return
    if chosen.provider_id is not None:
        g.membership, g.provider = chosen, chosen.provider
        g.tenant_scope = TenantScope(provider_id=chosen.provider_id)
    elif chosen.accreditor is not None:
        g.accreditor = chosen.accreditor
        g.tenant_scope = (
            TenantScope(everything=True)
            if chosen.accreditor.is_national
            else TenantScope(accreditor_id=chosen.accreditor_id)
        )
        _read_provider_as_accreditor(chosen.accreditor)


def _read_provider_as_accreditor(accreditor: Accreditor) -> None:
    """Accreditor staff reading one provider's own pages (the console's provider view).

    g.provider is that provider and g.membership stays None, so `provider_required(*EDITORS)`
    refuses every change and templates hide edit controls (`g.read_only`). The scope narrows to
    that provider, so its pages show nothing of another; the console keeps the full scope.
    """
    from .accreditor import VIEWING_KEY

    wanted = session.get(VIEWING_KEY)
    if wanted is None or request.blueprint in (None, "accreditor"):
        return
    provider = oversight.provider_in_scope(accreditor, wanted)
    if provider is None:
        session.pop(VIEWING_KEY, None)  # out of scope now (or another user's leftover)
        return
    g.provider, g.read_only = provider, True
    g.tenant_scope = TenantScope(provider_id=provider.id)


def _template_context() -> dict:
    return {"nav_year": g.get("year")}


def _install_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        msg = "Your form expired or came from elsewhere. Reload the page and try again."
        if is_htmx():
            flash(msg, "error")
            return render_template("_flash.html", flash_oob=True), 400
        return render_template("errors/400.html", message=msg), 400

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if request.path.startswith("/health"):
            return jsonify(error=err.name), err.code
        code = err.code or 500
        template = f"errors/{code}.html" if code in (403, 404, 413, 429) else "errors/400.html"
        return render_template(template, message=err.description), code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        from ..extensions import db

        db.session.rollback()
        return render_template("errors/500.html"), 500

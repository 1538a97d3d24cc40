"""Security headers, role checks and small helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, g, request
from flask_login import current_user

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def install_security_headers(app: Flask) -> None:
    """Send the same defensive headers on every response, error pages included."""

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user and getattr(current_user, "is_authenticated", False):
            # Compliance records: never leave them in a shared browser's cache.
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp


def is_htmx() -> bool:
    """True for an htmx request that swaps a fragment (not a history restore)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def provider_required(*roles: str) -> Callable:
    """Require a provider membership, optionally one of `roles`; accreditor staff read only.

    With no roles the view is readable by everyone allowed to see the provider (its own users
    and staff of its accreditor). With roles, only provider users holding one of them pass.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if g.get("provider") is None:
                abort(404)
            if roles and (g.get("membership") is None or g.membership.role not in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


# Roles that may change provider data. Reviewers and accreditor staff only read.
EDITORS = ("admin", "staff")

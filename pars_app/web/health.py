"""Liveness and readiness: `/health` answers 200 when the database answers."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("health", __name__)


@bp.route("/health")
def health():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not ready", never a stack trace
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")

"""Sign in, sign out, change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from ..extensions import limiter
from ..services import accounts

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField("New password again", validators=[DataRequired(), Length(max=200)])


def _login_rate() -> str:
    return current_app.config["PARS_LOGIN_RATE"]


def _safe_next(target: str | None) -> str:
    """Only follow same-site relative paths after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme:
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = accounts.authenticate(
            form.email.data,
            form.password.data,
            threshold=current_app.config["PARS_LOCKOUT_THRESHOLD"],
            lock_minutes=current_app.config["PARS_LOCKOUT_MINUTES"],
        )
        if result.user is not None:
            session.clear()  # no session fixation: start a fresh session on sign-in
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    elif request.method == "POST":
        error = "Enter your email address and password."
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current.data, form.new.data, form.confirm.data
            )
        except accounts.AccountError as err:
            error = str(err)
        else:
            # Re-issue this session's cookie with the new token; pass the user, not the proxy.
            login_user(current_user._get_current_object())
            flash("Password changed. Other sessions have been signed out.", "success")
            return redirect(url_for("dashboard.index"))
    elif request.method == "POST":
        error = "Fill in all three fields."
    return render_template("auth/password.html", form=form, error=error), 422 if error else 200

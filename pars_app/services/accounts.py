"""Accounts: password hashing, sign-in with lockout, password change, user creation."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    ACCREDITOR_ROLE,
    PROVIDER_ROLES,
    Accreditor,
    Membership,
    Provider,
    User,
    utcnow,
)
from . import audit

_hasher = PasswordHasher()
# Verifying against this keeps the time of "unknown email" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 10
GENERIC_LOGIN_ERROR = "That email and password do not match an account, or the account is locked."


class AccountError(ValueError):
    """A refused account operation, with a message fit to show the user."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def load_user_from_session(token: str) -> User | None:
    """Flask-Login's loader: the cookie holds `id:session_token`; a rotated token fails."""
    uid, _, tok = token.partition(":")
    if not (uid.isascii() and uid.isdigit()) or not tok:
        return None
    user = db.session.get(User, int(uid))
    if user is None or not user.is_active_account:
        return None
    return user if hmac.compare_digest(user.session_token, tok) else None


def authenticate(email: str, password: str, *, threshold: int, lock_minutes: int) -> LoginResult:
    """Check credentials, counting failures; `threshold` failures in a row lock the account.

    Every refusal returns the same message, so the form never reveals which emails exist or
    that an account is locked (the lockout is audited instead).
    """
    now = utcnow()
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        _safe_verify(_DUMMY_HASH, password)
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    if user.locked_until is not None and user.locked_until > now:
        _safe_verify(_DUMMY_HASH, password)
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    if not user.is_active_account or not _safe_verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= threshold:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            audit.record("account.locked", user_id=user.id, entity=user, minutes=lock_minutes)
        db.session.commit()
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record("account.login", user_id=user.id, entity=user)
    db.session.commit()
    return LoginResult(user)


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    """Change a password and rotate the session token, signing out every other session."""
    if not _safe_verify(user.password_hash, current):
        raise AccountError("Your current password is not right.")
    check_new_password(new, confirm)
    user.password_hash = hash_password(new)
    user.session_token = secrets.token_hex(32)
    user.password_changed_at = utcnow()
    audit.record("account.password_changed", user_id=user.id, entity=user)
    db.session.commit()


def check_new_password(new: str, confirm: str) -> None:
    if len(new) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if new != confirm:
        raise AccountError("The two new passwords are not the same.")


def choose_membership(user: User, preferred_id: int | None) -> Membership | None:
    """The membership a session acts under: the one chosen, else provider roles first."""
    ordered = sorted(user.memberships, key=lambda m: (m.provider_id is None, m.id))
    for m in ordered:
        if m.id == preferred_id:
            return m
    return ordered[0] if ordered else None


def create_user(
    email: str,
    password: str,
    *,
    role: str,
    provider_code: str | None = None,
    accreditor_code: str | None = None,
    name: str = "",
    via: str = "cli",
) -> User:
    """Create a user (or add a membership to an existing one) at a provider or accreditor."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address.")
    provider, accreditor = _membership_target(role, provider_code, accreditor_code)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        if len(password) < 4:
            raise AccountError("Give a password of at least 4 characters.")
        user = User(
            email=email,
            name=name,
            password_hash=hash_password(password),
            session_token=secrets.token_hex(32),
        )
        db.session.add(user)
        db.session.flush()
    exists = any(
        m.provider_id == (provider.id if provider else None)
        and m.accreditor_id == (accreditor.id if accreditor else None)
        for m in user.memberships
    )
    if not exists:
        user.memberships.append(
            Membership(
                provider_id=provider.id if provider else None,
                accreditor_id=accreditor.id if accreditor else None,
                role=role,
            )
        )
    audit.record(
        "account.created",
        user_id=None,
        provider_id=provider.id if provider else None,
        accreditor_id=accreditor.id if accreditor else None,
        entity=user,
        via=via,
        role=role,
    )
    db.session.commit()
    return user


def _membership_target(
    role: str, provider_code: str | None, accreditor_code: str | None
) -> tuple[Provider | None, Accreditor | None]:
    if role == ACCREDITOR_ROLE:
        if not accreditor_code or provider_code:
            raise AccountError("Role 'accreditor' needs --accreditor CODE (and no --provider).")
        acc = db.session.scalar(select(Accreditor).where(Accreditor.code == accreditor_code))
        if acc is None:
            raise AccountError(f"No accreditor with code {accreditor_code!r}.")
        return None, acc
    if role not in PROVIDER_ROLES:
        allowed = ", ".join((*PROVIDER_ROLES, ACCREDITOR_ROLE))
        raise AccountError(f"Role must be one of {allowed}, not {role!r}.")
    if not provider_code or accreditor_code:
        raise AccountError(f"Role {role!r} needs --provider CODE (and no --accreditor).")
    prov = db.session.scalar(select(Provider).where(Provider.code == provider_code))
    if prov is None:
        raise AccountError(f"No provider with code {provider_code!r}.")
    return prov, None

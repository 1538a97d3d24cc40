"""Contact information rules (spec §8): roles, required roles, field validation."""

from __future__ import annotations

import re

CONTACT_ROLES: dict[str, str] = {
    "primary": "Primary Contact",
    "billing": "Billing Contact",
    "ceo": "CEO (Chief Executive Officer)",
    "other": "Other contact",
}
# PARS asks for one of each of these; "other" contacts are optional and may repeat.
REQUIRED_ROLES = ("primary", "billing", "ceo")

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE_CHARS = re.compile(r"^[0-9 ()+.\-x/ext]+$", re.IGNORECASE)


def contact_errors(role: str, name: str, title: str, email: str, phone: str) -> dict[str, str]:
    """Field → message for every invalid field of a contact (empty when it is valid)."""
    errors: dict[str, str] = {}
    if role not in CONTACT_ROLES:
        errors["role"] = "Choose a role from the list."
    if not name.strip():
        errors["name"] = "Enter the contact's name."
    elif len(name) > 200 or _has_control(name):
        errors["name"] = "Use at most 200 ordinary characters."
    if len(title) > 200 or _has_control(title):
        errors["title"] = "Use at most 200 ordinary characters."
    if not email.strip():
        errors["email"] = "Enter an email address."
    elif len(email) > 254 or not _EMAIL.match(email.strip()):
        errors["email"] = "Enter an email address like name@example.org."
    digits = sum(ch.isdigit() for ch in phone)
    if not phone.strip():
        errors["phone"] = "Enter a phone number."
    elif not _PHONE_CHARS.match(phone.strip()) or not 7 <= digits <= 20 or len(phone) > 40:
        errors["phone"] = "Enter a phone number of 7 to 20 digits, e.g. (312) 555-0100."
    return errors


def missing_roles(roles_present: list[str]) -> list[str]:
    """Labels of the required roles that have no contact yet."""
    return [CONTACT_ROLES[r] for r in REQUIRED_ROLES if r not in roles_present]


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 for ch in text)

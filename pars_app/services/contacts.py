"""Contact information (checklist step 5): edit contacts, confirm they are current."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm.exc import StaleDataError

from ..domain.contacts import CONTACT_ROLES, REQUIRED_ROLES, contact_errors, missing_roles
from ..extensions import db
from ..models import Contact, ContactReview, Provider, User
from . import audit

FIELDS = ("role", "name", "title", "email", "phone")


class ContactInvalid(ValueError):
    """The submitted values break the rules; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class ContactConflict(RuntimeError):
    """Someone saved the contact after this user opened it; `current` is what is stored now."""

    def __init__(self, current: Contact):
        super().__init__("changed by someone else")
        self.current = current


class ContactRefused(ValueError):
    """An action that is not allowed, with a message fit to show."""


@dataclass(frozen=True)
class ContactsOverview:
    contacts: list[Contact]
    last_review: ContactReview | None
    missing: list[str]


def _role_order():
    return case({role: i for i, role in enumerate(CONTACT_ROLES)}, value=Contact.role, else_=99)


def overview(provider: Provider) -> ContactsOverview:
    contacts = list(
        db.session.scalars(
            select(Contact)
            .where(Contact.provider_id == provider.id)
            .order_by(_role_order(), Contact.name, Contact.id)
        )
    )
    review = db.session.scalar(
        select(ContactReview)
        .where(ContactReview.provider_id == provider.id)
        .order_by(ContactReview.reviewed_at.desc())
        .limit(1)
    )
    return ContactsOverview(contacts, review, missing_roles([c.role for c in contacts]))


def clean(values: dict[str, str]) -> dict[str, str]:
    """Trimmed values of the contact fields; anything else submitted is ignored."""
    return {f: str(values.get(f) or "").strip() for f in FIELDS}


def add_contact(provider: Provider, values: dict[str, str], user: User, now: datetime) -> Contact:
    data = clean(values)
    _check(data)
    _refuse_second_of_a_kind(provider, data["role"], None)
    contact = Contact(provider_id=provider.id, updated_by_id=user.id, **data)
    db.session.add(contact)
    db.session.flush()
    _reviewed(provider, user, now, "contact.added", contact, role=data["role"])
    return contact


def update_contact(
    provider: Provider,
    contact: Contact,
    values: dict[str, str],
    version: int,
    user: User,
    now: datetime,
) -> Contact:
    """Save an edit made from `version`; a newer stored version means a conflict, not a save."""
    if contact.version != version:
        raise ContactConflict(contact)
    data = clean(values)
    _check(data)
    _refuse_second_of_a_kind(provider, data["role"], contact.id)
    changed = {f: (getattr(contact, f), v) for f, v in data.items() if getattr(contact, f) != v}
    for field, (_old, new) in changed.items():
        setattr(contact, field, new)
    if changed:
        contact.updated_by_id = user.id
        try:
            _reviewed(provider, user, now, "contact.updated", contact, changes=changed)
        except StaleDataError:  # saved by someone else between our check and our commit
            db.session.rollback()
            raise ContactConflict(db.session.get(Contact, contact.id)) from None
    return contact


def delete_contact(provider: Provider, contact: Contact, user: User, now: datetime) -> None:
    if contact.role in REQUIRED_ROLES:
        raise ContactRefused(
            f"The {CONTACT_ROLES[contact.role]} cannot be removed; edit it to the new person."
        )
    db.session.delete(contact)
    _reviewed(provider, user, now, "contact.removed", contact, name=contact.name)


def confirm_current(provider: Provider, user: User, now: datetime) -> ContactReview:
    """Record that the contacts were checked and are current (checklist step 5)."""
    missing = overview(provider).missing
    if missing:
        raise ContactRefused("Add the " + " and the ".join(missing) + " before confirming.")
    review = ContactReview(provider_id=provider.id, reviewed_at=now, reviewed_by_id=user.id)
    db.session.add(review)
    audit.record("contacts.confirmed", user_id=user.id, provider_id=provider.id, entity=review)
    db.session.commit()
    return review


def _check(data: dict[str, str]) -> None:
    errors = contact_errors(**data)
    if errors:
        raise ContactInvalid(errors)


def _refuse_second_of_a_kind(provider: Provider, role: str, contact_id: int | None) -> None:
    if role not in REQUIRED_ROLES:
        return
    clash = db.session.scalar(
        select(Contact.id).where(
            Contact.provider_id == provider.id, Contact.role == role, Contact.id != contact_id
        )
    )
    if clash is not None:
        raise ContactInvalid({"role": f"There is already a {CONTACT_ROLES[role]}; edit that one."})


def _reviewed(provider, user, now, action, contact, **details) -> None:
    """An edit is a review too (spec §8: reviewed = confirmed unchanged or edited)."""
    db.session.add(
        ContactReview(
            provider_id=provider.id, reviewed_at=now, reviewed_by_id=user.id, changed=True
        )
    )
    audit.record(action, user_id=user.id, provider_id=provider.id, entity=contact, **details)
    db.session.commit()

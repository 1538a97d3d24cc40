"""Typed SQLAlchemy models, split by aggregate. Columns and relationships only; rules live in
`pars_app.domain`."""

from .activity import Activity, CommercialSupporter, JointProvider, LearnerSnapshot, MocRegistration
from .base import ProviderScoped
from .cycle import AgreementAcceptance, AgreementText, ReportingDeadline, YearLock
from .ops import AuditEvent, ImportFile, ImportJob, ImportRow
from .org import (
    ACCREDITOR_ROLE,
    PROVIDER_ROLES,
    Accreditor,
    Contact,
    ContactReview,
    Membership,
    Provider,
    User,
)
from .summary import ProgramSummary
from .types import utcnow

__all__ = [
    "ACCREDITOR_ROLE",
    "PROVIDER_ROLES",
    "Accreditor",
    "Activity",
    "AgreementAcceptance",
    "AgreementText",
    "AuditEvent",
    "CommercialSupporter",
    "Contact",
    "ContactReview",
    "ImportFile",
    "ImportJob",
    "ImportRow",
    "JointProvider",
    "LearnerSnapshot",
    "Membership",
    "MocRegistration",
    "ProgramSummary",
    "Provider",
    "ProviderScoped",
    "ReportingDeadline",
    "User",
    "YearLock",
    "utcnow",
]

"""Central tenant scoping: every ORM query for provider-owned rows is filtered to the providers
the signed-in user may see.

Views still load rows with ordinary queries (`db.get_or_404(Activity, id)`); the filter is
added here, for every SELECT, UPDATE and DELETE that touches a `ProviderScoped` class, so a view
that forgets a `where provider_id = …` cannot read or change another provider's rows — the
row simply does not exist for that user, and the view answers 404.

Outside a request (CLI, jobs, tests' setup) there is no scope: those paths are trusted and pass
provider ids explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from .models import Provider, ProviderScoped


@dataclass(frozen=True)
class TenantScope:
    """What one request may see: one provider, one accreditor's providers, or everything."""

    provider_id: int | None = None
    accreditor_id: int | None = None
    everything: bool = False
    # Set for requests that must see no tenant rows at all (anonymous, no membership).
    nothing: bool = False


NO_ACCESS = TenantScope(nothing=True)


def current_scope() -> TenantScope | None:
    """The scope of the current request, or None outside a request (trusted code)."""
    if not has_request_context():
        return None
    return g.get("tenant_scope", NO_ACCESS)


def _criteria(scope: TenantScope):
    if scope.nothing:
        return lambda cls: cls.provider_id.is_(None)  # provider_id is NOT NULL: matches nothing
    if scope.provider_id is not None:
        pid = scope.provider_id
        return lambda cls: cls.provider_id == pid
    aid = scope.accreditor_id
    return lambda cls: cls.provider_id.in_(select(Provider.id).where(Provider.accreditor_id == aid))


@event.listens_for(Session, "do_orm_execute")
def _scope_tenant_rows(state: ORMExecuteState) -> None:
    scope = current_scope()
    if scope is None or scope.everything:
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent query already carried the criteria (propagated to loaders)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(ProviderScoped, _criteria(scope), include_aliases=True)
    )

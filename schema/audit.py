"""The audit log in GraphQL: ``auditEvents``, newest first, for holders of audit.read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from models import audit
from models.audit import AuditFilter
from models.errors import DomainError, ErrorCode
from schema.context import Info
from schema.errors import or_bad_input
from schema.ids import from_global_id, to_global_id
from schema.relay import PAGE_ARGS_DOC, Connection, Node, connection, page_args
from schema.staff import node_pk

__all__ = ["AuditActor", "AuditEvent", "AuditQueries"]

# The GraphQL type of each audited entity, for global IDs both ways.
_NODE_OF = {
    "customer": "Customer", "customer_link": "CustomerLink", "interaction": "Interaction", "order": "Order",
    "complaint": "Complaint", "follow_up": "FollowUp",
    "user": "User", "role": "Role", "team": "Team", "api_token": "ApiToken",
}
_ENTITY_OF = {node: entity for entity, node in _NODE_OF.items()}


@strawberry.type(
    description=(
        "Who acted in an audit event, named for the reader: their User ID, email and name. The account "
        "itself (its team, roles, sign-ins) is for those whose reach includes it, through `node(id:)`."
    )
)
class AuditActor:
    id: strawberry.ID = strawberry.field(description="The acting user's global ID.")
    email: str = strawberry.field(description="Their sign-in email.")
    display_name: str = strawberry.field(description="Their name as colleagues see it.")


@strawberry.type(description="One change, as the audit log keeps it: who, what, when, from where.")
class AuditEvent(Node):
    loader = "audit_event"
    pk: strawberry.Private[int]
    actor_pk: strawberry.Private[int | None]
    at: datetime = strawberry.field(description="When the change committed.")
    action: str = strawberry.field(description="What was done, `entity.verb`, such as customer.update.")
    entity_type: str = strawberry.field(description="The kind of thing changed, such as customer or role.")
    entity_id: str | None = strawberry.field(description="The changed thing's global ID (its number where it has none).")
    changes: JSON = strawberry.field(
        description="`{field: {from, to}}` for each changed field; personal values masked, secrets left out."
    )
    client_ip: str | None = strawberry.field(description="The address the request came from.")
    actor_token_id: strawberry.ID | None = strawberry.field(description="The API token the actor used, if any.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEvent:
        entity = row["entity_id"]
        node = _NODE_OF.get(row["entity_type"])
        return cls(
            id=to_global_id("AuditEvent", row["id"]), pk=row["id"], actor_pk=row["actor_user_id"], at=row["at"],
            action=row["action"], entity_type=row["entity_type"],
            entity_id=None if entity is None else to_global_id(node, entity) if node else str(entity),
            changes=row["changes"], client_ip=row["client_ip"],
            actor_token_id=to_global_id("ApiToken", row["actor_token_id"]) if row["actor_token_id"] else None,
        )

    @strawberry.field(description="Who acted; null for kehu itself (the command line, the demo loader).")
    async def actor(self, info: Info) -> AuditActor | None:
        if self.actor_pk is None:
            return None
        row = await info.context.loaders.audit_actor.load(self.actor_pk)
        if row is None:
            return None
        return AuditActor(id=to_global_id("User", row["id"]), email=row["email"], display_name=row["display_name"])


@strawberry.input(description="Conditions on the audit log; all given must hold.")
class AuditEventFilterInput:
    actor_id: strawberry.ID | None = strawberry.field(default=None, description="Changes made by this user.")
    entity_id: strawberry.ID | None = strawberry.field(default=None, description="Changes to this object (any global ID).")
    entity_type: str | None = strawberry.field(default=None, description="Changes to this kind of thing, such as customer.")
    action: str | None = strawberry.field(default=None, description="Only this action, such as role.update.")
    since: datetime | None = strawberry.field(default=None, description="At or after this time.")
    until: datetime | None = strawberry.field(default=None, description="Before this time.")

    def to_domain(self) -> AuditFilter:
        entity_type, entity_id = self.entity_type, None
        if self.entity_id is not None:
            node, entity_id = from_global_id(self.entity_id, "entityId")
            if node not in _ENTITY_OF:
                raise DomainError.single("entityId", "this kind of object is not audited.", ErrorCode.INVALID)
            entity_type = _ENTITY_OF[node]
        return AuditFilter(
            actor_user_id=node_pk(self.actor_id, "actorId", "User") if self.actor_id is not None else None,
            entity_type=entity_type, entity_id=entity_id, action=self.action, since=self.since, until=self.until,
        )


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The audit log, newest first: events about customers in your data scope (deleted ones too; those events need customer.read), about staff, tokens, sessions and teams of your team set, and about roles. Needs audit.read.")
    async def audit_events(
        self,
        info: Info,
        filter: Annotated[AuditEventFilterInput | None, strawberry.argument(description="Conditions to narrow the log.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_ARGS_DOC["first"])] = None,
        after: Annotated[str | None, strawberry.argument(description=PAGE_ARGS_DOC["after"])] = None,
        last: Annotated[int | None, strawberry.argument(description=PAGE_ARGS_DOC["last"])] = None,
        before: Annotated[str | None, strawberry.argument(description=PAGE_ARGS_DOC["before"])] = None,
    ) -> Connection[AuditEvent]:
        scope, args = info.context.scope, page_args(first, after, last, before)

        async def fetch():
            domain_filter = (filter or AuditEventFilterInput()).to_domain()
            return await audit.list_audit_events(scope, domain_filter, args), domain_filter

        page, domain_filter = await or_bad_input(fetch())
        return connection(page, AuditEvent.from_row, lambda: audit.count_audit_events(scope, domain_filter))

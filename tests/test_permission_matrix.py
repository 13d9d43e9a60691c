"""Each role × each operation: allowed, or FORBIDDEN with nothing changed, exactly as the role says."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from models.access import ApiToken, Role, Team, User
from models.customers import Customer, create_customer
from models.interactions import Interaction
from models.orders import Order
from models.scope import Scope
from models.staff import create_role
from schema.ids import to_global_id
from server.app import create_app
from tests.conftest import bearer_for

ROLES = {
    "nobody": [],
    "reader": ["customer.read"],
    "sales": ["customer.read", "customer.create", "customer.update", "interaction.create", "order.create"],
    "deleter": ["customer.read", "customer.delete"],
    "user admin": ["user.manage"],
    "role admin": ["role.manage"],
    "token admin": ["token.manage"],
    "auditor": ["audit.read"],
}


@dataclass(frozen=True)
class Operation:
    document: str
    needs: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    table: type | None = None
    """For a write: the model whose row count grows by one when allowed and stays when refused."""

    def allows(self, permissions: list[str]) -> bool:
        return all(p in permissions for p in self.needs) and (not self.any_of or any(p in permissions for p in self.any_of))


OPERATIONS = {
    "customers": Operation("{ customers { totalCount } }", ("customer.read",)),
    "createCustomer": Operation('mutation { createCustomer(input: {name: "新客户"}) { errors { code } } }', ("customer.create", "customer.read"), table=Customer),
    "updateCustomer": Operation('mutation($c: ID!) { updateCustomer(input: {id: $c, name: "改名"}) { errors { code } } }', ("customer.update", "customer.read")),
    "deleteCustomer": Operation("mutation($c: ID!) { deleteCustomer(input: {id: $c}) { errors { code } } }", ("customer.delete", "customer.read")),
    "logInteraction": Operation('mutation($c: ID!) { logInteraction(input: {customerId: $c, kind: CALL, direction: INBOUND, summary: "hi"}) { errors { code } } }', ("interaction.create", "customer.read"), table=Interaction),
    "recordOrder": Operation('mutation($c: ID!) { recordOrder(input: {customerId: $c, amount: "1.00", currency: "CNY"}) { errors { code } } }', ("order.create", "customer.read"), table=Order),
    "users": Operation("{ users { totalCount } }", ("user.manage",)),
    "createUser": Operation('mutation { createUser(input: {email: "new@example.com", displayName: "N", password: "correct horse battery staple"}) { errors { code } } }', ("user.manage",), table=User),
    "roles": Operation("{ roles { totalCount } }", any_of=("role.manage", "user.manage")),
    "createRole": Operation('mutation { createRole(input: {name: "Empty", permissions: [], dataScope: OWN}) { errors { code } } }', ("role.manage",), table=Role),
    "teams": Operation("{ teams { totalCount } }", any_of=("role.manage", "user.manage")),
    "createTeam": Operation('mutation { createTeam(input: {name: "T"}) { errors { code } } }', ("role.manage",), table=Team),
    "permissionCodes": Operation("{ permissionCodes { code } }", any_of=("role.manage", "user.manage")),
    "apiTokens": Operation("{ apiTokens { totalCount } }"),  # one's own without token.manage
    "createApiToken": Operation('mutation($me: ID!) { createApiToken(input: {name: "x", userId: $me}) { errors { code } } }', ("token.manage",), table=ApiToken),
    "auditEvents": Operation("{ auditEvents { totalCount } }", ("audit.read",)),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("role", list(ROLES))
async def test_the_role_decides(clean_db, settings, role, operation):
    op, permissions = OPERATIONS[operation], ROLES[role]
    customer = await create_customer(Scope.of_system(), {"name": "张伟"})
    made = await create_role(Scope.of_system(), role, permissions, "ALL")
    headers = await bearer_for("staff@example.com")
    user = await User.get(email="staff@example.com")
    await user.roles.add(await Role.get(id=made["id"]))
    before = await op.table.all().count() if op.table else None
    name_before = (await Customer.get(id=customer["id"])).name

    variables = {"c": to_global_id("Customer", customer["id"]), "me": to_global_id("User", user.id)}
    used = {k: v for k, v in variables.items() if f"${k}" in op.document}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://kehu.test", headers=headers) as http:
        body = (await http.post("/graphql", json={"query": op.document, "variables": used})).json()

    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    data = body.get("data") or {}
    payload_codes = [e["code"] for value in data.values() if isinstance(value, dict) for e in value.get("errors", [])]
    if op.allows(permissions):
        assert codes == [] and payload_codes == [], body
        if op.table:
            assert await op.table.all().count() == before + 1
    else:
        assert "FORBIDDEN" in codes + payload_codes, body
        if op.table:
            assert await op.table.all().count() == before
        stored = await Customer.get(id=customer["id"])
        assert stored.name == name_before and stored.deleted_at is None

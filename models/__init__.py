"""kehu's domain: Tortoise models and the operations on them.

The one place where business rules, validation, access scope and audit live; the GraphQL
API (schema/) and the admin (server/) call these operations and add nothing to them.
"""

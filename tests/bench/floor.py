"""The floor: shape (a) answered by one hand-written SQL statement through asyncpg behind
Starlette, with the same bearer-token check and TEAM scope filter kehu applies.

PostgreSQL builds the JSON itself, so this is about the least Python can do for the page.
"""

from __future__ import annotations

import contextlib
import hashlib
import os

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE_SQL = """
WITH viewer AS (
  SELECT u.team_id FROM api_token t JOIN staff_user u ON u.id = t.user_id
  WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.is_active
), page AS (
  SELECT c.* FROM customer c, viewer
  WHERE c.team_id = viewer.team_id AND c.deleted_at IS NULL
  ORDER BY c.created_at, c.id LIMIT 20
)
SELECT json_build_object('data', json_build_object('customers', json_build_object('edges', COALESCE(json_agg(
  json_build_object('node', json_build_object(
    'id', p.id, 'name', p.name,
    'referrer', (SELECT json_build_object('id', r.id, 'name', r.name) FROM customer r, viewer
                 WHERE r.id = p.referrer_id AND r.team_id = viewer.team_id AND r.deleted_at IS NULL),
    'referrals', (SELECT COALESCE(json_agg(json_build_object('id', x.id, 'name', x.name)), '[]') FROM (
                   SELECT f.id, f.name FROM customer f, viewer
                   WHERE f.referrer_id = p.id AND f.team_id = viewer.team_id AND f.deleted_at IS NULL
                   ORDER BY f.referred_at DESC, f.id DESC LIMIT 10) x),
    'interactions', (SELECT COALESCE(json_agg(json_build_object('kind', y.kind, 'summary', y.summary, 'occurredAt', y.occurred_at)), '[]') FROM (
                   SELECT i.kind, i.summary, i.occurred_at FROM interaction i WHERE i.customer_id = p.id
                   ORDER BY i.occurred_at DESC, i.id DESC LIMIT 5) y)
  )) ORDER BY p.created_at, p.id), '[]'))))::text AS body
FROM page p
"""


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=4, max_size=10)
    yield
    await app.state.pool.close()


async def page(request: Request) -> Response:
    await request.body()
    secret = request.headers.get("authorization", "").removeprefix("Bearer ")
    async with request.app.state.pool.acquire() as connection:
        body = await connection.fetchval(PAGE_SQL, hashlib.sha256(secret.encode()).hexdigest())
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/graphql", page, methods=["POST"])], lifespan=lifespan)

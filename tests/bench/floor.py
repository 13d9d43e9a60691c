"""The floor: shapes answered by one hand-written SQL statement each through asyncpg behind
Starlette, with the same bearer-token check and visibility filter kehu applies: (a) the page at
/graphql, the complaint queue (e) at /queue and the breached list (f) at /breached.

PostgreSQL builds the JSON itself, so this is about the least Python can do for each. The
complaint floors compute the SLA fields in SQL around the clock, as the bench's complaints
count (working-time clocks would need the working calendar in SQL); ids are raw, not global.
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


_VIEWER = """viewer AS (
  SELECT u.id AS user_id, u.team_id FROM api_token t JOIN staff_user u ON u.id = t.user_id
  WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.is_active
)"""
# A complaint is visible where its customer is, and to its assignee (models.complaints.visible).
_VISIBLE = "((c.team_id = viewer.team_id AND c.deleted_at IS NULL) OR k.assignee_id = viewer.user_id)"
_OPEN = "('new', 'acknowledged', 'in_progress', 'waiting_on_customer', 'reopened')"
_RUNNING = "('new', 'acknowledged', 'in_progress', 'reopened')"

QUEUE_SQL = f"""
WITH {_VIEWER}, page AS (
  SELECT k.*, CASE WHEN c.team_id = viewer.team_id AND c.deleted_at IS NULL THEN c.name END AS customer_name
  FROM complaint k JOIN customer c ON c.id = k.customer_id, viewer
  WHERE {_VISIBLE} AND k.status IN {_OPEN}
  ORDER BY k.due_at, k.id LIMIT 20
)
SELECT json_build_object('data', json_build_object('complaints', json_build_object('edges', COALESCE(json_agg(
  json_build_object('node', json_build_object(
    'id', p.id, 'reference', p.reference, 'subject', p.subject, 'status', upper(p.status), 'priority', upper(p.priority),
    'customer', CASE WHEN p.customer_name IS NOT NULL THEN json_build_object('id', p.customer_id, 'name', p.customer_name) END,
    'assignee', (SELECT json_build_object('displayName', u.display_name) FROM staff_user u WHERE u.id = p.assignee_id),
    'sla', json_build_object(
      'firstResponseDueAt', p.first_response_due_at, 'resolutionDueAt', p.resolution_due_at,
      'timeLeftSeconds', CASE WHEN p.first_responded_at IS NULL THEN round(extract(epoch FROM p.first_response_due_at - now()))
                              WHEN p.status IN {_RUNNING} AND p.resolved_at IS NULL
                              THEN round(extract(epoch FROM p.resolution_due_at - now())) END,
      'firstResponseBreached', p.first_response_breached OR CASE WHEN p.first_responded_at IS NOT NULL
                               THEN p.first_responded_at > p.first_response_due_at ELSE now() > p.first_response_due_at END,
      'resolutionBreached', p.resolution_breached OR (p.status IN {_RUNNING} AND p.resolved_at IS NULL AND now() > p.resolution_due_at),
      'paused', p.status = 'waiting_on_customer')
  )) ORDER BY p.due_at, p.id), '[]'))))::text AS body
FROM page p
"""

# models.complaints.breached: a target missed, or one past now; kehu's default order, due first.
BREACHED_SQL = f"""
WITH {_VIEWER}, page AS (
  SELECT k.id, k.reference, k.due_at FROM complaint k JOIN customer c ON c.id = k.customer_id, viewer
  WHERE {_VISIBLE} AND (k.first_response_breached OR k.resolution_breached OR (k.status IN {_OPEN} AND (
    (k.first_responded_at IS NULL AND k.first_response_due_at < now())
    OR (k.status IN {_RUNNING} AND k.resolution_due_at < now()))))
  ORDER BY k.due_at, k.id LIMIT 20
)
SELECT json_build_object('data', json_build_object('complaints', json_build_object('edges', COALESCE(json_agg(
  json_build_object('node', json_build_object('id', p.id, 'reference', p.reference)) ORDER BY p.due_at, p.id), '[]'))))::text AS body
FROM page p
"""


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=4, max_size=10)
    yield
    await app.state.pool.close()


def _endpoint(sql: str):
    async def answer(request: Request) -> Response:
        await request.body()
        secret = request.headers.get("authorization", "").removeprefix("Bearer ")
        async with request.app.state.pool.acquire() as connection:
            body = await connection.fetchval(sql, hashlib.sha256(secret.encode()).hexdigest())
        return Response(body, media_type="application/json")

    return answer


PATHS = {"a_page": "/graphql", "e_queue": "/queue", "f_breached": "/breached"}
"""The shapes the floor answers, and where."""

app = Starlette(
    routes=[
        Route("/graphql", _endpoint(PAGE_SQL), methods=["POST"]),
        Route("/queue", _endpoint(QUEUE_SQL), methods=["POST"]),
        Route("/breached", _endpoint(BREACHED_SQL), methods=["POST"]),
    ],
    lifespan=lifespan,
)

"""The bench's complaint layer: 1,000,000 closed and 100,000 open complaints (at scale 1) over
the bench customers, loaded set-based (INSERT … SELECT over generate_series) once per dataset
and reused; its version lives in ``bench_complaints``.

Every row is a function of its id (PostgreSQL's ``hashint8extended``), so each run can put the
open complaints back where a fresh load would: ``ensure`` re-anchors their clocks to now (an
UPDATE of the open rows) and closes the complaints earlier runs filed. Of the open complaints
about 15% are long overdue and already breached (escalated once), about 8% passed their
running target in the last half hour and are not breached yet (what the first sweep escalates:
about 7% of the open ones, as waiting-on-customer ones do not run), the rest are due within
their policy's span. All count around the clock (the default SLA policies), so a raw-SQL floor
can compute the SLA fields itself.
"""

from __future__ import annotations

import asyncpg

__all__ = ["VERSION", "ensure"]

VERSION = 1
OPEN = 100_000
CLOSED = 1_000_000
PERMISSIONS = ("complaint.read", "complaint.create")
OPEN_STATUSES = ("new", "acknowledged", "in_progress", "waiting_on_customer", "reopened")

# Priority: the SLA policy's (first response, resolution) minutes of models.service_levels.DEFAULT_TARGETS;
# urgency is Priority.rank (low 0 … urgent 3).
_POLICY = """(VALUES ('low', 0, 1440, 10080), ('normal', 1, 480, 4320), ('high', 2, 240, 1440), ('urgent', 3, 60, 480))
  AS p(priority, urgency, f, r)"""
_HASHES = """abs(hashint8extended(g, 1)) % 100 AS us, abs(hashint8extended(g, 2)) % 10 AS up,
  abs(hashint8extended(g, 3)) % 100 AS ut, (abs(hashint8extended(g, 4)) % 10000) / 10000.0 AS fr,
  abs(hashint8extended(g, 5)) AS uc"""
_PRIORITY = "CASE WHEN up < 2 THEN 'low' WHEN up < 7 THEN 'normal' WHEN up < 9 THEN 'high' ELSE 'urgent' END"
_CHANNEL = "(ARRAY['phone', 'email', 'wechat', 'web', 'store', 'app'])[1 + uc % 6]"
_CATEGORY = "(ARRAY['product_quality', 'delivery', 'billing', 'service_attitude', 'other'])[1 + (uc / 6) % 5]"

# The open complaints with ids $3 … $3 + $4 - 1 as of now ($1), over customers 1 … $2.
# target: the due time of the target that runs (first response while NEW, else resolution).
OPEN_SELECT = f"""
WITH s AS (
  SELECT g AS id, 1 + (g * 7919) % $2 AS customer_id, {_HASHES},
    CASE WHEN abs(hashint8extended(g, 1)) % 100 < 30 THEN 'new' WHEN abs(hashint8extended(g, 1)) % 100 < 45 THEN 'acknowledged'
         WHEN abs(hashint8extended(g, 1)) % 100 < 80 THEN 'in_progress'
         WHEN abs(hashint8extended(g, 1)) % 100 < 90 THEN 'waiting_on_customer' ELSE 'reopened' END AS status
  FROM generate_series($3::bigint, $3::bigint + $4 - 1) g
), t AS (
  SELECT s.*, p.urgency, p.f, p.r, CASE WHEN s.status = 'new' THEN p.f ELSE p.r END AS span, p.priority
  FROM s JOIN {_POLICY} ON p.priority = {_PRIORITY.replace('up', 's.up')}
), d AS (
  SELECT t.*, CASE
      WHEN ut < 15 THEN $1::timestamptz - interval '31 minutes' - make_interval(secs => fr * span * 60)
      WHEN ut < 23 THEN $1::timestamptz - make_interval(secs => 60 + fr * 1740)
      ELSE $1::timestamptz + make_interval(secs => 300 + fr * (span * 60 - 300)) END AS target
  FROM t
), c AS (
  SELECT d.*, d.target - make_interval(mins => d.span) AS created FROM d
), e AS (
  SELECT c.*, CASE WHEN status = 'new' THEN NULL
                   ELSE created + LEAST(make_interval(secs => fr * f * 30), ($1::timestamptz - created) / 2) END AS responded
  FROM c
)
SELECT e.id, e.customer_id, 'bench complaint ' || e.id AS subject, 'bench: the customer''s account' AS description,
  {_CHANNEL} AS channel, {_CATEGORY} AS category, e.priority, e.urgency::smallint AS urgency, e.status,
  CASE WHEN e.status = 'new' AND e.uc % 2 = 0 THEN NULL ELSE cu.owner_id END AS assignee_id, cu.team_id, cu.owner_id AS filed_by_id,
  (CASE WHEN e.ut < 15 THEN 1 ELSE 0 END)::smallint AS escalation_level, FALSE AS working_time,
  e.f AS first_response_minutes, e.r AS resolution_minutes,
  e.created + make_interval(mins => e.f) AS first_response_due_at, e.created + make_interval(mins => e.r) AS resolution_due_at,
  e.target AS due_at,
  CASE WHEN e.status = 'waiting_on_customer' THEN e.responded + ($1::timestamptz - e.responded) / 2 END AS paused_at,
  0::bigint AS paused_seconds,
  (e.ut < 15 AND e.status = 'new') AS first_response_breached, (e.ut < 15 AND e.status <> 'new') AS resolution_breached,
  e.responded AS first_responded_at, NULL::timestamptz AS resolved_at, NULL::timestamptz AS closed_at,
  NULL::text AS resolution_note, NULL::timestamptz AS survey_issued_at, e.created AS created_at,
  COALESCE(CASE WHEN e.status = 'waiting_on_customer' THEN e.responded + ($1::timestamptz - e.responded) / 2 END,
           e.responded, e.created) AS updated_at
FROM e JOIN customer cu ON cu.id = e.customer_id
"""

# The closed complaints (92% closed, 5% cancelled, 3% resolved) with ids 1 … $3, filed over
# the three years before now ($1) less three days; 10% answered late, 10% resolved late.
CLOSED_SELECT = f"""
WITH s AS (
  SELECT g AS id, 1 + (g * 7919 + 13) % $2 AS customer_id, {_HASHES}
  FROM generate_series(1::bigint, $3::bigint) g
), t AS (
  SELECT s.*, p.urgency, p.f, p.r, p.priority,
    CASE WHEN s.us < 92 THEN 'closed' WHEN s.us < 97 THEN 'cancelled' ELSE 'resolved' END AS status,
    $1::timestamptz - interval '3 days' - make_interval(secs => s.fr * 1095 * 86400) AS created,
    s.ut < 10 AS late_first, s.ut >= 10 AND s.ut < 20 AS late_resolution
  FROM s JOIN {_POLICY} ON p.priority = {_PRIORITY.replace('up', 's.up')}
), e AS (
  SELECT t.*, created + make_interval(secs => (CASE WHEN late_first THEN 1.5 ELSE 0.1 + 0.8 * fr END) * f * 60) AS responded,
    CASE WHEN status <> 'cancelled'
         THEN created + make_interval(secs => (CASE WHEN late_resolution THEN 1.3 ELSE 0.2 + 0.7 * fr END) * r * 60) END AS resolved
  FROM t
), z AS (
  SELECT e.*, CASE status WHEN 'closed' THEN resolved + interval '2 days' WHEN 'cancelled' THEN responded + interval '1 hour' END AS closed
  FROM e
)
SELECT z.id, z.customer_id, 'bench complaint ' || z.id AS subject, 'bench: the customer''s account' AS description,
  {_CHANNEL} AS channel, {_CATEGORY} AS category, z.priority, z.urgency::smallint AS urgency, z.status,
  cu.owner_id AS assignee_id, cu.team_id, cu.owner_id AS filed_by_id,
  (z.late_first::int + (z.late_resolution AND z.status <> 'cancelled')::int)::smallint AS escalation_level, FALSE AS working_time,
  z.f AS first_response_minutes, z.r AS resolution_minutes,
  z.created + make_interval(mins => z.f) AS first_response_due_at, z.created + make_interval(mins => z.r) AS resolution_due_at,
  z.created + make_interval(mins => z.r) AS due_at, NULL::timestamptz AS paused_at, 0::bigint AS paused_seconds,
  z.late_first AS first_response_breached, (z.late_resolution AND z.status <> 'cancelled') AS resolution_breached,
  z.responded AS first_responded_at, z.resolved AS resolved_at, z.closed AS closed_at,
  CASE WHEN z.status <> 'cancelled' THEN 'bench: replaced the item' END AS resolution_note,
  CASE WHEN z.status = 'closed' THEN z.closed END AS survey_issued_at, z.created AS created_at,
  COALESCE(z.closed, z.resolved, z.responded) AS updated_at
FROM z JOIN customer cu ON cu.id = z.customer_id
"""

COLUMNS = (
    "id", "customer_id", "subject", "description", "channel", "category", "priority", "urgency", "status", "assignee_id",
    "team_id", "filed_by_id", "escalation_level", "working_time", "first_response_minutes", "resolution_minutes",
    "first_response_due_at", "resolution_due_at", "due_at", "paused_at", "paused_seconds", "first_response_breached",
    "resolution_breached", "first_responded_at", "resolved_at", "closed_at", "resolution_note", "survey_issued_at",
    "created_at", "updated_at",
)
_RESET = tuple(c for c in COLUMNS if c not in ("id", "customer_id"))


def counts(scale: float) -> tuple[int, int]:
    """(open, closed) complaints at ``scale``."""
    return max(100, round(OPEN * scale)), max(1000, round(CLOSED * scale))


async def ensure(url: str, customers: int, scale: float, progress) -> dict:
    """The complaint layer of the dataset at ``url``: loaded if missing or of another version,
    else put back as a fresh load would leave it, as of now. Returns what the shapes need."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET statement_timeout = 0")
        meta = None
        if await conn.fetchval("SELECT to_regclass('bench_complaints') IS NOT NULL"):
            meta = await conn.fetchrow("SELECT * FROM bench_complaints")
        if meta is None or meta["version"] != VERSION:
            meta = await _load(conn, customers, scale, progress)
        else:
            progress(f"complaints: re-anchoring {meta['open_to'] - meta['open_from'] + 1:,} open ones to now, closing earlier runs' filings")
            await _reset(conn, customers, meta)
        await _grant(conn)
        progress("complaints: VACUUM ANALYZE")
        for table in ("complaint", "complaint_sequence", "notification", "complaint_event"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        state = await conn.fetchrow(
            f"""SELECT count(*) FILTER (WHERE status IN {_literal(OPEN_STATUSES)}) AS open,
                count(*) FILTER (WHERE status IN {_literal(OPEN_STATUSES)} AND due_at < now()) AS overdue,
                count(*) FILTER (WHERE (status IN {_literal(OPEN_STATUSES)} AND first_responded_at IS NULL
                                        AND NOT first_response_breached AND first_response_due_at <= now())
                                    OR (status IN ('new', 'acknowledged', 'in_progress', 'reopened')
                                        AND NOT resolution_breached AND resolution_due_at <= now())) AS to_escalate,
                count(*) AS total FROM complaint"""
        )
        return {**dict(meta), **{f"complaints_{k}": v for k, v in state.items()}}
    finally:
        await conn.close()


def _literal(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


async def _load(conn: asyncpg.Connection, customers: int, scale: float, progress) -> asyncpg.Record:
    opened, closed = counts(scale)
    progress(f"complaints: {closed:,} closed and {opened:,} open, INSERT … SELECT")
    # Complaint tables only: the timeline's append-only trigger fires on DELETE, not TRUNCATE.
    await conn.execute("TRUNCATE complaint, complaint_event, notification, survey_answer, complaint_sequence")
    now = await conn.fetchval("SELECT date_trunc('second', now())")
    columns = ", ".join(COLUMNS)
    async with conn.transaction():
        await conn.execute(
            f"""INSERT INTO complaint (reference, {columns})
            SELECT 'KH-' || yr || '-' || lpad((row_number() OVER (PARTITION BY yr ORDER BY id))::text, 6, '0'), {columns}
            FROM (SELECT x.*, extract(year FROM x.created_at AT TIME ZONE 'Asia/Shanghai')::int AS yr FROM (
              SELECT * FROM ({CLOSED_SELECT}) closed
              UNION ALL
              SELECT * FROM ({OPEN_SELECT.replace('$4', '$5').replace('$3', '$4')}) opened
            ) x) y""",
            now, customers, closed, closed + 1, opened,
        )
        # Filing takes the year's next number: keep each year's row at the highest one used.
        await conn.execute(
            """INSERT INTO complaint_sequence (year, last_number)
               SELECT split_part(reference, '-', 2)::int, max(split_part(reference, '-', 3)::bigint) FROM complaint GROUP BY 1
               ON CONFLICT (year) DO UPDATE SET last_number = GREATEST(complaint_sequence.last_number, EXCLUDED.last_number)"""
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('complaint', 'id'), (SELECT max(id) FROM complaint))")
        await conn.execute("DROP TABLE IF EXISTS bench_complaints")
        await conn.execute(
            "CREATE TABLE bench_complaints (version int, open_from bigint, open_to bigint, closed bigint, loaded_at timestamptz)"
        )
        await conn.execute("INSERT INTO bench_complaints VALUES ($1, $2, $3, $4, $5)", VERSION, closed + 1, closed + opened, closed, now)
    return await conn.fetchrow("SELECT * FROM bench_complaints")


async def _reset(conn: asyncpg.Connection, customers: int, meta: asyncpg.Record) -> None:
    """The open complaints as a fresh load would leave them now; complaints filed by earlier runs closed."""
    assignments = ", ".join(f"{c} = s.{c}" for c in _RESET)
    async with conn.transaction():
        await conn.execute(
            f"UPDATE complaint k SET {assignments} FROM ({OPEN_SELECT}) s WHERE k.id = s.id",
            await conn.fetchval("SELECT date_trunc('second', now())"), customers, meta["open_from"],
            meta["open_to"] - meta["open_from"] + 1,
        )
        await conn.execute(
            f"""UPDATE complaint SET status = 'closed', first_responded_at = COALESCE(first_responded_at, now()),
                resolved_at = COALESCE(resolved_at, now()), closed_at = now(), due_at = resolution_due_at, paused_at = NULL,
                updated_at = now() WHERE id > $1 AND status IN {_literal(OPEN_STATUSES)}""",
            meta["open_to"],
        )


async def _grant(conn: asyncpg.Connection) -> None:
    """The bench role reads and files complaints; each team's first owner leads it (the sweep notifies leads)."""
    for permission in PERMISSIONS:
        await conn.execute(
            "UPDATE role SET permissions = permissions || to_jsonb($1::text) WHERE id = 1 AND NOT permissions ? $1", permission
        )
    await conn.execute("UPDATE team SET lead_id = (SELECT min(u.id) FROM staff_user u WHERE u.team_id = team.id) WHERE lead_id IS NULL")

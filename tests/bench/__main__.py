"""``make bench``: build the dataset, drive kehu and the floor, print the table, write JSON.

Shapes: a_page, b_tree_stats, c_phone_search, d_writes (customers), e_queue (the complaint
queue: open complaints due first, with customer, assignee and SLA), f_breached (complaints
with a target missed), g_file (fileComplaint), i_segment (a segment filter with its count), k_random_page (the page of (a)
from a random place in the list), l_nested (three levels of referrals below a random referrer),
driven over HTTP at 1, 8 and 32 clients; the
floor answers a_page, e_queue and f_breached in one SQL statement each, and is driven (as is the
peer, where asked) right after kehu at each shape and client count. h_sweep times one
escalation sweep over the open complaints directly (models.escalation.sweep, twice: the first
escalates what is overdue, the second finds nothing left) inside a transaction it rolls back,
so the dataset is left as it was; then the queue's, the breached list's and the sweep's
statements are EXPLAINed (ANALYZE, BUFFERS; the sweep's inside a rolled-back transaction).
j_recompute times ``kehu recompute`` over the whole base, the sweep's refresh after 1,000 new paid
orders and the pool's release sweep, in a transaction rolled back afterwards. m_analytics times
each figure of the dashboard (models/analytics.py) over the last 12 months by direct calls, for
the bench user (TEAM scope) and for everyone (ALL), after giving the closed complaints survey
answers and every customer a segment, once.

Settings: KEHU_BENCH_SCALE (1 = 100,000 customers), KEHU_BENCH_SECONDS (per measurement,
default 10), KEHU_BENCH_WORKERS (kehu's worker processes, default 1), KEHU_BENCH_PEERS=postgraphile (also
PostGraphile 5 on the same database, installed from npm under var/bench/peers, its answers
checked against kehu's; tests/bench/peers.py), KEHU_BENCH_SHAPES (comma-separated shapes to run, by name or by the part after
the letter, such as ``queue,breached,file,sweep``; default all), KEHU_BENCH_PROFILE (set: one
more a_page run at 8 clients, sampled by py-spy and summed by layer), KEHU_BENCH_POSTGRES_URL
(a server where it may create ``kehu_bench_*`` databases; default the local one as user
postgres), KEHU_BENCH_OUTPUT (the JSON report; default var/bench/latest.json). A dataset of
the same scale is reused; its complaint layer (tests/bench/complaints.py) is loaded once and
re-anchored to now on every run. The served kehu runs with KEHU_SWEEP_SECONDS=0: its own
sweep would escalate the complaints h_sweep measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from tests.bench import complaints, dataset, peers, profile
from tests.bench import floor as floor_app
from tests.bench.load import Result, drive, graphql

ROOT = Path(__file__).resolve().parents[2]
KEHU = str(Path(sys.executable).parent / "kehu")
DATA_VERSION = 1
# One client shows a request's own latency; 8 and 32 show it under load on one worker.
CLIENTS = (1, 8, 32)

# The oldest customers of the bench team: the hub's tree, where each has a referrer, ten
# referrals and interactions, so the page is full whatever earlier runs wrote.
PAGE = """query Page { customers(first: 20, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node {
  id name
  referrer { id name }
  referrals(first: 10) { edges { node { id name } } }
  interactions(first: 5) { edges { node { kind summary occurredAt } } }
} } } }"""
TREE = """query Tree($id: ID!) { customer(id: $id) {
  referralTree(depth: 3, first: 100) { level customer { id name } }
  referralStats { directCount downstreamCount maxDepth downstreamRevenue { amount currency } }
} }"""
# The same page from a random place in the team's list.
RANDOM_PAGE = PAGE.replace("query Page { customers(first: 20,", "query RandomPage($after: String) { customers(first: 20, after: $after,")
# Three levels of referrals below a random referrer of the team.
NESTED = """query Nested($id: ID!) { customer(id: $id) { id name referrals(first: 10) { edges { node { id name
  referrals(first: 10) { edges { node { id name referrals(first: 10) { edges { node { id name } } } } } } } } } } }"""
SEARCH = """query Search($s: String!) { customers(first: 20, filter: {search: $s}) { edges { node { id name phone } } } }"""
CREATE = """mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""
LOG = """mutation Log($input: LogInteractionInput!) { logInteraction(input: $input) { interaction { id } errors { code } } }"""
# The admin's queue: every open complaint the bench user sees, the next target due first.
QUEUE = """query Queue { complaints(first: 20, filter: {status: [NEW, ACKNOWLEDGED, IN_PROGRESS, WAITING_ON_CUSTOMER, REOPENED]},
  orderBy: {field: DUE_AT}) { edges { node {
  id reference subject status priority
  customer { id name }
  assignee { displayName }
  sla { firstResponseDueAt resolutionDueAt timeLeftSeconds firstResponseBreached resolutionBreached paused }
} } } }"""
BREACHED = """query Breached { complaints(first: 20, filter: {breached: true}) { edges { node { id reference } } } }"""
FILE = """mutation File($input: FileComplaintInput!) { fileComplaint(input: $input) { complaint { id reference } errors { code } } }"""
PRIORITIES = ("LOW", "NORMAL", "NORMAL", "HIGH", "URGENT")
# Dormant customers who paid long ago: a segment filter over the stored segments, with its count.
SEGMENT = """query Segment { customers(first: 20, filter: {tiers: [DORMANT, POTENTIAL], recencyMax: 2, lastPaidBefore: "2026-06-01T00:00:00Z"}) {
  totalCount edges { node { id name segment { tier lifecycleStage rfm { score } } } } } }"""
SHAPES = (
    "a_page", "b_tree_stats", "c_phone_search", "d_writes", "e_queue", "f_breached", "g_file", "h_sweep", "i_segment",
    "j_recompute", "k_random_page", "l_nested", "m_analytics",
)


def selected() -> list[str]:
    """KEHU_BENCH_SHAPES: the shapes to run, by name (e_queue) or by the part after the letter (queue)."""
    wanted = [w.strip() for w in (os.environ.get("KEHU_BENCH_SHAPES") or "").split(",") if w.strip()]
    if not wanted:
        return list(SHAPES)
    unknown = [w for w in wanted if not any(w in (shape, shape[2:]) for shape in SHAPES)]
    if unknown:
        raise SystemExit(f"bench: unknown shape(s) {', '.join(unknown)}; known: {', '.join(SHAPES)}")
    return [shape for shape in SHAPES if shape in wanted or shape[2:] in wanted]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _gid(type_name: str, pk: int) -> str:
    from schema.ids import to_global_id

    return to_global_id(type_name, pk)


def shapes(data: dict, run_id: str) -> dict[str, callable]:
    """Each shape's request body for the i-th request."""
    rng = random.Random(7)
    hub = _gid("Customer", data["hub_id"])
    team_ids = range(1, data["hub_downstream"] + 2)
    page, tree = graphql(PAGE), graphql(TREE, {"id": hub})

    def search(i: int) -> bytes:
        digits = f"{rng.choice(team_ids):08d}"[-7:]
        return graphql(SEARCH, {"s": digits})

    made = itertools.count()

    def write(i: int) -> bytes:
        if i % 2 == 0:
            n = next(made)  # across runs too: every created customer has a phone of its own
            phone = f"+8615{int(hashlib.sha256(f'{run_id}{n}'.encode()).hexdigest(), 16) % 10**9:09d}"
            return graphql(CREATE, {"input": {"name": f"bench {run_id} {n}", "phone": phone}})
        target = _gid("Customer", rng.choice(team_ids))
        return graphql(LOG, {"input": {"customerId": target, "kind": "CALL", "direction": "OUTBOUND", "summary": "bench"}})

    queue, breached, segment = graphql(QUEUE), graphql(BREACHED), graphql(SEGMENT)
    filed = itertools.count()

    def file(i: int) -> bytes:
        n = next(filed)
        return graphql(FILE, {"input": {
            "customerId": _gid("Customer", rng.choice(team_ids)), "subject": f"bench {run_id} {n}",
            "description": "The parcel arrived damaged; the customer wants a replacement.", "channel": "PHONE",
            "category": "delivery", "priority": PRIORITIES[n % len(PRIORITIES)],
        }})

    return {
        "a_page": lambda i: page,
        "b_tree_stats": lambda i: tree,
        "c_phone_search": search,
        "d_writes": write,
        "i_segment": lambda i: segment,
        "k_random_page": lambda i: graphql(RANDOM_PAGE, {"after": rng.choice(data["page_cursors"])}),
        "l_nested": lambda i: graphql(NESTED, {"id": _gid("Customer", rng.choice(data["referrers"]))}),
        "e_queue": lambda i: queue,
        "f_breached": lambda i: breached,
        "g_file": file,
    }


async def _prepare(base_url: str, scale: float) -> tuple[str, dict]:
    """The bench database (made and loaded, or reused) and a fresh bench token."""
    name = f"kehu_bench_{str(scale).replace('.', '_')}"
    url = f"{base_url.rsplit('/', 1)[0]}/{name}"
    admin = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    meta = None
    if exists:
        conn = await asyncpg.connect(url)
        try:
            row = await conn.fetchrow("SELECT to_regclass('bench_meta') IS NOT NULL AS present")
            if row["present"]:
                meta = await conn.fetchrow("SELECT * FROM bench_meta")
        finally:
            await conn.close()
    if meta is None or meta["version"] != DATA_VERSION:
        admin = await asyncpg.connect(base_url.replace("postgres://", "postgresql://", 1))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        progress(f"migrating {name}")
        subprocess.run([KEHU, "migrate"], env={**os.environ, "KEHU_DATABASE_URL": url}, check=True, cwd=ROOT)
        started = time.perf_counter()
        built = await dataset.build(url, scale, lambda what: progress(f"loading {what}"))
        progress(f"dataset loaded in {time.perf_counter() - started:.0f} s")
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE bench_meta (version int, customers int, hub_id int, hub_downstream int)"
            )
            await conn.execute("INSERT INTO bench_meta VALUES ($1, $2, $3, $4)", DATA_VERSION, built.customers, built.hub_id, built.hub_downstream)
            meta = await conn.fetchrow("SELECT * FROM bench_meta")
        finally:
            await conn.close()
    else:
        progress(f"reusing {name} ({meta['customers']:,} customers); bringing its schema up to date")
        subprocess.run([KEHU, "migrate"], env={**os.environ, "KEHU_DATABASE_URL": url}, check=True, cwd=ROOT)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM ANALYZE")  # earlier runs' writes, and any index a migration added
        finally:
            await conn.close()
    started = time.perf_counter()
    layer = await complaints.ensure(url, meta["customers"], scale, progress)
    progress(f"complaints ready in {time.perf_counter() - started:.0f} s: {layer['complaints_open']:,} open of "
             f"{layer['complaints_total']:,}, {layer['complaints_overdue']:,} overdue, "
             f"{layer['complaints_to_escalate']:,} overdue and not breached yet")
    secret = "kehu_" + secrets.token_urlsafe(32)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO api_token (user_id, name, token_hash, created_at) VALUES (1, 'bench run', $1, now())",
            hashlib.sha256(secret.encode()).hexdigest(),
        )
    finally:
        await conn.close()
    conn = await asyncpg.connect(url)
    try:
        # Where random pages start (k_random_page) and whose referrals nest (l_nested): the bench team's customers.
        starts = await conn.fetch(
            "SELECT id, created_at FROM customer WHERE id <= $1 AND deleted_at IS NULL ORDER BY random() LIMIT 500",
            meta["hub_downstream"] + 1,
        )
        referrers = await conn.fetch(
            "SELECT DISTINCT referrer_id FROM customer WHERE referrer_id IS NOT NULL AND referrer_id <= $1"
            " AND id <= $1 LIMIT 500", meta["hub_downstream"] + 1,
        )
    finally:
        await conn.close()
    from models.customers import CustomerOrder

    order = CustomerOrder.CREATED_AT.key(descending=False)
    return url, {
        **dict(meta), **layer, "token": secret, "page_cursors": [order.encode(dict(row)) for row in starts],
        "referrers": [row["referrer_id"] for row in referrers],
    }


async def _statements_per_request(url: str, data: dict, bodies: dict) -> dict[str, float]:
    """SQL statements per request of each shape, counted in-process (after one warm-up request)."""
    from models import db
    from server.app import create_app
    from server.settings import Settings
    from tests.conftest import StatementCounter

    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    await db.init(url, pool_size=2)
    counts = {}
    try:
        app = create_app(Settings.from_env({"KEHU_DATABASE_URL": url}))
        headers = {"authorization": f"Bearer {data['token']}", "content-type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            for shape, body in bodies.items():
                await client.post("/graphql", content=body(10**9), headers=headers)
                counter.statements.clear()
                for i in range(2):
                    response = await client.post("/graphql", content=body(10**9 + 1 + i), headers=headers)
                    if response.status_code != 200 or response.json().get("errors"):
                        raise SystemExit(f"bench: {shape} failed: {response.text[:500]}")
                counts[shape] = len(counter.statements) / 2
    finally:
        logger.removeHandler(counter)
        logger.setLevel(logging.WARNING)
        await db.close()
    return counts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: {' '.join(command)} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"bench: {' '.join(command)} did not start listening")


def _memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(values[key].split()[0]) / 1024 for key in ("VmHWM", "VmRSS")}


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def _row(result: Result) -> dict:
    return {
        "requests": result.requests, "errors": result.errors, "rps": round(result.rps, 1),
        "p50_ms": round(result.percentile(0.50), 2), "p99_ms": round(result.percentile(0.99), 2),
        "first_error": result.first_error,
    }


PARTIAL_INDEXES = ("complaint_open_due", "complaint_first_response_overdue", "complaint_resolution_overdue")


class _Undo(Exception):
    """Raised to roll back the transaction the sweep ran in."""


def _literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


def _plan(text: str) -> dict:
    """A plan's text, the partial indexes it reads, and its execution time."""
    times = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("Execution Time")]
    return {
        "indexes": [name for name in PARTIAL_INDEXES if name in text],
        "execution_ms": float(times[0].split()[0]) if times else None,
        "plan": text,
    }


async def _explain(conn: asyncpg.Connection, sql: str, params: list) -> dict:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    return _plan("\n".join(row[0] for row in rows))


async def _explain_generic(conn: asyncpg.Connection, sql: str, params: list) -> dict:
    """The plan PostgreSQL would use once it switches a prepared statement to its generic plan
    (it may after five executions): the parameters are unknown when it is made."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE bench_generic AS {sql}")
    try:
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic({', '.join(_literal(p) for p in params)})")
    finally:
        await conn.execute("DEALLOCATE bench_generic")
        await conn.execute("RESET plan_cache_mode")
    return _plan("\n".join(row[0] for row in rows))


async def _complaint_sql(url: str, data: dict, bodies: dict, run: list[str]) -> dict:
    """h_sweep: one sweep, then another, timed inside a transaction rolled back afterwards; and the
    EXPLAIN (ANALYZE, BUFFERS) of the queue's, the breached list's and the sweep's statements."""
    from tortoise.transactions import in_transaction

    from models import complaints as kehu_complaints
    from models import db, escalation
    from server.app import create_app
    from server.settings import Settings

    out: dict = {}
    await db.init(url, pool_size=2, statement_timeout_ms=600_000)
    try:
        if "h_sweep" in run:
            runs = []
            try:
                async with in_transaction():
                    for which in ("first", "second"):
                        progress(f"h_sweep: {which} sweep (in a transaction rolled back afterwards)")
                        started = time.perf_counter()
                        swept = await escalation.sweep()
                        runs.append({"run": which, "seconds": round(time.perf_counter() - started, 4),
                                     "first_response": swept.first_response, "resolution": swept.resolution})
                    raise _Undo
            except _Undo:
                pass
            out["sweep"] = {"open": data["complaints_open"], "runs": runs}
        # The list statements as kehu renders them, caught on their way to the database.
        captured: dict[str, tuple[str, list]] = {}
        real, current = kehu_complaints.fetch, [None]

        async def catch(sql, q, model=None):
            if current[0] and sql.startswith("SELECT k.id") and "ORDER BY" in sql:
                captured.setdefault(current[0], (sql, list(q.params)))
            return await real(sql, q, model)

        kehu_complaints.fetch = catch
        try:
            app = create_app(Settings.from_env({"KEHU_DATABASE_URL": url}))
            headers = {"authorization": f"Bearer {data['token']}", "content-type": "application/json"}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                for shape in ("e_queue", "f_breached"):
                    current[0] = shape
                    await client.post("/graphql", content=bodies[shape](0), headers=headers)
        finally:
            kehu_complaints.fetch = real
    finally:
        await db.close()

    progress("EXPLAIN (ANALYZE, BUFFERS) of the queue's, the breached list's and the sweep's statements")
    conn = await asyncpg.connect(url)
    explained: dict = {}
    try:
        for shape, (sql, params) in captured.items():
            explained[shape] = {"sql": sql, "params": [str(p) for p in params], "custom": await _explain(conn, sql, params),
                                "generic": await _explain_generic(conn, sql, params)}
        at = datetime.now(UTC)
        transaction = conn.transaction()
        await transaction.start()
        try:
            for kind, (flag, overdue) in escalation._BREACHES.items():
                sql = (f"UPDATE complaint AS k SET {flag} = TRUE, escalation_level = escalation_level + 1, updated_at = $1"
                       f" WHERE {overdue.format(now='$2')} RETURNING id, team_id")
                first = await _explain(conn, sql, [at, at])
                explained[f"sweep_{kind}"] = {"sql": sql, "first": first, "second": await _explain(conn, sql, [at, at])}
        finally:
            await transaction.rollback()
    finally:
        await conn.close()
    out["explain"] = explained
    return out


async def _recompute(url: str) -> list[dict]:
    """j_recompute: every segment recomputed; then 1,000 new paid orders refreshed by the sweep's
    ``segments.refresh``; then the pool's release sweep with release periods set: all inside a
    transaction rolled back afterwards, so the dataset keeps its segments and owners."""
    from tortoise.transactions import in_transaction

    from models import db, pool, rules, segments
    from models.scope import Scope

    runs: list[dict] = []

    async def timed(name: str, step) -> None:
        progress(f"j_recompute: {name}")
        started = time.perf_counter()
        count = await step()
        runs.append({"step": name, "seconds": round(time.perf_counter() - started, 3), "customers": count})

    await db.init(url, pool_size=2, statement_timeout_ms=600_000)
    try:
        async with in_transaction() as connection:
            await timed("recompute every segment", segments.recompute)
            await connection.execute_query(
                "INSERT INTO orders (customer_id, amount, currency, status, placed_at, paid_at, created_at)"
                " SELECT id, 250, 'CNY', 'paid', now(), now(), now() FROM customer WHERE deleted_at IS NULL"
                " ORDER BY id DESC LIMIT 1000"
            )
            await timed("refresh after 1,000 new paid orders", segments.refresh)
            await rules.update_rules(Scope.of_system(), {"pool": {"potential_days": 120, "dormant_days": 180}})
            await timed("release to the pool (POTENTIAL 120 days, DORMANT 180)", pool.sweep)
            await timed("release again (nothing left)", pool.sweep)
            raise _Undo
    except _Undo:
        pass
    finally:
        await db.close()
    return runs


_FIGURES = (
    "tier_distribution", "lifecycle_funnel", "new_customers", "revenue", "retention_rate", "repeat_purchase_rate",
    "satisfaction", "complaint_resolution_hours", "sla_compliance_rate", "top_referrers", "churn_alerts_opened",
)


async def _analytics(url: str, runs: int = 5) -> list[dict]:
    """m_analytics: each dashboard figure over the twelve months to today, the median and the slowest of
    ``runs`` direct calls, for the bench user (TEAM) and for everyone (ALL)."""
    from models import analytics, db, segments
    from models.access import User, viewer_of
    from models.scope import Scope

    await db.init(url, pool_size=2, statement_timeout_ms=600_000)
    try:
        answered = await db.connection().execute_query_dict("SELECT count(*) AS n FROM survey_answer")
        if not answered[0]["n"]:
            progress("m_analytics: survey answers for the closed complaints (once)")
            await db.connection().execute_query(
                "INSERT INTO survey_answer (complaint_id, customer_id, csat, nps, comment, via, answered_at)"
                " SELECT id, customer_id, 1 + abs(hashint8extended(id, 7)) % 5, abs(hashint8extended(id, 8)) % 11, NULL, 'link',"
                " closed_at + interval '1 day' FROM complaint WHERE status = 'closed' AND abs(hashint8extended(id, 9)) % 10 < 6"
            )
            await db.connection().execute_query("VACUUM ANALYZE survey_answer")
        segmented = await db.connection().execute_query_dict("SELECT count(*) AS n FROM customer_segment")
        if not segmented[0]["n"]:
            progress("m_analytics: every customer's segment (once), for the tiers and the funnel")
            await segments.recompute()
        team = await Scope.for_viewer(await viewer_of(await User.get(id=1)))
        everyone = Scope.of_system()
        rows = []
        for name in _FIGURES:
            figure = getattr(analytics, name)
            row = {"figure": name}
            for label, scope in (("team", team), ("all", everyone)):
                window = await analytics.window(scope, None, None)
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await figure(scope, window)
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                row[label] = {"median_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1)}
            progress(f"m_analytics: {name} {row['team']['median_ms']} ms (TEAM), {row['all']['median_ms']} ms (ALL)")
            rows.append(row)
        return rows
    finally:
        await db.close()


async def _answers(port: int, headers: dict, data: dict) -> dict:
    """kehu's answers to the page and to one nested tree, to check the peer's against."""
    referrer = data["referrers"][0]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        page = (await client.post("/graphql", json={"query": PAGE})).json()
        nested = (await client.post("/graphql", json={"query": NESTED, "variables": {"id": _gid("Customer", referrer)}})).json()
    return {"page": page, "nested": nested, "referrer": referrer}


def _postgraphile(url: str, data: dict, answers: dict, running: contextlib.ExitStack) -> dict:
    """PostGraphile started on the same database (stopped with ``running``) and its answers checked
    against kehu's: its port, and its words for the page and the nested referrals."""
    command, root = peers.install(ROOT / "var" / "bench" / "peers", progress)
    port = _free_port()
    server = _start(command, peers.config(url, port), port)
    running.callback(_stop, server)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        page = client.post("/graphql", json={"query": peers.PAGE}).json()
        nested = client.post("/graphql", json={"query": peers.NESTED, "variables": {"id": str(answers["referrer"])}}).json()
    same = {"a_page": peers.same_page(answers["page"], page), "l_nested": peers.same_nested(answers["nested"], nested)}
    if not all(same.values()):
        raise SystemExit(f"bench: PostGraphile answers differently from kehu: {same}")
    rng = random.Random(7)
    return {"pid": server.pid, "port": port, "same": same, "bodies": {
        "a_page": lambda i: graphql(peers.PAGE),
        "l_nested": lambda i: graphql(peers.NESTED, {"id": str(rng.choice(data["referrers"]))}),
    }}


async def main() -> int:
    scale = float(os.environ.get("KEHU_BENCH_SCALE") or 1)
    seconds = float(os.environ.get("KEHU_BENCH_SECONDS") or 10)
    base_url = os.environ.get("KEHU_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    run = selected()
    url, data = await _prepare(base_url, scale)
    run_id = secrets.token_hex(4)
    bodies = {shape: body for shape, body in shapes(data, run_id).items() if shape in run}
    progress("counting SQL statements per request")
    statements = await _statements_per_request(
        url, data, {shape: body for shape, body in shapes(data, run_id + "s").items() if shape in run}
    )
    headers = {"authorization": f"Bearer {data['token']}"}

    report: dict = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "scale": scale, "seconds": seconds, "shapes": run,
        "customers": data["customers"], "hub_downstream": data["hub_downstream"],
        "complaints": {key.removeprefix("complaints_"): data[key] for key in data if key.startswith("complaints_")},
        "kehu": {}, "floor": {},
    }
    port = _free_port()
    peer_names = [name.strip() for name in (os.environ.get("KEHU_BENCH_PEERS") or "").split(",") if name.strip()]
    if unknown := set(peer_names) - {"postgraphile"}:
        raise SystemExit(f"bench: unknown peer(s) {', '.join(sorted(unknown))}; known: postgraphile")
    workers = os.environ.get("KEHU_BENCH_WORKERS") or "1"
    report["workers"] = int(workers)
    floors = [shape for shape in floor_app.PATHS if shape in bodies]
    peer_rows: dict = {}
    # kehu, PostGraphile and the floor all run at once, idle but for the one being driven, and each
    # shape at each client count is driven on all three back to back: whatever this shared machine
    # does to throughput over the run, the ratios are read from measurements seconds apart.
    with contextlib.ExitStack() as running:
        server = _start(
            [KEHU, "serve", "--port", str(port), "--workers", workers],
            {"KEHU_DATABASE_URL": url, "KEHU_LOG_LEVEL": "warning", "KEHU_DB_POOL_SIZE": "20", "KEHU_SWEEP_SECONDS": "0"}, port,
        )
        running.callback(_stop, server)
        peer = _postgraphile(url, data, await _answers(port, headers, data), running) if "postgraphile" in peer_names else None
        if floors:
            floor_port = _free_port()
            running.callback(_stop, _start(
                [sys.executable, "-m", "uvicorn", "tests.bench.floor:app", "--port", str(floor_port), "--log-level", "warning",
                 "--no-access-log"], {"BENCH_DATABASE_URL": url}, floor_port,
            ))
        for shape, body in bodies.items():
            for clients in CLIENTS:
                progress(f"kehu {shape} with {clients} clients for {seconds:g} s")
                result = await drive("127.0.0.1", port, "/graphql", headers, body, clients, seconds)
                report["kehu"][f"{shape}@{clients}"] = {**_row(result), "statements": statements[shape]}
                if peer and shape in peer["bodies"]:
                    progress(f"postgraphile {shape} with {clients} clients for {seconds:g} s")
                    result = await drive("127.0.0.1", peer["port"], "/graphql", {}, peer["bodies"][shape], clients, seconds)
                    peer_rows[f"{shape}@{clients}"] = _row(result)
                if shape in floors:
                    progress(f"floor {shape} with {clients} clients for {seconds:g} s")
                    result = await drive("127.0.0.1", floor_port, floor_app.PATHS[shape], headers, body, clients, seconds)
                    report["floor"][f"{shape}@{clients}"] = {**_row(result), "statements": 1}
        if os.environ.get("KEHU_BENCH_PROFILE") and profile.available() and "a_page" in bodies:
            progress(f"kehu a_page with 8 clients for {seconds:g} s, sampled by py-spy")
            raw = ROOT / "var" / "bench" / "a_page.pyspy"
            raw.parent.mkdir(parents=True, exist_ok=True)
            sampler = profile.record(server.pid, seconds, raw)
            await drive("127.0.0.1", port, "/graphql", headers, bodies["a_page"], 8, seconds, warmup=0)
            sampler.wait(60)
            report["profile_a_page"] = profile.summarize(raw)
        report["kehu_memory_mb"] = {k: round(v, 1) for k, v in _memory_mb(server.pid).items()}
        if peer:
            peer_rows["memory_mb"] = {k: round(v, 1) for k, v in _memory_mb(peer["pid"]).items()}
            report["peer"] = {"postgraphile": peer_rows, "same_answers": peer["same"]}

    if "h_sweep" in run or {"e_queue", "f_breached"} & set(run):
        report.update(await _complaint_sql(url, data, shapes(data, run_id + "x"), run))
    if "j_recompute" in run:
        report["recompute"] = await _recompute(url)
    if "m_analytics" in run:
        report["analytics"] = await _analytics(url)

    for key, row in report["floor"].items():
        floor_rps = row["rps"]
        report["kehu"][key]["floor_ratio"] = round(report["kehu"][key]["rps"] / floor_rps, 3) if floor_rps else None
    _print(report)
    out = Path(os.environ.get("KEHU_BENCH_OUTPUT") or ROOT / "var" / "bench" / "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    progress(f"written {out}")
    failed = [key for side in ("kehu", "floor") for key, row in report[side].items() if row["errors"] or not row["requests"]]
    if failed:
        print(f"bench: requests failed in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _print(report: dict) -> None:
    print(f"\nkehu bench: {report['customers']:,} customers (scale {report['scale']:g}), "
          f"{report['seconds']:g} s per measurement, TEAM scope, {report.get('workers', 1)} worker(s)\n")
    print("| shape | clients | req/s | p50 ms | p99 ms | SQL/request | vs floor |")
    print("|---|---|---|---|---|---|---|")
    for side in ("kehu", "floor"):
        for key, row in report[side].items():
            shape, clients = key.split("@")
            ratio = row.get("floor_ratio")
            name = shape if side == "kehu" else f"floor {shape}"
            print(f"| {name} | {clients} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                  f"{row['statements']:g} | {'' if ratio is None else f'{ratio:.2f}'} |")
    for name, rows in (report.get("peer") or {}).items():
        if name == "same_answers":
            continue
        print(f"\n{name} on the same database (answers checked equal to kehu's: {report['peer']['same_answers']})\n")
        print("| shape | clients | req/s | p50 ms | p99 ms | kehu / peer |\n|---|---|---|---|---|---|")
        for key, row in rows.items():
            if key == "memory_mb":
                continue
            shape, clients = key.split("@")
            ours = report["kehu"].get(key)
            ratio = f"{ours['rps'] / row['rps']:.2f}" if ours and row["rps"] else ""
            print(f"| {shape} | {clients} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {ratio} |")
    memory = report.get("kehu_memory_mb", {})
    print(f"\nkehu worker memory: peak {memory.get('VmHWM', 0):.0f} MB, after the run {memory.get('VmRSS', 0):.0f} MB")
    if sweep := report.get("sweep"):
        print(f"\nh_sweep over {sweep['open']:,} open complaints, one direct call each, in a transaction rolled back\n")
        print("| sweep | seconds | escalated: first response | escalated: resolution |\n|---|---|---|---|")
        for row in sweep["runs"]:
            print(f"| {row['run']} | {row['seconds']:.3f} | {row['first_response']:,} | {row['resolution']:,} |")
    if steps := report.get("recompute"):
        print(f"\nj_recompute over {report['customers']:,} customers, direct calls, in a transaction rolled back\n")
        print("| step | seconds | customers |\n|---|---|---|")
        for row in steps:
            print(f"| {row['step']} | {row['seconds']:.3f} | {row['customers']:,} |")
    if figures := report.get("analytics"):
        print("\nm_analytics: each dashboard figure over the last 12 months, direct calls (median and slowest of 5)\n")
        print("| figure | TEAM median ms | TEAM max ms | ALL median ms | ALL max ms |\n|---|---|---|---|---|")
        for row in figures:
            print(f"| {row['figure']} | {row['team']['median_ms']} | {row['team']['max_ms']} | {row['all']['median_ms']} | {row['all']['max_ms']} |")
    if explained := report.get("explain"):
        print("\nEXPLAIN (ANALYZE, BUFFERS), once each (full plans in the JSON report)\n")
        print("| statement | plan | partial indexes used | execution ms |\n|---|---|---|---|")
        for name, entry in explained.items():
            for plan in ("custom", "generic", "first", "second"):
                if plan in entry:
                    used = ", ".join(entry[plan]["indexes"]) or "none"
                    print(f"| {name} | {plan} | {used} | {entry[plan]['execution_ms']} |")
    if sampled := report.get("profile_a_page"):
        print(f"\na_page at 8 clients, {sampled['samples']:,} py-spy samples of the worker\n")
        for title, shares in (("layer", sampled["layers"]), ("function on top of the stack", sampled["functions"])):
            print(f"| {title} | share |\n|---|---|")
            for name, share in shares.items():
                print(f"| {name} | {share:.1f}% |")
            print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

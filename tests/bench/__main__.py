"""``make bench``: build the dataset, drive kehu and the floor, print the table, write JSON.

Settings: KEHU_BENCH_SCALE (1 = 100,000 customers), KEHU_BENCH_SECONDS (per measurement,
default 10), KEHU_BENCH_PROFILE (set: one more a_page run at 8 clients, sampled by py-spy and
summed by layer), KEHU_BENCH_POSTGRES_URL (a server where it may create ``kehu_bench_*``
databases; default the local one as user postgres), KEHU_BENCH_OUTPUT (the JSON report;
default var/bench/latest.json). A dataset of the same scale is reused.
"""

from __future__ import annotations

import asyncio
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

from tests.bench import dataset, profile
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
SEARCH = """query Search($s: String!) { customers(first: 20, filter: {search: $s}) { edges { node { id name phone } } } }"""
CREATE = """mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { code } } }"""
LOG = """mutation Log($input: LogInteractionInput!) { logInteraction(input: $input) { interaction { id } errors { code } } }"""


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

    return {
        "a_page": lambda i: page,
        "b_tree_stats": lambda i: tree,
        "c_phone_search": search,
        "d_writes": write,
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
    secret = "kehu_" + secrets.token_urlsafe(32)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO api_token (user_id, name, token_hash, created_at) VALUES (1, 'bench run', $1, now())",
            hashlib.sha256(secret.encode()).hexdigest(),
        )
    finally:
        await conn.close()
    return url, {**dict(meta), "token": secret}


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


async def main() -> int:
    scale = float(os.environ.get("KEHU_BENCH_SCALE") or 1)
    seconds = float(os.environ.get("KEHU_BENCH_SECONDS") or 10)
    base_url = os.environ.get("KEHU_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    url, data = await _prepare(base_url, scale)
    run_id = secrets.token_hex(4)
    bodies = shapes(data, run_id)
    progress("counting SQL statements per request")
    statements = await _statements_per_request(url, data, shapes(data, run_id + "s"))
    headers = {"authorization": f"Bearer {data['token']}"}

    report: dict = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "scale": scale, "seconds": seconds,
        "customers": data["customers"], "hub_downstream": data["hub_downstream"], "kehu": {}, "floor": {},
    }
    port = _free_port()
    server = _start(
        [KEHU, "serve", "--port", str(port)],
        {"KEHU_DATABASE_URL": url, "KEHU_LOG_LEVEL": "warning", "KEHU_DB_POOL_SIZE": "20"}, port,
    )
    try:
        for shape, body in bodies.items():
            for clients in CLIENTS:
                progress(f"kehu {shape} with {clients} clients for {seconds:g} s")
                result = await drive("127.0.0.1", port, "/graphql", headers, body, clients, seconds)
                report["kehu"][f"{shape}@{clients}"] = {**_row(result), "statements": statements[shape]}
        if os.environ.get("KEHU_BENCH_PROFILE") and profile.available():
            progress(f"kehu a_page with 8 clients for {seconds:g} s, sampled by py-spy")
            raw = ROOT / "var" / "bench" / "a_page.pyspy"
            raw.parent.mkdir(parents=True, exist_ok=True)
            sampler = profile.record(server.pid, seconds, raw)
            await drive("127.0.0.1", port, "/graphql", headers, bodies["a_page"], 8, seconds, warmup=0)
            sampler.wait(60)
            report["profile_a_page"] = profile.summarize(raw)
        report["kehu_memory_mb"] = {k: round(v, 1) for k, v in _memory_mb(server.pid).items()}
    finally:
        _stop(server)

    floor_port = _free_port()
    floor = _start(
        [sys.executable, "-m", "uvicorn", "tests.bench.floor:app", "--port", str(floor_port), "--log-level", "warning", "--no-access-log"],
        {"BENCH_DATABASE_URL": url}, floor_port,
    )
    try:
        for clients in CLIENTS:
            progress(f"floor a_page with {clients} clients for {seconds:g} s")
            result = await drive("127.0.0.1", floor_port, "/graphql", headers, bodies["a_page"], clients, seconds)
            report["floor"][f"a_page@{clients}"] = {**_row(result), "statements": 1}
    finally:
        _stop(floor)

    for clients in CLIENTS:
        key = f"a_page@{clients}"
        floor_rps = report["floor"][key]["rps"]
        report["kehu"][key]["floor_ratio"] = round(report["kehu"][key]["rps"] / floor_rps, 3) if floor_rps else None
    _print(report)
    out = Path(os.environ.get("KEHU_BENCH_OUTPUT") or ROOT / "var" / "bench" / "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    progress(f"written {out}")
    failed = [key for side in ("kehu", "floor") for key, row in report[side].items() if row["errors"] or not row["requests"]]
    if failed:
        print(f"bench: requests failed in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _print(report: dict) -> None:
    print(f"\nkehu bench: {report['customers']:,} customers (scale {report['scale']:g}), "
          f"{report['seconds']:g} s per measurement, TEAM scope\n")
    print("| shape | clients | req/s | p50 ms | p99 ms | SQL/request | vs floor |")
    print("|---|---|---|---|---|---|---|")
    for side in ("kehu", "floor"):
        for key, row in report[side].items():
            shape, clients = key.split("@")
            ratio = row.get("floor_ratio")
            name = shape if side == "kehu" else f"floor {shape}"
            print(f"| {name} | {clients} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                  f"{row['statements']:g} | {'' if ratio is None else f'{ratio:.2f}'} |")
    memory = report.get("kehu_memory_mb", {})
    print(f"\nkehu worker memory: peak {memory.get('VmHWM', 0):.0f} MB, after the run {memory.get('VmRSS', 0):.0f} MB")
    if sampled := report.get("profile_a_page"):
        print(f"\na_page at 8 clients, {sampled['samples']:,} py-spy samples of the worker\n")
        for title, shares in (("layer", sampled["layers"]), ("function on top of the stack", sampled["functions"])):
            print(f"| {title} | share |\n|---|---|")
            for name, share in shares.items():
                print(f"| {name} | {share:.1f}% |")
            print()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

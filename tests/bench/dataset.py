"""The benchmark's data, bulk-loaded with COPY into a migrated PostgreSQL database.

At scale 1: 100,000 customers over 8 teams and 40 owners, 40% of them referred in chains
at most 8 deep, one referrer with about 11,000 customers downstream (a ten-way tree four
levels deep), 1,000,000 interactions and 300,000 orders. The bench user has the TEAM scope
of the hub's team, so every figure includes the scope filter.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

__all__ = ["Dataset", "build"]

TEAMS = 8
OWNERS_PER_TEAM = 5
MAX_CHAIN = 8
HUB_FANOUT = 10
HUB_LEVELS = 4
BENCH_PERMISSIONS = ["customer.read", "customer.create", "customer.update", "interaction.create", "order.create", "customer.pii"]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


@dataclass(frozen=True)
class Dataset:
    customers: int
    bench_token: str
    team_id: int
    hub_id: int
    hub_downstream: int
    search_phone: str
    """A phone of a customer in the bench user's team, searched in part by shape (c)."""


def _phone(customer_id: int) -> str:
    return f"+86139{customer_id:08d}"


async def build(url: str, scale: float, progress) -> Dataset:
    rng = random.Random(20261123)
    n = max(200, round(100_000 * scale))
    now = datetime.now(UTC).replace(microsecond=0)
    conn = await asyncpg.connect(url)
    try:
        progress("teams, roles and staff")
        teams = [(i, f"Team {i}", None if i <= 4 else i - 4, now) for i in range(1, TEAMS + 1)]
        await conn.copy_records_to_table("team", records=teams, columns=["id", "name", "parent_id", "created_at"])
        await conn.execute(
            "INSERT INTO role (id, name, description, permissions, data_scope, created_at)"
            " VALUES (1, 'Bench sales', 'benchmark', $1, 'team', $2)",
            json.dumps(BENCH_PERMISSIONS), now,
        )
        users = []
        for team in range(1, TEAMS + 1):
            for k in range(OWNERS_PER_TEAM):
                uid = (team - 1) * OWNERS_PER_TEAM + k + 1
                users.append((uid, f"owner{uid}@kehu.bench", f"Owner {uid}", "!", team, True, False, 0, now))
        await conn.copy_records_to_table(
            "staff_user", records=users,
            columns=["id", "email", "display_name", "password_hash", "team_id", "is_active", "is_superuser", "failed_logins", "created_at"],
        )
        await conn.copy_records_to_table("user_role", records=[(u[0], 1) for u in users], columns=["staff_user_id", "role_id"])
        secret = "kehu_" + secrets.token_urlsafe(32)
        await conn.execute(
            "INSERT INTO api_token (user_id, name, token_hash, created_at) VALUES (1, 'bench', $1, $2)",
            hashlib.sha256(secret.encode()).hexdigest(), now,
        )

        progress(f"{n:,} customers")
        hub_size = min(sum(HUB_FANOUT**level for level in range(HUB_LEVELS + 1)), n // 5)
        depth = [0] * (n + 1)
        start, step = now - timedelta(days=3 * 365), 3 * 365 * 86400 // n
        rows = []
        for cid in range(1, n + 1):
            if cid <= hub_size:
                team = 1
                referrer = None if cid == 1 else (cid - 2) // HUB_FANOUT + 1
            else:
                team = rng.randint(1, TEAMS)
                referrer = None
                if rng.random() < 0.4:
                    candidate = rng.randint(hub_size + 1, cid - 1) if cid > hub_size + 1 else None
                    if candidate is not None and depth[candidate] < MAX_CHAIN - 1:
                        referrer = candidate
            depth[cid] = depth[referrer] + 1 if referrer else 0
            owner = (team - 1) * OWNERS_PER_TEAM + rng.randint(1, OWNERS_PER_TEAM)
            created = start + timedelta(seconds=cid * step)
            rows.append((
                cid, rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN), _phone(cid),
                f"c{cid}@example.com", None, None, None, "referral" if referrer else "store", "{}", "",
                referrer, created if referrer else None, created, created, None, owner, team,
            ))
        await conn.copy_records_to_table(
            "customer", records=rows,
            columns=["id", "name", "phone", "email", "birthday", "gender", "company", "source", "custom_fields", "notes",
                     "referrer_id", "referred_at", "created_at", "updated_at", "deleted_at", "owner_id", "team_id"],
        )
        del rows

        interactions = 10 * n
        progress(f"{interactions:,} interactions")
        kinds = ("call", "email", "visit", "wechat", "meeting")
        batch, next_id = [], 1
        for _ in range(interactions):
            cid = rng.randint(1, n)
            at = now - timedelta(minutes=rng.randint(1, 3 * 365 * 24 * 60))
            batch.append((next_id, cid, rng.choice(kinds), "outbound", None, at, "follow-up", None, at))
            next_id += 1
            if len(batch) == 100_000:
                await _copy_interactions(conn, batch)
                batch = []
        await _copy_interactions(conn, batch)

        orders = 3 * n
        progress(f"{orders:,} orders")
        batch = []
        for oid in range(1, orders + 1):
            cid = rng.randint(1, n)
            at = now - timedelta(minutes=rng.randint(1, 3 * 365 * 24 * 60))
            paid = rng.random() < 0.7
            batch.append((oid, cid, Decimal(rng.randint(100, 500_000)).scaleb(-2), "CNY", "paid" if paid else "pending", at, None,
                          at if paid else None, "shop", at))
        await conn.copy_records_to_table(
            "orders", records=batch,
            columns=["id", "customer_id", "amount", "currency", "status", "placed_at", "payment_due_at", "paid_at", "channel", "created_at"],
        )
        for table in ("team", "role", "staff_user", "api_token", "customer", "interaction", "orders"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        progress("VACUUM ANALYZE")
        # As autovacuum leaves a settled database: statistics, and a visibility map for index-only scans.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return Dataset(n, secret, 1, 1, hub_size - 1, _phone(hub_size // 2)[-8:])


async def _copy_interactions(conn: asyncpg.Connection, batch: list[tuple]) -> None:
    if batch:
        await conn.copy_records_to_table(
            "interaction", records=batch,
            columns=["id", "customer_id", "kind", "direction", "channel", "occurred_at", "summary", "outcome", "created_at"],
        )

"""Migrations: on an empty database of each kind they build exactly what the models say.

For each backend the session's database (built by running the migrations) is compared with a
scratch database of the same kind built straight from the models by Tortoise's schema
generator. Both are read back from the database catalogue, not from Tortoise, and compared
table by table: columns (type, nullability, default), primary key, foreign keys (columns,
target, on delete/update), unique constraints, unique indexes and plain indexes, each by its
column list (generated names are ignored). The partial indexes (unique live phone and email,
paid orders) are written by hand in their migrations, so they are checked on their own and
left out of the comparison; Tortoise's ``tortoise_migrations`` bookkeeping table is ignored.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.transactions import in_transaction
from tortoise.utils import get_schema_sql

from models import db
from models.db import tortoise_config
from models.orders import paid
from models.refusals import refused
from tests.conftest import ROOT, _drop_postgres_database, _postgres_database

IGNORED_TABLES = {"tortoise_migrations"}
# The hand-written partial indexes: name -> (table, key columns on PostgreSQL, on SQLite, unique,
# predicate, or one by dialect). Live phones and emails are unique (0001); paid orders have their
# own index (0011), whose summed columns PostgreSQL holds as INCLUDE and SQLite in the key; the
# audit log's telling refusals too (0013).
_OPEN = "'new', 'acknowledged', 'in_progress', 'waiting_on_customer', 'reopened'"
_RUNNING = "'new', 'acknowledged', 'in_progress', 'reopened'"


def _varying(statuses: str) -> str:
    """How PostgreSQL reads back a list of text literals in an index's predicate."""
    return ", ".join(f"{status} varying" for status in statuses.split(", "))


HAND_WRITTEN = {
    "customer_live_phone": ("customer", ("phone",), ("phone",), True, "deleted_at is null and phone is not null"),
    "customer_live_email": ("customer", ("email",), ("email",), True, "deleted_at is null and email is not null"),
    "orders_paid": ("orders", ("customer_id",), ("customer_id", "currency", "amount", "placed_at"), False, "status = 'paid'"),
    "audit_event_refusals": (
        "audit_event", ("actor_user_id", "at"), ("actor_user_id", "at"), False,
        {  # PostgreSQL reads IN back as = ANY of an array
            "postgres": "action = any array['user.refused_cycle' varying, 'user.refused_duplicate' varying,"
            " 'user.refused_hidden_referrer' varying] []",
            "sqlite": "action in 'user.refused_cycle', 'user.refused_duplicate', 'user.refused_hidden_referrer'",
        },
    ),
    "complaint_open_due": ("complaint", ("due_at", "id"), ("due_at", "id"), False, {
        "postgres": f"status = any array[{_varying(_OPEN)}] []", "sqlite": f"status in {_OPEN}",
    }),
    "complaint_first_response_overdue": ("complaint", ("first_response_due_at",), ("first_response_due_at",), False, {
        "postgres": f"status = any array[{_varying(_OPEN)}] [] and first_responded_at is null and not first_response_breached",
        "sqlite": f"status in {_OPEN} and first_responded_at is null and not first_response_breached",
    }),
    "complaint_resolution_overdue": ("complaint", ("resolution_due_at",), ("resolution_due_at",), False, {
        "postgres": f"status = any array[{_varying(_RUNNING)}] [] and not resolution_breached",
        "sqlite": f"status in {_RUNNING} and not resolution_breached",
    }),
    "notification_unread": ("notification", ("user_id", "created_at"), ("user_id", "created_at"), False, "read_at is null"),
    "churn_alert_open": ("churn_alert", ("customer_id",), ("customer_id",), True, "status = 'open'"),
    "complaint_resolved": (
        "complaint", ("resolved_at", "customer_id", "created_at", "first_response_breached", "resolution_breached"),
        ("resolved_at", "customer_id", "created_at", "first_response_breached", "resolution_breached"), False, "resolved_at is not null",
    ),
    "points_earned_once": ("points_entry", ("order_id",), ("order_id",), True, "kind = 'earn'"),
    "points_referral_once": ("points_entry", ("referred_id", "level"), ("referred_id", "level"), True, "kind = 'referral'"),
    "points_reversed_once": ("points_entry", ("lot_id",), ("lot_id",), True, "kind = 'reversal'"),
    "points_expired_once": ("points_entry", ("lot_id",), ("lot_id",), True, "kind = 'expire'"),
    "points_by_lot": ("points_entry", ("lot_id",), ("lot_id",), False, "lot_id is not null"),
    "points_by_order": ("points_entry", ("order_id",), ("order_id",), False, "order_id is not null"),
    "points_expiring": ("points_entry", ("expires_at",), ("expires_at",), False, "points > 0"),
}


async def test_the_migration_files_describe_the_models(database):
    apps_config = tortoise_config(database)["apps"]
    changes = await MigrationAutodetector(Tortoise.apps, apps_config).changes()
    assert changes == [], "models changed without a migration: run `kehu makemigrations`"


async def _columns(table: str) -> set[str]:
    connection = db.connection()
    if db.dialect() == "sqlite":
        rows = await connection.execute_query_dict(f"PRAGMA table_info({table})")
        return {row["name"] for row in rows}
    rows = await connection.execute_query_dict(
        "SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1", [table]
    )
    return {row["name"] for row in rows}


async def test_every_model_has_its_table_and_columns_in_the_migrated_database(database):
    for model in Tortoise.apps["models"].values():
        expected = set()
        for name, field_ in model._meta.fields_map.items():
            if isinstance(field_, ForeignKeyFieldInstance):
                expected.add(field_.source_field or f"{name}_id")
            elif name in model._meta.db_fields:
                expected.add(field_.source_field or name)
        assert await _columns(model._meta.db_table) == expected, model.__name__


# --- Reading a schema back from the database catalogue -------------------------------------


@dataclass
class Table:
    """One table as the database sees it; lists are sorted, names of constraints and indexes left out."""

    # column name -> (type, not null, default expression or None)
    columns: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # (columns,) and, on SQLite, whether it is AUTOINCREMENT
    primary_key: tuple[Any, ...] = ()
    # (columns, referenced table, referenced columns, on delete, on update)
    foreign_keys: list[tuple[Any, ...]] = field(default_factory=list)
    # ("unique constraint" | "unique index" | "index", columns, partial); the primary key's own index is left out
    indexes: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class PartialIndex:
    table: str
    columns: tuple[str, ...]
    unique: bool
    predicate: str  # lower case, without parentheses, single spaces


@dataclass
class Schema:
    tables: dict[str, Table]
    named_indexes: dict[str, PartialIndex]  # every partial index, by name


def _predicate(text: str) -> str:
    text = re.sub(r"::\w+", "", text)  # PostgreSQL's casts: (status)::text = 'paid'::text
    return " ".join(text.replace("(", " ").replace(")", " ").lower().split())


def _sqlite_schema(path: str) -> Schema:
    connection = sqlite3.connect(path)
    try:
        tables: dict[str, Table] = {}
        named: dict[str, PartialIndex] = {}
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        for name, create_sql in rows:
            if name in IGNORED_TABLES:
                continue
            table = tables[name] = Table()
            pk: list[tuple[int, str]] = []
            for _, column, type_, notnull, default, pk_position in connection.execute(f'PRAGMA table_info("{name}")'):
                table.columns[column] = (type_.upper(), bool(notnull), default)
                if pk_position:
                    pk.append((pk_position, column))
            # AUTOINCREMENT (ids never reused) is only visible in the CREATE statement.
            autoincrement = re.search(r"\bAUTOINCREMENT\b", create_sql, re.IGNORECASE) is not None
            table.primary_key = (tuple(column for _, column in sorted(pk)), autoincrement)
            foreign: dict[int, list[Any]] = {}
            for fk_id, _, target, source, to, on_update, on_delete, _ in connection.execute(
                f'PRAGMA foreign_key_list("{name}")'
            ):
                entry = foreign.setdefault(fk_id, [[], target, [], on_delete.upper(), on_update.upper()])
                entry[0].append(source)
                entry[2].append(to)
            table.foreign_keys = sorted(
                (tuple(sources), target, tuple(tos), on_delete, on_update)
                for sources, target, tos, on_delete, on_update in foreign.values()
            )
            for _, index, unique, origin, partial in connection.execute(f'PRAGMA index_list("{name}")'):
                if origin == "pk":
                    continue
                columns = tuple(column for _, _, column in connection.execute(f'PRAGMA index_info("{index}")'))
                if partial:
                    index_sql = connection.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)
                    ).fetchone()[0]
                    where = re.split(r"\bWHERE\b", index_sql, maxsplit=1, flags=re.IGNORECASE)[1]
                    named[index] = PartialIndex(name, columns, bool(unique), _predicate(where))
                kind = "unique constraint" if origin == "u" else "unique index" if unique else "index"
                table.indexes.append((kind, columns, bool(partial)))
            table.indexes.sort()
        return Schema(tables, named)
    finally:
        connection.close()


_PG_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _pg_default(default: str | None, identity: str) -> str | None:
    if identity:
        return f"identity {identity}"
    if default is not None and default.startswith("nextval("):
        return "nextval(sequence)"  # a serial column; the sequence's name follows the table's
    return default


async def _postgres_schema(url: str) -> Schema:
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
    try:
        tables: dict[str, Table] = {}
        for row in await connection.fetch(
            "SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,"
            " a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity::text AS identity"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ):
            if row["table"] in IGNORED_TABLES:
                continue
            table = tables.setdefault(row["table"], Table())
            table.columns[row["column"]] = (row["type"], row["notnull"], _pg_default(row["default"], row["identity"]))

        def columns_of(relid: int, numbers: list[int]) -> tuple[str, ...]:
            return tuple(names[(relid, number)] for number in numbers)

        names = {
            (row["attrelid"], row["attnum"]): row["attname"]
            for row in await connection.fetch(
                "SELECT a.attrelid, a.attnum, a.attname FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND a.attnum > 0"
            )
        }
        for row in await connection.fetch(
            "SELECT c.relname AS table, k.contype::text AS contype, k.conrelid, k.conkey, f.relname AS target, k.confrelid,"
            " k.confkey, k.confdeltype::text AS confdeltype, k.confupdtype::text AS confupdtype"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class f ON f.oid = k.confrelid"
            " WHERE n.nspname = 'public' AND k.contype IN ('p', 'f')"
        ):
            if row["table"] in IGNORED_TABLES:
                continue
            table = tables[row["table"]]
            columns = columns_of(row["conrelid"], row["conkey"])
            if row["contype"] == "p":
                table.primary_key = (columns,)
            else:
                table.foreign_keys.append(
                    (
                        columns,
                        row["target"],
                        columns_of(row["confrelid"], row["confkey"]),
                        _PG_ACTIONS[row["confdeltype"]],
                        _PG_ACTIONS[row["confupdtype"]],
                    )
                )
        named: dict[str, PartialIndex] = {}
        for row in await connection.fetch(
            "SELECT c.relname AS table, ic.relname AS name, i.indisunique AS unique,"
            " ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k"
            "       ORDER BY k) AS columns,"
            " pg_get_expr(i.indpred, i.indrelid) AS predicate,"
            " EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype = 'u')"
            "   AS is_constraint"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = ic.relam"
            # the trigram search indexes of migration 0006 are checked on their own
            " WHERE n.nspname = 'public' AND NOT i.indisprimary AND am.amname = 'btree'"
        ):
            if row["table"] in IGNORED_TABLES:
                continue
            columns = tuple(row["columns"])
            partial = row["predicate"] is not None
            if partial:
                named[row["name"]] = PartialIndex(row["table"], columns, row["unique"], _predicate(row["predicate"]))
            kind = "unique constraint" if row["is_constraint"] else "unique index" if row["unique"] else "index"
            tables[row["table"]].indexes.append((kind, columns, partial))
        for table in tables.values():
            table.foreign_keys.sort()
            table.indexes.sort()
        return Schema(tables, named)
    finally:
        await connection.close()


async def _schema(url: str) -> Schema:
    if url.startswith("sqlite://"):
        return _sqlite_schema(url[len("sqlite://") :])
    return await _postgres_schema(url)


# --- A scratch database built from the models ----------------------------------------------


@pytest.fixture
async def models_database(database: str, tmp_path) -> AsyncIterator[str]:
    """An empty database of the session's kind, its tables created from the models, not the migrations.

    The SQL comes from Tortoise's schema generator for the session's models and dialect (what
    ``generate_schemas`` runs); it is executed over a connection of its own, so the session's
    Tortoise connections and context are left alone.
    """
    sql = get_schema_sql(db.connection(), safe=False)
    if db.dialect() == "sqlite":
        path = tmp_path / "from_models.sqlite3"
        connection = sqlite3.connect(path)
        try:
            connection.executescript(sql)
        finally:
            connection.close()
        yield f"sqlite://{path}"
        return
    url = await _postgres_database()
    try:
        connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()
        yield url
    finally:
        await _drop_postgres_database(url)


def _differences(migrated: Schema, from_models: Schema) -> list[str]:
    differences = []
    for name in sorted(migrated.tables.keys() - from_models.tables.keys()):
        differences.append(f"table {name}: only in the migrated database")
    for name in sorted(from_models.tables.keys() - migrated.tables.keys()):
        differences.append(f"table {name}: only in the database built from the models")
    for name in sorted(migrated.tables.keys() & from_models.tables.keys()):
        have, want = migrated.tables[name], from_models.tables[name]
        for column in sorted(have.columns.keys() | want.columns.keys()):
            if have.columns.get(column) != want.columns.get(column):
                differences.append(
                    f"{name}.{column}: migrated {have.columns.get(column)} != models {want.columns.get(column)}"
                )
        for aspect in ("primary_key", "foreign_keys", "indexes"):
            if getattr(have, aspect) != getattr(want, aspect):
                differences.append(
                    f"{name} {aspect}: migrated {getattr(have, aspect)} != models {getattr(want, aspect)}"
                )
    return differences


async def test_the_migrated_database_matches_one_built_from_the_models(database, models_database):
    migrated = await _schema(database)
    from_models = await _schema(models_database)
    assert from_models.tables, "the schema generator built no tables"
    models = list(Tortoise.apps["models"].values())
    through = {model._meta.fields_map[name].through for model in models for name in model._meta.m2m_fields}
    assert set(from_models.tables) == {model._meta.db_table for model in models} | through

    # The hand-written partial indexes exist only in the migrated database: check them, then set them aside.
    assert from_models.named_indexes == {}
    assert set(migrated.named_indexes) == set(HAND_WRITTEN), "unexpected partial indexes in the migrated database"
    for name, (table, postgres_columns, sqlite_columns, unique, predicate) in HAND_WRITTEN.items():
        columns = postgres_columns if database.startswith("postgres") else sqlite_columns
        if isinstance(predicate, dict):
            predicate = predicate[db.dialect()]
        assert migrated.named_indexes[name] == PartialIndex(table, columns, unique, predicate), name
        migrated.tables[table].indexes.remove(("unique index" if unique else "index", columns, True))

    assert _differences(migrated, from_models) == []
    assert migrated.tables == from_models.tables  # anything the readable listing above could miss


async def test_search_has_trigram_indexes_on_postgres_and_partial_phone_search_uses_them(database):
    if db.dialect() != "postgres":
        pytest.skip("trigram indexes are PostgreSQL's; SQLite scans")
    connection = db.connection()
    rows = await connection.execute_query_dict(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'customer' AND indexdef LIKE '%gin_trgm_ops%'"
    )
    assert {row["indexname"] for row in rows} == {"customer_name_trgm", "customer_email_trgm", "customer_phone_trgm"}
    options = await connection.execute_query_dict(
        "SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'customer\\_%\\_trgm'"
    )
    assert {row["relname"]: row["reloptions"] for row in options} == {
        name: ["fastupdate=off"] for name in ("customer_name_trgm", "customer_email_trgm", "customer_phone_trgm")
    }, "no pending list: search time must not wait for autovacuum"
    async with in_transaction() as transaction:  # the planner is told to avoid a scan, to see the index is usable
        await transaction.execute_query("SET LOCAL enable_seqscan = off")
        plan = await transaction.execute_query_dict("EXPLAIN SELECT id FROM customer WHERE phone LIKE '%3812345%'")
    assert "customer_phone_trgm" in " ".join(row["QUERY PLAN"] for row in plan)


async def test_postgres_plans_each_search_for_its_own_pattern(database):
    """A generic plan, made once for any pattern, scans a team by date instead of using the index."""
    if db.dialect() != "postgres":
        pytest.skip("a PostgreSQL planner setting")
    rows = await db.connection().execute_query_dict("SELECT current_setting('plan_cache_mode') AS mode")
    assert rows[0]["mode"] == "force_custom_plan"



async def test_postgres_estimates_a_phone_or_email_search_from_its_pattern(clean_db):
    """A histogram of unique values makes a pattern that hits one of them look common (1%)."""
    if db.dialect() != "postgres":
        pytest.skip("PostgreSQL planner statistics")
    connection = db.connection()
    await connection.execute_query(
        "INSERT INTO customer (name, phone, email, source, custom_fields, notes, created_at, updated_at)"
        " SELECT 'c' || i, '+86138' || lpad((i * 7919 % 100000000)::text, 8, '0'), 'c' || i || '@example.com',"
        " 'other', '{}', '', now(), now() FROM generate_series(1, 2000) AS i"
    )

    async def estimate(transaction, column: str, value: str) -> int:
        fragment = value[-8:] if column == "phone" else value.split("@")[0] + "@"
        plan = await transaction.execute_query_dict(
            f"EXPLAIN (FORMAT JSON) SELECT id FROM customer WHERE {column} LIKE '%{fragment}%'"
        )
        document = plan[0]["QUERY PLAN"]
        return (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]["Plan Rows"]

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        async with in_transaction() as transaction:  # PostgreSQL's default statistics, undone after
            await transaction.execute_query(
                "ALTER TABLE customer ALTER COLUMN phone SET STATISTICS -1, ALTER COLUMN email SET STATISTICS -1"
            )
            await transaction.execute_query("ANALYZE customer")
            rows = await transaction.execute_query_dict(
                "SELECT attname, histogram_bounds::text::text[] AS bounds FROM pg_stats"
                " WHERE tablename = 'customer' AND attname IN ('phone', 'email')"
            )
            samples = [(row["attname"], value) for row in rows for value in row["bounds"][1:-1:10]]
            assert len(samples) >= 10
            assert max([await estimate(transaction, column, value) for column, value in samples]) >= 10
            raise Rollback

    await connection.execute_query("ANALYZE customer")
    assert max([await estimate(connection, column, value) for column, value in samples]) <= 5  # a handful, by the pattern
    await connection.execute_query("DELETE FROM customer")


async def _plan_without_scans(sql: str) -> str:
    """PostgreSQL's plan for ``sql`` when told to avoid a scan: whether an index is usable at all."""
    if db.dialect() != "postgres":
        pytest.skip("a PostgreSQL partial index")
    async with in_transaction() as transaction:
        await transaction.execute_query("SET LOCAL enable_seqscan = off")
        plan = await transaction.execute_query_dict(f"EXPLAIN {sql}")
    return " ".join(row["QUERY PLAN"] for row in plan)


async def test_paid_revenue_is_read_from_the_paid_orders_index_on_postgres(database):
    plan = await _plan_without_scans(
        "SELECT customer_id, currency, SUM(amount), MAX(placed_at) FROM orders"
        f" WHERE customer_id IN (1, 2) AND {paid('orders')} GROUP BY customer_id, currency"
    )
    assert "Index Only Scan using orders_paid" in plan


_OLD_ROWS = """
INSERT INTO staff_user (id, email, display_name, password_hash, is_active, is_superuser, failed_logins, created_at)
  VALUES (1, 'm@example.com', 'M', '!', {true}, {false}, 0, '2026-11-30 08:00:00+00:00');
INSERT INTO customer (id, name, source, custom_fields, notes, created_at, updated_at)
  VALUES (10, 'A', 'other', '{{}}', '', '2026-11-30 08:00:00+00:00', '2026-11-30 08:00:00+00:00'),
         (11, 'B', 'other', '{{}}', '', '2026-11-30 08:00:00+00:00', '2026-11-30 08:00:00+00:00');
INSERT INTO interaction (id, customer_id, kind, direction, occurred_at, summary, created_at)
  VALUES (20, 11, 'call', 'inbound', '2026-11-30 08:00:00+00:00', 'hi', '2026-11-30 08:00:00+00:00');
INSERT INTO orders (id, customer_id, amount, currency, status, placed_at, created_at)
  VALUES (30, 10, 5, 'CNY', 'paid', '2026-11-30 08:00:00+00:00', '2026-11-30 08:00:00+00:00');
INSERT INTO audit_event (id, at, action, entity_type, entity_id, changes) VALUES
  (1, '2026-11-30 08:00:00+00:00', 'customer.create', 'customer', 10, '{{}}'),
  (2, '2026-11-30 08:00:00+00:00', 'interaction.create', 'interaction', 20, '{{}}'),
  (3, '2026-11-30 08:00:00+00:00', 'order.create', 'order', 30, '{{}}'),
  (4, '2026-11-30 08:00:00+00:00', 'customer_link.create', 'customer_link', 40,
   '{{"from_customer_id":{{"from":null,"to":10}},"to_customer_id":{{"from":null,"to":11}}}}'),
  (5, '2026-11-30 08:00:00+00:00', 'customer_link.delete', 'customer_link', 40,
   '{{"from_customer_id":{{"from":10,"to":null}},"to_customer_id":{{"from":11,"to":null}}}}'),
  (6, '2026-11-30 08:00:00+00:00', 'role.create', 'role', 7, '{{}}'),
  (7, '2026-11-30 08:00:00+00:00', 'customer.set_referrer', 'customer', 11, '{{"referrer_id":{{"from":null,"to":10}}}}');
INSERT INTO idempotency_key (id, user_id, key, operation, fingerprint, result, created_at) VALUES
  (1, 1, 'a', 'CreateCustomerPayload', 'f',
   '{{"$dict":[["customer",{{"$dict":[["id",10],["name","A"],["created_at",{{"$datetime":"2026-11-30T08:00:00+00:00"}}]]}}]]}}',
   '2026-11-30 08:00:00+00:00'),
  (2, 1, 'b', 'DeleteCustomerPayload', 'f', '{{"$dict":[["deleted_id","Q3VzdG9tZXI6MTE="]]}}', '2026-11-30 08:00:00+00:00'),
  (3, 1, 'c', 'UserPayload', 'f', '{{"$dict":[["user",{{"$dict":[["id",1]]}}]]}}', '2026-11-30 08:00:00+00:00');
"""


def _kehu_migrate(url: str, target: str | None = None) -> None:
    """Migrate ``url`` in a process of its own: the session's Tortoise state stays as it is."""
    code = (
        "import asyncio, sys\n"
        "from tests.conftest import migrate\n"
        "asyncio.run(migrate(sys.argv[1], sys.argv[2] or None))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url, target or ""], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr


async def test_migration_0012_names_the_customers_of_old_events_and_keeps_only_ids_in_old_keys(database, tmp_path):
    postgres = db.dialect() == "postgres"
    url = await _postgres_database() if postgres else f"sqlite://{tmp_path / 'upgraded.sqlite3'}"
    try:
        _kehu_migrate(url, "models.0011_paid_orders_index")
        rows = _OLD_ROWS.format(true="true" if postgres else 1, false="false" if postgres else 0)
        await _run(url, [rows])
        _kehu_migrate(url)
        events, keys = await _run(url, [
            "SELECT id, customer_id, other_customer_id FROM audit_event ORDER BY id",
            "SELECT key, operation, result FROM idempotency_key ORDER BY key",
        ])
        refused = await _run(url, ["UPDATE audit_event SET action = 'x' WHERE id = 1"], expect_error=True)
    finally:
        if postgres:
            await _drop_postgres_database(url)
    assert [tuple(row) for row in events] == [
        (1, 10, None), (2, 11, None), (3, 10, None), (4, 10, 11), (5, 10, 11), (6, None, None), (7, 11, 10),
    ]
    assert [(row[0], row[1], json.loads(row[2])) for row in keys] == [
        ("a", "createCustomer", {"customer": 10}), ("b", "deleteCustomer", {"deleted_id": "Q3VzdG9tZXI6MTE="}),
    ]  # "c": a user's payload, shared by three mutations, is forgotten
    assert "append-only" in refused


async def _run(url: str, statements: list[str], expect_error: bool = False):
    """Each statement's rows, over a connection of its own; with ``expect_error``, the error's text."""
    results = []
    try:
        if url.startswith("sqlite://"):
            connection = sqlite3.connect(url.removeprefix("sqlite://"))
            try:
                for sql in statements:
                    results.append(connection.executescript(sql).fetchall() if ";" in sql else connection.execute(sql).fetchall())
                connection.commit()
            finally:
                connection.close()
        else:
            connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
            try:
                for sql in statements:
                    results.append([tuple(row) for row in await connection.fetch(sql)] if ";" not in sql else await connection.execute(sql))
            finally:
                await connection.close()
    except (sqlite3.Error, asyncpg.PostgresError) as error:
        if expect_error:
            return str(error)
        raise
    assert not expect_error, "the statement ran"
    return results


async def test_a_callers_recent_refusals_are_counted_from_their_own_index_on_postgres(database):
    plan = await _plan_without_scans(
        f"SELECT COUNT(*) FROM audit_event e WHERE e.actor_user_id = 1 AND e.at >= now() AND {refused('e')}"
    )
    assert "audit_event_refusals" in plan

"""Migrations: on an empty database of each kind they build exactly what the models say."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.fields.relational import ForeignKeyFieldInstance
from tortoise.migrations.autodetector import MigrationAutodetector

from models import db
from models.db import tortoise_config


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
        for name, field in model._meta.fields_map.items():
            if isinstance(field, ForeignKeyFieldInstance):
                expected.add(field.source_field or f"{name}_id")
            elif name in model._meta.db_fields:
                expected.add(field.source_field or name)
        assert await _columns(model._meta.db_table) == expected, model.__name__


async def test_live_phone_and_email_are_unique_by_index(database):
    connection = db.connection()
    if db.dialect() == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        sql = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'"
    names = {row["name"] for row in await connection.execute_query_dict(sql)}
    assert {"customer_live_phone", "customer_live_email"} <= names

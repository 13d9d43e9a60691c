"""The ``kehu`` command: serve, migrate, seed-demo, export-schema, makemigrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from tortoise.exceptions import DBConnectionError, OperationalError

from server.settings import Settings, SettingsError

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        sys.exit(f"kehu: {error}")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    logging.getLogger().setLevel(settings.log_level.upper())
    host = args.host or settings.host
    port = args.port or settings.port
    if args.workers > 1 and settings.is_sqlite:
        print(
            "kehu: SQLite serves one worker; use --workers 1, or set KEHU_DATABASE_URL to a "
            "PostgreSQL database to run several.",
            file=sys.stderr,
        )
        return 2
    base = f"http://{host}:{port}"
    print(f"kehu is serving on {base}\n  GraphiQL: {base}/graphql\n  health:   {base}/healthz", flush=True)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level,
        access_log=False,  # server.access_log logs requests without their query strings
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
    return 0


async def _migrate(settings: Settings) -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    from models.db import tortoise_config

    try:
        # A migration rewrites whole tables (a backfill, an index over a million rows): it is not
        # held to the statement timeout that keeps a request short.
        await migrate(config=tortoise_config(settings.database_url, settings.db_pool_size, statement_timeout_ms=0))
    finally:
        await Tortoise.close_connections()


def _migrate_command(args: argparse.Namespace) -> int:
    asyncio.run(_migrate(_settings()))
    print("kehu: the database is up to date.")
    return 0


async def _seed(settings: Settings, count: int, if_empty: bool):
    from tortoise.transactions import in_transaction

    from models import db
    from models.demo import is_empty, seed_demo, seed_demo_staff
    from server import secret

    secret.configure(settings)  # closing a demo complaint issues its survey link
    await db.init(settings.database_url, settings.db_pool_size)
    try:
        if if_empty and not await is_empty():
            return None
        async with in_transaction():  # customers and staff together, or nothing
            created = await seed_demo(count=count)
            return created, await seed_demo_staff()
    finally:
        await db.close()


def _seed_command(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= 100_000:
        print("kehu: --count must be between 1 and 100000.", file=sys.stderr)
        return 2
    from models.errors import DomainError

    try:
        seeded = asyncio.run(_seed(_settings(), args.count, args.if_empty))
    except DomainError as error:
        print(f"kehu: the demo data could not be loaded, nothing was changed: {error}", file=sys.stderr)
        return 2
    if seeded is None:
        print("kehu: the database already holds customers; no demo data loaded.")
        return 0
    created, admin = seeded
    print("kehu: demo data loaded: " + ", ".join(f"{n} {what}" for what, n in created.items()))
    print(
        "kehu: demo admin (shown this once, kept only as hashes):\n"
        f"  email:    {admin.email}\n  password: {admin.password}\n"
        f"  GraphiQL header: {{\"Authorization\": \"Bearer {admin.token}\"}}"
    )
    return 0


async def _create_admin(settings: Settings, email: str, password: str) -> str:
    from models import db
    from models.scope import Scope
    from models.staff import create_user

    await db.init(settings.database_url, settings.db_pool_size)
    try:
        user = await create_user(Scope.of_system(), email, email.split("@")[0], password, is_superuser=True)
        return user["email"]
    finally:
        await db.close()


def _createadmin(args: argparse.Namespace) -> int:
    import getpass

    from models.errors import DomainError

    settings = _settings()
    email = args.email or input("Email: ")
    password = args.password or getpass.getpass("Password (at least 15 characters): ")
    try:
        created = asyncio.run(_create_admin(settings, email, password))
    except DomainError as error:
        print(f"kehu: {error}", file=sys.stderr)
        return 2
    print(f"kehu: superuser {created} created.")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output:
        Path(args.output).write_text(sdl, encoding="utf-8")
    else:
        sys.stdout.write(sdl)
    return 0


def _makemigrations(args: argparse.Namespace) -> int:
    """Write a migration for model changes (Tortoise's autodetector) against a scratch SQLite."""
    import tempfile

    from tortoise.cli import cli as tortoise_cli

    from models.db import tortoise_config

    with tempfile.TemporaryDirectory() as scratch:
        config = tortoise_config(f"sqlite://{scratch}/makemigrations.sqlite3")
        module = type(sys)("kehu_makemigrations")
        module.TORTOISE_ORM = config
        sys.modules[module.__name__] = module
        argv = ["-c", f"{module.__name__}.TORTOISE_ORM", "makemigrations"]
        if args.name:
            argv += ["--name", args.name]
        return asyncio.run(tortoise_cli.run_cli_async(argv))


async def _sweep(settings: Settings):
    from models import db, sweep

    await db.init(settings.database_url, pool_size=2)
    try:
        return await sweep.sweep()
    finally:
        await db.close()


def _sweep_command(args: argparse.Namespace) -> int:
    swept = asyncio.run(_sweep(_settings()))
    print("\n".join(swept.lines()))
    return 0


async def _recompute(settings: Settings) -> int:
    from models import db, segments

    await db.init(settings.database_url, pool_size=2)
    try:
        return await segments.recompute()
    finally:
        await db.close()


def _recompute_command(args: argparse.Namespace) -> int:
    count = asyncio.run(_recompute(_settings()))
    print(f"kehu: segments of {count} customers recomputed")
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kehu", description="kehu, the graph-native CRM server.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (settings from KEHU_* variables)")
    serve.add_argument("--host", help="address to listen on (KEHU_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port to listen on (KEHU_PORT, default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL only above 1)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply migrations to KEHU_DATABASE_URL")
    migrate.set_defaults(run=_migrate_command)

    seed = commands.add_parser("seed-demo", help="load demo customers, referrals, links, interactions, orders")
    seed.add_argument("--count", type=int, default=300, help="how many customers (default 300)")
    seed.add_argument("--if-empty", action="store_true", help="only when the database has no customers")
    seed.set_defaults(run=_seed_command)

    admin = commands.add_parser("createadmin", help="create a superuser (prompts for what is not given)")
    admin.add_argument("--email", help="the superuser's email")
    admin.add_argument("--password", help="the password; prompted for when missing, which keeps it out of shell history")
    admin.set_defaults(run=_createadmin)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", help="write to this file instead of standard output")
    export.set_defaults(run=_export_schema)

    recompute = commands.add_parser("recompute", help="refresh every customer's segment: RFM scores, tier, lifecycle stage")
    recompute.set_defaults(run=_recompute_command)

    sweep = commands.add_parser(
        "sweep", help="escalate late complaints and open or close churn alerts (the server does it every minute)"
    )
    sweep.set_defaults(run=_sweep_command)

    makemigrations = commands.add_parser("makemigrations", help="write a migration for model changes")
    makemigrations.add_argument("--name", help="the migration's name")
    makemigrations.set_defaults(run=_makemigrations)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Tortoise logs every statement with its values (personal data) at DEBUG: never let it.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    try:
        code = args.run(args)
    except (OSError, DBConnectionError, OperationalError) as error:
        # The database is down or refuses us: say so plainly, without a traceback.
        sys.exit(f"kehu: cannot use the database at KEHU_DATABASE_URL ({error.__class__.__name__}: {error})")
    sys.exit(code)


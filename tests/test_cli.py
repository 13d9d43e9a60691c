"""The `kehu` command as an operator runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

KEHU = str(Path(sys.executable).parent / "kehu")


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([KEHU, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"KEHU_DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}"}


def test_serve_refuses_several_workers_on_sqlite(tmp_path):
    result = run("serve", "--workers", "2", env=sqlite_env(tmp_path))
    assert result.returncode == 2
    assert "SQLite serves one worker" in result.stderr


def test_a_bad_setting_stops_with_its_name(tmp_path):
    result = run("migrate", env={**sqlite_env(tmp_path), "KEHU_DB_POOL_SIZE": "many"})
    assert result.returncode != 0
    assert "KEHU_DB_POOL_SIZE must be a whole number" in result.stderr


def test_migrate_then_seed_demo_once(tmp_path):
    env = sqlite_env(tmp_path)
    assert run("migrate", env=env).returncode == 0
    first = run("seed-demo", "--if-empty", "--count", "40", env=env)
    assert first.returncode == 0, first.stderr
    assert "demo data loaded: 40 customers" in first.stdout
    assert "email:    admin@kehu.example" in first.stdout
    assert 'GraphiQL header: {"Authorization": "Bearer kehu_' in first.stdout
    second = run("seed-demo", "--if-empty", env=env)
    assert "already holds customers" in second.stdout
    again = run("migrate", env=env)
    assert again.returncode == 0
    # The demo's complaints are fresh, its customers' segments not yet computed: both commands work on them.
    swept = run("sweep", env=env)
    assert swept.returncode == 0 and "escalated 0 complaints" in swept.stdout and "churn alerts:" in swept.stdout
    assert "segments of 40 customers refreshed" in swept.stdout and "0 customers released" in swept.stdout
    recomputed = run("recompute", env=env)
    assert recomputed.returncode == 0 and "segments of 40 customers recomputed" in recomputed.stdout


def test_export_schema_prints_the_sdl(tmp_path):
    result = run("export-schema", env=sqlite_env(tmp_path))
    assert result.returncode == 0
    assert "type Customer implements Node" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health_and_graphql_and_prints_its_urls(tmp_path):
    env = sqlite_env(tmp_path)
    assert run("migrate", env=env).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [KEHU, "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        assert httpx.get(f"{base}/readyz").json() == {"status": "ok"}
        answer = httpx.post(f"{base}/graphql", json={"query": "{ customers { totalCount } }"})
        assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # anonymous: sign in first
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"GraphiQL: {base}/graphql" in output
    assert f"health:   {base}/healthz" in output


def test_an_unreachable_database_is_a_plain_message(tmp_path):
    result = run("migrate", env={"KEHU_DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/nothing"})
    assert result.returncode != 0
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_database_url_options_are_refused(tmp_path):
    result = run("migrate", env={"KEHU_DATABASE_URL": "postgres://postgres@127.0.0.1/x?minsize=5"})
    assert result.returncode != 0
    assert "unsupported database URL option(s): minsize" in result.stderr


def test_createadmin_makes_a_superuser_and_refuses_a_weak_password(tmp_path):
    env = sqlite_env(tmp_path)
    assert run("migrate", env=env).returncode == 0
    made = run("createadmin", "--email", "Boss@Example.com", "--password", "a long enough password here", env=env)
    assert made.returncode == 0, made.stderr
    assert "superuser boss@example.com created" in made.stdout
    weak = run("createadmin", "--email", "b@example.com", "--password", "short", env=env)
    assert weak.returncode == 2
    assert "at least 15 characters" in weak.stderr

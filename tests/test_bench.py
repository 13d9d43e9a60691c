"""The benchmark still runs end to end (at a tiny scale): its figures are not asserted, only its report."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import POSTGRES_URL, ROOT, _drop_postgres_database, _postgres_or_skip


@pytest.fixture(scope="module")
def postgres() -> str:
    """The server's URL, once a scratch database proved it is there (the bench makes its own)."""
    asyncio.run(_drop_postgres_database(_postgres_or_skip()))
    return POSTGRES_URL


def test_make_bench_builds_drives_and_reports(postgres, tmp_path):
    env = {
        **os.environ, "KEHU_BENCH_SCALE": "0.003", "KEHU_BENCH_SECONDS": "1",
        "KEHU_BENCH_POSTGRES_URL": postgres, "KEHU_BENCH_OUTPUT": str(tmp_path / "latest.json"),
        "KEHU_BENCH_PROFILE": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "tests.bench"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "| a_page | 8 |" in run.stdout and "| floor a_page | 8 |" in run.stdout
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["scale"] == 0.003 and report["customers"] == 300
    for shape in ("a_page", "b_tree_stats", "c_phone_search", "d_writes"):
        for clients in (1, 8, 32):
            row = report["kehu"][f"{shape}@{clients}"]
            assert row["requests"] > 0 and row["errors"] == 0 and row["statements"] >= 1
    assert report["floor"]["a_page@8"]["requests"] > 0
    assert report["kehu_memory_mb"]["VmHWM"] > 0
    profile = report["profile_a_page"]  # py-spy sampled the worker; the shares are by layer and function
    assert profile["samples"] > 0 and 99 <= sum(profile["layers"].values()) <= 101
    assert any(layer.startswith("kehu schema/") for layer in profile["layers"])

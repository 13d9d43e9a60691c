"""The server kehu is measured against, on the same bench database: PostGraphile 5 (``KEHU_BENCH_PEERS=postgraphile``).

Node.js 22 and PostGraphile come from the npm registry into ``var/bench/peers/`` (once; Node.js as
the ``node-linux-<arch>`` package, so the machine's own Node.js does not matter). PostGraphile runs
with its Amber preset and no row security, so it reads every customer where kehu applies a TEAM
scope: the pages measured are the bench team's, where both see the same rows. Before it is
driven, its answers to the page and to the nested referrals are checked against kehu's.
"""

from __future__ import annotations

import base64
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path

__all__ = ["NESTED", "PAGE", "config", "install", "same_nested", "same_page"]

VERSIONS = {"node": "22.23.5", "postgraphile": "5.1.5"}
_CONFIG = """import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
export default {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] })],
  grafserv: { port: Number(process.env.PORT), host: "127.0.0.1" },
};
"""
# kehu's page (a) in PostGraphile's words: the oldest customers, referrer, 10 referrals, 5 interactions.
PAGE = """query Page { allCustomers(first: 20, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) { nodes {
  rowId name
  customerByReferrerId { rowId name }
  customersByReferrerId(first: 10, orderBy: [REFERRED_AT_DESC, ROW_ID_DESC]) { nodes { rowId name } }
  interactionsByCustomerId(first: 5, orderBy: [OCCURRED_AT_DESC, ROW_ID_DESC]) { nodes { kind summary occurredAt } }
} } }"""
NESTED = """query Nested($id: BigInt!) { customerByRowId(rowId: $id) { rowId name
  customersByReferrerId(first: 10, orderBy: [REFERRED_AT_DESC, ROW_ID_DESC]) { nodes { rowId name
    customersByReferrerId(first: 10, orderBy: [REFERRED_AT_DESC, ROW_ID_DESC]) { nodes { rowId name
      customersByReferrerId(first: 10, orderBy: [REFERRED_AT_DESC, ROW_ID_DESC]) { nodes { rowId name } } } } } } } }"""


def _arch() -> str:
    return {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def install(root: Path, progress) -> tuple[list[str], Path]:
    """Node.js and PostGraphile under ``root`` (installed once); the command that serves, and its folder."""
    node = root / "node_modules" / f"node-linux-{_arch()}" / "bin" / "node"
    cli = root / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    if not node.exists() or not cli.exists():
        root.mkdir(parents=True, exist_ok=True)
        progress(f"installing Node.js {VERSIONS['node']} and PostGraphile {VERSIONS['postgraphile']} from npm into {root}")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(root),
             f"node-linux-{_arch()}@{VERSIONS['node']}", f"postgraphile@{VERSIONS['postgraphile']}"],
            check=True, capture_output=True,
        )
    (root / "graphile.config.mjs").write_text(_CONFIG)
    return [str(node), str(cli), "-C", str(root / "graphile.config.mjs")], root


def config(url: str, port: int) -> dict[str, str]:
    return {"DATABASE_URL": url, "PORT": str(port), "NODE_ENV": "production", "PATH": os.environ.get("PATH", "")}


def _pk(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def same_page(kehu: dict, peer: dict) -> bool:
    """Whether both answered the same customers, referrers, referrals and interactions, in order."""
    ours = [
        (_pk(n["id"]), n["name"], n["referrer"] and (_pk(n["referrer"]["id"]), n["referrer"]["name"]),
         [(_pk(e["node"]["id"]), e["node"]["name"]) for e in n["referrals"]["edges"]],
         [(e["node"]["kind"].lower(), e["node"]["summary"], _at(e["node"]["occurredAt"])) for e in n["interactions"]["edges"]])
        for n in (edge["node"] for edge in kehu["data"]["customers"]["edges"])
    ]
    theirs = [
        (int(n["rowId"]), n["name"], n["customerByReferrerId"] and (int(n["customerByReferrerId"]["rowId"]), n["customerByReferrerId"]["name"]),
         [(int(r["rowId"]), r["name"]) for r in n["customersByReferrerId"]["nodes"]],
         [(i["kind"], i["summary"], _at(i["occurredAt"])) for i in n["interactionsByCustomerId"]["nodes"]])
        for n in peer["data"]["allCustomers"]["nodes"]
    ]
    return ours == theirs


def _tree(node: dict, children, pk) -> tuple:
    kids = children(node)
    return (pk(node), node["name"], [_tree(kid, children, pk) for kid in kids] if kids is not None else None)


def same_nested(kehu: dict, peer: dict) -> bool:
    def ours(node):
        return [edge["node"] for edge in node["referrals"]["edges"]] if "referrals" in node else None

    def theirs(node):
        return node["customersByReferrerId"]["nodes"] if "customersByReferrerId" in node else None

    return _tree(kehu["data"]["customer"], ours, lambda n: _pk(n["id"])) == _tree(
        peer["data"]["customerByRowId"], theirs, lambda n: int(n["rowId"])
    )

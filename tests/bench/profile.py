"""Where the worker's time goes: py-spy samples the running server, and the samples are summed
by layer (the frame a sample was taken in decides its layer) and by function.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["available", "record", "summarize"]

ROOT = Path(__file__).resolve().parents[2]

# A frame's file as py-spy names it: relative to its sys.path entry ("graphql/execution/...",
# "schema/execution.py") or absolute. First match wins.
LAYERS = (
    ("graphql-core", ("graphql/",)),
    ("strawberry: field wrappers, argument conversion", ("strawberry/",)),
    ("event loop and tasks (asyncio, uvloop)", ("asyncio/", "uvloop/")),
    ("asyncpg: the driver", ("asyncpg/",)),
    ("tortoise and pypika", ("tortoise/", "pypika_tortoise/")),
    ("json", ("json/",)),
    ("HTTP: uvicorn, starlette", ("uvicorn/", "starlette/", "httptools/")),
    ("kehu schema/: execution, resolvers, loaders", ("schema/",)),
    ("kehu models/: SQL, rules, scope", ("models/",)),
    ("kehu server/", ("server/",)),
    ("enum lookups and dataclass __init__ (rows into objects)", ("enum.py", "<string>")),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")


def _py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def available() -> bool:
    return _py_spy() is not None


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """Start sampling ``pid`` for ``seconds`` into ``output`` (collapsed stacks); wait on the result."""
    return subprocess.Popen(
        [_py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "250",
         "--nonblocking", "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _layer(path: str) -> str:
    relative = path.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
    if relative.startswith("/"):  # the standard library
        relative = relative.split("/lib/python3")[-1].split("/", 1)[-1]
    for name, prefixes in LAYERS:
        if relative.startswith(prefixes):
            return name
    return "other: " + relative


def summarize(raw: Path, top: int = 15) -> dict:
    """Shares of the samples: by layer, and the functions most often on top of the stack."""
    layers: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = _FRAME.match(stack.rsplit(";", 1)[-1])
        if leaf is None or not leaf["path"].endswith((".py", ">")):  # py-spy could not name the frame
            layers["other: unnamed frames"] += n
            continue
        layers[_layer(leaf["path"])] += n
        functions[f"{leaf['function']} ({leaf['path'].split('site-packages/')[-1]})"] += n
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "layers": {name: share(n) for name, n in layers.most_common()},
        "functions": {name: share(n) for name, n in functions.most_common(top)},
    }

"""Browser assets (GraphiQL, React, htmx and its SSE extension, ECharts) from the npm registry into ``static/vendor/``, and the
admin's message catalogs compiled (``locales/*/LC_MESSAGES/messages.mo``, see ``server.i18n``).

Run ``python -m server.assets`` once at install time. It fetches each pinned package with
``npm pack`` and keeps only the files the pages load, each checked against the sha384 pinned
below: a download that does not match stops the installer with an error. Without npm or
without the registry it prints one warning and exits 0, and the pages use the CDN instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server import i18n
from server.settings import ROOT

__all__ = [
    "ASSETS",
    "CDN",
    "VENDOR",
    "Asset",
    "AssetError",
    "cdn_url",
    "install",
    "integrity",
    "main",
    "vendor_url",
]

VENDOR = ROOT / "static" / "vendor"
CDN = "https://cdn.jsdelivr.net"
_NPM_TIMEOUT = 180


@dataclass(frozen=True)
class Asset:
    """One file of one npm package at a pinned version, as the browser loads it."""

    package: str
    version: str
    path: str  # inside the package's tarball, without the leading ``package/``
    sha384: str  # the SRI value, ``sha384-<base64>``

    @property
    def local(self) -> Path:
        return VENDOR / self.package / self.path

    @property
    def url(self) -> str:
        return f"/static/vendor/{self.package}/{self.path}"

    @property
    def cdn(self) -> str:
        return f"{CDN}/npm/{self.package}@{self.version}/{self.path}"


# GraphiQL 4.1 is the last major that ships a UMD build (5 is ES modules only) and it
# wants React 18's UMD builds, the last React with any (19 has none).
ASSETS: dict[str, Asset] = {
    "graphiql.js": Asset(
        "graphiql", "4.1.2", "graphiql.min.js",
        "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    ),
    "graphiql.css": Asset(
        "graphiql", "4.1.2", "graphiql.min.css",
        "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
    ),
    "react": Asset(
        "react", "18.3.1", "umd/react.production.min.js",
        "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    ),
    "react-dom": Asset(
        "react-dom", "18.3.1", "umd/react-dom.production.min.js",
        "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    ),
    "htmx": Asset(
        "htmx.org", "2.0.11", "dist/htmx.min.js",
        "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
    ),
    # htmx's server-sent events extension: the complaint queue's live updates.
    "htmx-sse": Asset(
        "htmx-ext-sse", "2.2.4", "dist/sse.min.js",
        "sha384-A986SAtodyH8eg8x8irJnYUk7i9inVQqYigD6qZ9evobksGNIXfeFvDwLSHcp31N",
    ),
    # The dashboard's charts.
    "echarts": Asset(
        "echarts", "5.6.0", "dist/echarts.min.js",
        "sha384-pPi0zxBAoDu6+JXW/C68UZLvBUUtU+7zonhif43rqj7pxsGyqyqzcian2Rj37Rss",
    ),
}


class AssetError(RuntimeError):
    """A downloaded file is not the pinned one, or a package lacks it."""


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


# (size, mtime_ns) of each local file last seen to match its pin; re-hashed when either moves.
_verified: dict[Path, tuple[int, int]] = {}


def _is_installed(asset: Asset) -> bool:
    try:
        stat = asset.local.stat()
    except OSError:
        return False
    key = (stat.st_size, stat.st_mtime_ns)
    if _verified.get(asset.local) == key:
        return True
    if _sri(asset.local.read_bytes()) != asset.sha384:
        return False
    _verified[asset.local] = key
    return True


def vendor_url(name: str) -> str | None:
    """``/static/vendor/...`` when the local copy is present and is the pinned file, else None."""
    asset = ASSETS[name]
    return asset.url if _is_installed(asset) else None


def cdn_url(name: str) -> str:
    """The pinned file on jsDelivr, which serves npm tarballs byte for byte."""
    return ASSETS[name].cdn


def integrity(name: str) -> str:
    """The SRI value (``sha384-...``) for a script or link tag."""
    return ASSETS[name].sha384


@dataclass(frozen=True)
class Tag:
    """Where a page loads an asset from: the local copy, or the pinned CDN file when it is missing."""

    url: str
    integrity: str
    cdn: bool


def tag(name: str, root_path: str = "") -> Tag:
    local = vendor_url(name)
    if local is not None:
        return Tag(root_path + local, integrity(name), cdn=False)
    return Tag(cdn_url(name), integrity(name), cdn=True)


class _Unavailable(Exception):
    """npm or the registry cannot be used; the pages fall back to the CDN."""


def _npm_pack(npm: str, package: str, version: str, into: Path) -> Path:
    command = [npm, "pack", f"{package}@{version}", "--json", "--fetch-retries=1", "--fetch-timeout=30000"]
    try:
        done = subprocess.run(
            command, cwd=into, capture_output=True, text=True, timeout=_NPM_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise _Unavailable(f"`npm pack {package}@{version}` took over {_NPM_TIMEOUT} s") from None
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = None
    if done.returncode != 0:
        # With --json npm reports the failure on stdout: {"error": {"code", "summary", ...}}.
        error = report.get("error") if isinstance(report, dict) else None
        reason = error.get("summary") if isinstance(error, dict) else None
        raise _Unavailable(f"`npm pack {package}@{version}` failed: {reason or f'exit status {done.returncode}'}")
    try:
        return into / report[0]["filename"]
    except (LookupError, TypeError):
        raise _Unavailable(f"`npm pack {package}@{version}` printed no tarball name") from None


def _extract(tarball: Path, assets: list[Asset]) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for asset in assets:
            try:
                member = archive.extractfile(f"package/{asset.path}")
            except KeyError:
                member = None
            if member is None:
                raise AssetError(f"{asset.package}@{asset.version} has no {asset.path}")
            data = member.read()
            actual = _sri(data)
            if actual != asset.sha384:
                raise AssetError(
                    f"{asset.package}@{asset.version}/{asset.path} does not match its pin: "
                    f"expected {asset.sha384}, got {actual}. Nothing was written for it."
                )
            asset.local.parent.mkdir(parents=True, exist_ok=True)
            partial = asset.local.with_name(asset.local.name + ".part")
            partial.write_bytes(data)
            os.replace(partial, asset.local)


def install() -> int:
    """Fetch every missing or stale asset; 0 when done or when npm cannot be used."""
    missing = [asset for asset in ASSETS.values() if not _is_installed(asset)]
    if not missing:
        print(f"kehu assets: all {len(ASSETS)} files present in {VENDOR}.")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        _warn("npm is not installed")
        return 0
    by_package: dict[tuple[str, str], list[Asset]] = {}
    for asset in missing:
        by_package.setdefault((asset.package, asset.version), []).append(asset)
    try:
        with tempfile.TemporaryDirectory(prefix="kehu-assets-") as scratch:
            for (package, version), assets in by_package.items():
                _extract(_npm_pack(npm, package, version, Path(scratch)), assets)
                for asset in assets:
                    print(f"kehu assets: {package}@{version} {asset.path}")
    except _Unavailable as error:
        _warn(str(error))
        return 0
    return 0


def _warn(reason: str) -> None:
    print(
        f"kehu assets: WARNING: {reason}; GraphiQL and the admin will load their scripts from "
        f"{CDN} instead of static/vendor/. Run `python -m server.assets` again when npm can "
        "reach its registry.",
        file=sys.stderr,
    )


def main() -> None:
    i18n.compile_catalogs()  # quietly: what the installer prints is about the browser assets
    try:
        sys.exit(install())
    except AssetError as error:
        sys.exit(f"kehu assets: ERROR: {error}")


if __name__ == "__main__":
    main()

"""The vendored browser assets and the GraphiQL page that loads them, without a browser.

``server.assets`` reads ``assets.VENDOR`` whenever it looks for a file, so a test points it
at a temporary directory (``monkeypatch.setattr``) to see the page without local copies, or
with a corrupted one, and leaves the real ``static/vendor/`` alone. The installer runs in a
subprocess whose PATH has no npm, or a stand-in npm that packs tarballs from the vendored
files: the registry is never contacted.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from server import assets
from server.app import create_app
from server.settings import ROOT, Settings

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PAGE_ASSETS = ("graphiql.css", "react", "react-dom", "graphiql.js")
SCRIPTS = ("react", "react-dom", "graphiql.js")  # the order GraphiQL needs
INIT_SCRIPT = "/static/graphiql.js"
REAL_VENDOR = assets.VENDOR
JS_TYPES = {"text/javascript", "application/javascript"}

# Runs the installer's real entry point with VENDOR pointed elsewhere: argv[1] is the directory.
INSTALLER = (
    "import pathlib, sys\n"
    "from server import assets\n"
    "assets.VENDOR = pathlib.Path(sys.argv[1])\n"
    "assets.main()\n"
)

# A stand-in for `npm pack NAME@VERSION --json ...`: FAKE_NPM_MODE=ok packs the files found
# under FAKE_NPM_SOURCE/NAME/, `tampered` packs them with one byte changed, `offline` fails
# the way npm does without its registry (a JSON error on stdout, exit status 1).
FAKE_NPM = """\
import io, json, os, pathlib, sys, tarfile
log = pathlib.Path(os.environ["FAKE_NPM_LOG"])
with log.open("a") as handle:
    handle.write(" ".join(sys.argv[1:]) + "\\n")
mode = os.environ["FAKE_NPM_MODE"]
if mode == "offline":
    print(json.dumps({"error": {"code": "ENOTFOUND", "summary": "request to registry.npmjs.org failed"}}))
    sys.exit(1)
name, version = sys.argv[2].rsplit("@", 1)
source = pathlib.Path(os.environ["FAKE_NPM_SOURCE"]) / name
filename = name.replace("/", "-") + "-" + version + ".tgz"
with tarfile.open(filename, "w:gz") as archive:
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        data = bytearray(path.read_bytes())
        if mode == "tampered":
            data[len(data) // 2] ^= 0xFF
        member = tarfile.TarInfo("package/" + path.relative_to(source).as_posix())
        member.size = len(data)
        archive.addfile(member, io.BytesIO(bytes(data)))
print(json.dumps([{"filename": filename}]))
"""


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def csp(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as ``{directive: [sources]}``."""
    policy: dict[str, list[str]] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        assert name not in policy, f"{name} appears twice"
        policy[name] = sources
    return policy


class PageTags(HTMLParser):
    """The tags of the GraphiQL page that load or carry anything."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[dict[str, str | None]] = []
        self.inline: list[str] = []  # inline script text, <style> elements, style= attributes
        self.mount: dict[str, str | None] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.inline.append(f"style attribute on <{tag}>")
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes)
        elif tag == "style":
            self.inline.append("<style>")
        elif attributes.get("id") == "graphiql":
            self.mount = attributes

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"inline script {data.strip()[:40]!r}")


def page_tags(response: httpx.Response) -> PageTags:
    parser = PageTags()
    parser.feed(response.text)
    return parser


async def get_page(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert response.status_code == 200, response.text
    assert media_type(response) == "text/html"
    return response


def require_real_vendor(*names: str) -> None:
    missing = [name for name in names if assets.vendor_url(name) is None]
    if missing:
        pytest.skip(f"static/vendor/ lacks {', '.join(missing)}; run `python -m server.assets`")


@pytest.fixture
def empty_vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``assets.VENDOR`` pointed at an empty directory: no local copies at all."""
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    monkeypatch.setattr(assets, "VENDOR", vendor)
    return vendor


@pytest.fixture
def vendor_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of the real vendored files, with ``assets.VENDOR`` pointed at it."""
    require_real_vendor(*assets.ASSETS)
    vendor = tmp_path / "vendor"
    for asset in assets.ASSETS.values():
        target = vendor / asset.package / asset.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(asset.local, target)
    monkeypatch.setattr(assets, "VENDOR", vendor)
    yield vendor


def corrupt(path: Path) -> None:
    """Flip one byte in place: same size, so only the hash (and mtime) can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    before = path.stat()
    path.write_bytes(bytes(data))
    # vendor_url re-hashes a file when its size or mtime moves. Coarse filesystem clocks can
    # leave mtime unchanged for a write this quick, so move it the way any later edit would.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


# --- the page ---------------------------------------------------------------------------------


async def test_the_page_loads_the_vendored_files_under_a_self_only_policy(client):
    require_real_vendor(*PAGE_ASSETS)

    response = await get_page(client)

    policy = csp(response)
    nonce = page_tags(response).mount["data-style-nonce"]
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    header = response.headers["content-security-policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert assets.CDN not in header
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    assert assets.CDN not in response.text


async def test_the_page_names_each_vendored_file_with_its_pin_in_load_order(client):
    require_real_vendor(*PAGE_ASSETS)

    tags = page_tags(await get_page(client))

    assert [tag["src"] for tag in tags.scripts] == [assets.ASSETS[name].url for name in SCRIPTS] + [INIT_SCRIPT]
    for tag, name in zip(tags.scripts, SCRIPTS):
        assert tag["src"].startswith("/static/vendor/")
        assert tag["integrity"] == assets.integrity(name)
        assert "crossorigin" not in tag  # same origin: no CORS request needed
        assert "defer" in tag
    assert "integrity" not in tags.scripts[-1]
    [style] = tags.styles
    assert style["href"] == "/static/vendor/graphiql/graphiql.min.css"
    assert style["integrity"] == assets.integrity("graphiql.css")
    assert "crossorigin" not in style
    assert tags.inline == []
    assert tags.mount["data-endpoint"] == "/graphql"


async def test_every_file_the_page_names_is_served_and_matches_its_integrity(client):
    require_real_vendor(*PAGE_ASSETS)
    tags = page_tags(await get_page(client))

    for tag in [*tags.styles, *tags.scripts]:
        url = tag.get("href") or tag["src"]
        served = await client.get(url)
        assert served.status_code == 200, url
        assert served.headers["x-content-type-options"] == "nosniff"
        if tag.get("integrity"):
            assert sri(served.content) == tag["integrity"], url
        assert media_type(served) in ({"text/css"} if url.endswith(".css") else JS_TYPES), url


async def test_the_static_route_serves_a_vendored_script_as_javascript(client):
    require_real_vendor("htmx")

    response = await client.get(assets.vendor_url("htmx"))

    assert response.status_code == 200
    assert media_type(response) in JS_TYPES
    assert response.headers["x-content-type-options"] == "nosniff"
    assert sri(response.content) == assets.integrity("htmx")


async def test_each_request_gets_a_fresh_style_nonce(client):
    first, second = await get_page(client), await get_page(client)

    nonces = [page_tags(response).mount["data-style-nonce"] for response in (first, second)]
    assert nonces[0] != nonces[1]
    assert all(len(nonce) >= 16 for nonce in nonces)
    for response, nonce in zip((first, second), nonces):
        assert f"'nonce-{nonce}'" in csp(response)["style-src"]


async def test_without_local_copies_the_page_uses_the_cdn_with_integrity_and_crossorigin(client, empty_vendor):
    response = await get_page(client)

    tags = page_tags(response)
    for tag, name in zip(tags.scripts, SCRIPTS):
        asset = assets.ASSETS[name]
        assert tag["src"] == f"https://cdn.jsdelivr.net/npm/{asset.package}@{asset.version}/{asset.path}"
        assert tag["integrity"] == asset.sha384
        assert tag["crossorigin"] == "anonymous"
    assert tags.scripts[-1]["src"] == INIT_SCRIPT  # the page's own script is always local
    [style] = tags.styles
    assert style["href"] == assets.cdn_url("graphiql.css")
    assert style["integrity"] == assets.integrity("graphiql.css")
    assert style["crossorigin"] == "anonymous"
    assert "/static/vendor/" not in response.text
    assert tags.inline == []

    policy = csp(response)
    assert policy["script-src"] == ["'self'", assets.CDN]
    assert policy["style-src"][:2] == ["'self'", assets.CDN]
    assert policy["connect-src"] == ["'self'"]  # the CDN serves files, never the API
    assert policy["frame-ancestors"] == ["'none'"]
    header = response.headers["content-security-policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_corrupted_local_file_is_loaded_from_the_cdn_and_the_rest_stay_local(client, vendor_copy):
    corrupt(assets.ASSETS["react"].local)

    response = await get_page(client)

    by_src = {tag["src"]: tag for tag in page_tags(response).scripts}
    assert by_src[assets.cdn_url("react")]["crossorigin"] == "anonymous"
    for name in ("react-dom", "graphiql.js"):
        assert "crossorigin" not in by_src[assets.ASSETS[name].url]
    assert assets.ASSETS["react"].url not in response.text
    assert csp(response)["script-src"] == ["'self'", assets.CDN]


async def test_the_page_follows_the_root_path_it_is_mounted_under(settings):
    require_real_vendor(*PAGE_ASSETS)
    transport = httpx.ASGITransport(app=create_app(settings), root_path="/kehu")
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
        response = await client.get("/kehu/graphql", headers={"accept": BROWSER_ACCEPT})

    assert response.status_code == 200
    tags = page_tags(response)
    assert [tag["src"] for tag in tags.scripts] == [
        "/kehu" + assets.ASSETS[name].url for name in SCRIPTS
    ] + ["/kehu" + INIT_SCRIPT]
    assert tags.styles[0]["href"] == "/kehu" + assets.ASSETS["graphiql.css"].url
    assert tags.mount["data-endpoint"] == "/kehu/graphql"


# --- when there is no page ----------------------------------------------------------------------


@pytest.fixture
async def no_graphiql(database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env({"KEHU_DATABASE_URL": database, "KEHU_GRAPHIQL": "false"})
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
        yield client


async def test_with_graphiql_off_a_browser_gets_a_json_error_not_a_page(no_graphiql):
    response = await no_graphiql.get("/graphql", headers={"accept": BROWSER_ACCEPT})

    assert response.status_code == 400
    assert media_type(response) == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "<html" not in response.text.lower()
    assert "script-src" not in response.headers["content-security-policy"]


async def test_with_graphiql_off_a_client_taking_only_html_is_refused(no_graphiql):
    response = await no_graphiql.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 406
    assert media_type(response) == "application/json"
    assert "<html" not in response.text.lower()


async def test_a_browser_get_with_a_query_runs_it_instead_of_showing_the_page(client):
    response = await client.get("/graphql", params={"query": "{ __typename }"}, headers={"accept": BROWSER_ACCEPT})

    assert response.status_code == 200
    assert media_type(response) == "application/json"
    assert response.json()["data"] == {"__typename": "Query"}


# --- vendor_url and the pins ------------------------------------------------------------------------


def test_every_pin_is_a_sha384_and_every_path_stays_inside_its_package():
    for name, asset in assets.ASSETS.items():
        assert asset.sha384.startswith("sha384-"), name
        assert len(base64.b64decode(asset.sha384.removeprefix("sha384-"), validate=True)) == 48, name
        assert not asset.path.startswith("/") and ".." not in asset.path.split("/"), name
        assert asset.url == f"/static/vendor/{asset.package}/{asset.path}"
        assert assets.cdn_url(name) == f"{assets.CDN}/npm/{asset.package}@{asset.version}/{asset.path}"


def test_a_corrupted_file_is_no_longer_offered_and_is_offered_again_once_restored(vendor_copy):
    path = assets.ASSETS["react"].local
    original = path.read_bytes()
    assert assets.vendor_url("react") == "/static/vendor/react/umd/react.production.min.js"

    corrupt(path)
    assert path.stat().st_size == len(original)
    assert sri(path.read_bytes()) != assets.integrity("react")
    assert assets.vendor_url("react") is None
    assert assets.vendor_url("react-dom") is not None  # the others are unaffected

    path.write_bytes(original)
    assert assets.vendor_url("react") == "/static/vendor/react/umd/react.production.min.js"


def test_a_truncated_file_is_no_longer_offered(vendor_copy):
    path = assets.ASSETS["htmx"].local
    assert assets.vendor_url("htmx") is not None

    path.write_bytes(path.read_bytes()[:-1])

    assert assets.vendor_url("htmx") is None


def test_a_missing_file_is_not_offered(empty_vendor):
    assert all(assets.vendor_url(name) is None for name in assets.ASSETS)


# --- the installer ------------------------------------------------------------------------------------


def run_installer(vendor: Path, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``assets.main()`` in a fresh interpreter, with ``vendor`` as VENDOR and only ``path`` on PATH."""
    return subprocess.run(
        [sys.executable, "-c", INSTALLER, str(vendor)],
        cwd=ROOT,
        env={**os.environ, "PATH": str(path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def no_npm(tmp_path: Path) -> Path:
    """A PATH entry with no npm in it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    assert shutil.which("npm", path=str(directory)) is None
    return directory


@pytest.fixture
def fake_npm(tmp_path: Path) -> Path:
    """A PATH entry whose only program is the stand-in npm (see FAKE_NPM)."""
    require_real_vendor(*assets.ASSETS)
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    npm = directory / "npm"
    npm.write_text(f"#!{sys.executable}\n{FAKE_NPM}")
    npm.chmod(0o755)
    return directory


def fake_npm_env(tmp_path: Path, mode: str) -> dict[str, str]:
    return {
        "FAKE_NPM_MODE": mode,
        "FAKE_NPM_SOURCE": str(REAL_VENDOR),
        "FAKE_NPM_LOG": str(tmp_path / "npm.log"),
    }


def files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file()) if directory.exists() else []


def test_without_npm_the_installer_warns_once_writes_nothing_and_exits_0(tmp_path, no_npm):
    vendor = tmp_path / "vendor"

    done = run_installer(vendor, no_npm)

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("kehu assets: WARNING: npm is not installed;")
    assert assets.CDN in lines[0] and "python -m server.assets" in lines[0]
    assert files_under(vendor) == []


def test_without_npm_a_corrupted_file_is_reported_missing_and_left_for_the_next_run(tmp_path, vendor_copy, no_npm):
    path = assets.ASSETS["react"].local
    corrupt(path)
    corrupted = path.read_bytes()

    done = run_installer(vendor_copy, no_npm)

    assert done.returncode == 0, done.stderr
    assert done.stderr.count("WARNING") == 1
    assert "all 5 files present" not in done.stdout
    assert path.read_bytes() == corrupted
    assert assets.vendor_url("react") is None


def test_with_every_file_in_place_the_installer_needs_no_npm(vendor_copy, no_npm):
    done = run_installer(vendor_copy, no_npm)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == f"kehu assets: all {len(assets.ASSETS)} files present in {vendor_copy}."


def test_the_installer_unpacks_only_the_pinned_files_and_replaces_a_corrupted_one(tmp_path, fake_npm):
    vendor = tmp_path / "vendor"
    stale = vendor / "react" / "umd" / "react.production.min.js"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not react")
    env = fake_npm_env(tmp_path, "ok")

    done = run_installer(vendor, fake_npm, **env)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    expected = sorted(vendor / asset.package / asset.path for asset in assets.ASSETS.values())
    assert files_under(vendor) == expected  # no .part files, nothing else from the tarballs
    for asset in assets.ASSETS.values():
        assert sri((vendor / asset.package / asset.path).read_bytes()) == asset.sha384
    packs = Path(env["FAKE_NPM_LOG"]).read_text().splitlines()
    assert sorted(line.split()[1] for line in packs) == sorted(
        {f"{asset.package}@{asset.version}" for asset in assets.ASSETS.values()}
    )  # one `npm pack` per package, at its pinned version
    assert all(line.startswith("pack ") and "--json" in line.split() for line in packs)

    again = run_installer(vendor, fake_npm, **env)
    assert again.returncode == 0
    assert "files present" in again.stdout
    assert len(Path(env["FAKE_NPM_LOG"]).read_text().splitlines()) == len(packs)  # npm not run again


def test_a_download_that_does_not_match_its_pin_stops_the_installer_and_writes_nothing(tmp_path, fake_npm):
    vendor = tmp_path / "vendor"

    done = run_installer(vendor, fake_npm, **fake_npm_env(tmp_path, "tampered"))

    assert done.returncode == 1
    assert "kehu assets: ERROR:" in done.stderr
    assert "does not match its pin" in done.stderr
    assert files_under(vendor) == []


def test_when_the_registry_cannot_be_reached_the_installer_warns_once_and_exits_0(tmp_path, fake_npm):
    vendor = tmp_path / "vendor"

    done = run_installer(vendor, fake_npm, **fake_npm_env(tmp_path, "offline"))

    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "WARNING" in lines[0] and "request to registry.npmjs.org failed" in lines[0]
    assert files_under(vendor) == []

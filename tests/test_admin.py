"""The browser admin over HTTP: sessions, CSRF, permissions, and each page's work in the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from models.access import AdminSession, ApiToken, Role, Team, User
from models.audit import AuditEvent
from models.scope import Scope
from models.staff import create_role, create_team
from server.app import create_app
from tests.conftest import PASSWORD, staff_member

SYSTEM = Scope.of_system()
ENGLISH = {"accept-language": "en"}


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await http.get("/admin/login")
    return await http.post("/admin/login", data={
        "login_token": _field(form.text, "login_token"), "email": email, "password": password, "next": "/admin/",
    })


def csrf_of(html: str) -> str:
    return _field(html, "csrf_token")


async def signed_in(
    browser, permissions: list[str], email: str = "admin@example.com", base_url: str = "http://kehu.test",
    scope: str = "ALL", team_id: int | None = None,
):
    await staff_member(email, permissions, scope, team_id)
    http = browser(base_url)
    response = await sign_in(http, email)
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    return http, csrf_of((await http.get("/admin/")).text)


async def test_sign_in_sets_a_guarded_session_cookie_and_shows_the_home_page(browser):
    http, _ = await signed_in(browser, ["user.manage"])
    cookie = next(c for c in http.cookies.jar if c.name == "kehu_admin")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"
    home = await http.get("/admin/")
    assert home.status_code == 200 and "Staff</a>" in home.text and "Roles</a>" not in home.text
    csp = home.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert home.headers["cache-control"] == "no-store" and home.headers["x-content-type-options"] == "nosniff"
    stored = await AdminSession.get()
    assert stored.key_hash != cookie.value
    script = re.search(r'<script defer src="([^"]+)" integrity="(sha384-[^"]+)"', home.text)
    if script.group(1).startswith("/"):  # the local copy, when the installer fetched it
        assert (await http.get(script.group(1))).status_code == 200


async def test_over_https_the_cookie_is_secure_and_host_prefixed(browser):
    http, _ = await signed_in(browser, [], base_url="https://kehu.test")
    names = {c.name: c for c in http.cookies.jar}
    assert "__Host-kehu_admin" in names and names["__Host-kehu_admin"].secure


@pytest.mark.parametrize("password", ["wrong password entirely", ""])
async def test_a_failed_sign_in_answers_alike_and_opens_nothing(browser, password):
    await staff_member("a@example.com", [])
    http = browser()
    for email in ("a@example.com", "nobody@example.com"):
        response = await sign_in(http, email, password)
        assert response.status_code == 400 and "The email or password is wrong, or the account is locked." in response.text
    assert await AdminSession.all().count() == 0
    assert (await http.get("/admin/")).status_code == 303


async def test_sign_in_without_the_login_token_is_refused(browser):
    await staff_member("a@example.com", [])
    http = browser()
    response = await http.post("/admin/login", data={"email": "a@example.com", "password": PASSWORD})
    assert response.status_code == 403 and await AdminSession.all().count() == 0


async def test_redirects_after_sign_in_stay_inside_the_admin(browser):
    await staff_member("a@example.com", [])
    http = browser()
    form = await http.get("/admin/login")
    response = await http.post("/admin/login", data={
        "login_token": _field(form.text, "login_token"), "email": "a@example.com", "password": PASSWORD,
        "next": "https://evil.example/",
    })
    assert response.headers["location"] == "/admin"


async def test_logout_ends_the_session_for_good(browser):
    http, csrf = await signed_in(browser, [])
    old = dict(http.cookies)
    response = await http.post("/admin/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    replay = browser()
    replay.cookies.update(old)
    assert (await replay.get("/admin/")).status_code == 303
    assert (await AdminSession.get()).revoked_at is not None


async def test_deactivation_and_a_new_password_end_sessions_at_once(browser):
    admin, csrf = await signed_in(browser, ["user.manage"])
    worker = await staff_member("w@example.com", [])
    other = browser()
    await sign_in(other, "w@example.com")
    assert (await other.get("/admin/")).status_code == 200
    response = await admin.post(f"/admin/staff/{worker['id']}/password", data={"csrf_token": csrf, "password": "another long passphrase"})
    assert response.status_code == 200 and "Password set" in response.text
    assert (await other.get("/admin/")).status_code == 303

    await sign_in(other, "w@example.com", "another long passphrase")
    assert (await other.get("/admin/")).status_code == 200
    response = await admin.post(f"/admin/staff/{worker['id']}/active", data={"csrf_token": csrf, "active": "false"})
    assert "Deactivated" in response.text
    assert (await other.get("/admin/")).status_code == 303
    assert not (await User.get(id=worker["id"])).is_active


async def test_sessions_end_when_idle_or_too_old(browser):
    http, _ = await signed_in(browser, [])
    session = await AdminSession.get()
    await AdminSession.filter(id=session.id).update(last_seen_at=datetime.now(UTC) - timedelta(minutes=31))
    assert (await http.get("/admin/")).status_code == 303
    http, _ = await signed_in(browser, [], email="b@example.com")
    await AdminSession.filter(revoked_at=None).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await http.get("/admin/")).status_code == 303


async def test_every_state_changing_request_needs_the_csrf_token(browser):
    http, csrf = await signed_in(browser, ["user.manage", "role.manage", "token.manage", "audit.read"])
    team = await create_team(SYSTEM, "East")
    role = await Role.get(name="role of admin@example.com")
    target = await staff_member("t@example.com", [])
    posts = {
        "/admin/staff": {"email": "n@example.com", "display_name": "N", "password": PASSWORD},
        f"/admin/staff/{target['id']}": {"display_name": "changed"},
        f"/admin/staff/{target['id']}/active": {"active": "false"},
        f"/admin/staff/{target['id']}/password": {"password": "another long passphrase"},
        "/admin/roles": {"name": "New", "data_scope": "own"},
        f"/admin/roles/{role.id}/permissions/customer.read": {"granted": "on"},
        f"/admin/roles/{role.id}/scope": {"data_scope": "own"},
        f"/admin/teams/{team['id']}": {"name": "West"},
        "/admin/teams": {"name": "North"},
        "/admin/tokens": {"name": "x", "email": "t@example.com"},
        "/admin/logout": {},
    }
    events = await AuditEvent.all().count()
    for path, data in posts.items():
        for token in (None, "wrong" + csrf[5:]):
            sent = {**data, **({"csrf_token": token} if token else {})}
            response = await http.post(path, data=sent)
            assert response.status_code == 403, path
            assert "security token" in response.text
    assert await AuditEvent.all().count() == events
    assert not await User.filter(email="n@example.com").exists()
    assert (await User.get(id=target["id"])).display_name == "t" and (await User.get(id=target["id"])).is_active
    assert (await Team.get(id=team["id"])).name == "East" and not await Team.filter(name="North").exists()
    assert not await Role.filter(name="New").exists() and "customer.read" not in role.permissions
    assert await ApiToken.all().count() == 0
    assert (await AdminSession.get()).revoked_at is None


@pytest.mark.parametrize(
    ("path", "needs"),
    [("/admin/staff", "user.manage"), ("/admin/roles", "role.manage"), ("/admin/teams", "role.manage"),
     ("/admin/audit", "audit.read")],
)
async def test_each_page_needs_the_same_permission_as_the_api(browser, path, needs):
    without, _ = await signed_in(browser, ["customer.read"], email="plain@example.com")
    refused = await without.get(path)
    assert refused.status_code == 403 and f"this needs the permission {needs}" in refused.text
    assert "<html" in refused.text  # a page, not a crash
    allowed, _ = await signed_in(browser, [needs], email="holder@example.com")
    assert (await allowed.get(path)).status_code == 200


async def test_staff_are_created_edited_and_found(browser):
    http, csrf = await signed_in(browser, ["user.manage", "customer.read"])
    team = await create_team(SYSTEM, "华东")
    role = await create_role(SYSTEM, "Reader", ["customer.read"], "ALL")
    made = await http.post("/admin/staff", data={
        "csrf_token": csrf, "email": "Li.Na@Example.com", "display_name": "李娜", "password": PASSWORD,
        "team_id": str(team["id"]), "role_ids": [str(role["id"])],
    })
    assert made.status_code == 303
    user = await User.get(email="li.na@example.com")
    assert user.team_id == team["id"] and [r.name for r in await user.roles.all()] == ["Reader"]
    found = await http.get("/admin/staff", params={"q": "李娜"})
    assert "li.na@example.com" in found.text and "华东" in found.text

    weak = await http.post("/admin/staff", data={"csrf_token": csrf, "email": "x@example.com", "display_name": "X", "password": "short"})
    assert weak.status_code == 400 and "at least 15 characters" in weak.text
    assert not await User.filter(email="x@example.com").exists()

    edited = await http.post(f"/admin/staff/{user.id}", data={"csrf_token": csrf, "display_name": "Li Na", "team_id": ""})
    assert edited.status_code == 200 and "Saved." in edited.text
    user = await User.get(id=user.id)
    assert user.display_name == "Li Na" and user.team_id is None and await user.roles.all().count() == 0


async def test_the_matrix_saves_a_tick_at_once_and_refuses_what_the_editor_lacks(browser):
    http, csrf = await signed_in(browser, ["role.manage", "customer.read"])
    role = await create_role(SYSTEM, "Sales", ["customer.read"], "OWN")
    headers = {"hx-request": "true", "x-csrf-token": csrf}
    ticked = await http.post(f"/admin/roles/{role['id']}/permissions/role.manage", data={"granted": "on"}, headers=headers)
    assert ticked.status_code == 200, ticked.text
    assert ticked.text.lstrip().startswith(f'<tr id="role-{role["id"]}">')
    assert (await Role.get(id=role["id"])).permissions == ["customer.read", "role.manage"]
    cleared = await http.post(f"/admin/roles/{role['id']}/permissions/customer.read", headers=headers)
    assert cleared.status_code == 200
    assert (await Role.get(id=role["id"])).permissions == ["role.manage"]
    beyond = await http.post(f"/admin/roles/{role['id']}/permissions/customer.pii", data={"granted": "on"}, headers=headers)
    assert beyond.status_code == 200 and "you can only grant" in beyond.text
    assert (await Role.get(id=role["id"])).permissions == ["role.manage"]
    unknown = await http.post(f"/admin/roles/{role['id']}/permissions/customer.fly", data={"granted": "on"}, headers=headers)
    assert unknown.status_code == 200 and "unknown permission codes" in unknown.text
    scoped = await http.post(f"/admin/roles/{role['id']}/scope", data={"data_scope": "team"}, headers=headers)
    assert scoped.status_code == 200 and (await Role.get(id=role["id"])).data_scope == "team"


async def test_a_role_in_use_is_not_deleted(browser):
    http, csrf = await signed_in(browser, ["role.manage"])
    held = await Role.get(name="role of admin@example.com")
    refused = await http.post(f"/admin/roles/{held.id}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "give them another role first" in refused.text
    assert await Role.filter(id=held.id).exists()
    spare = await create_role(SYSTEM, "Spare", [], "OWN")
    assert (await http.post(f"/admin/roles/{spare['id']}/delete", data={"csrf_token": csrf})).status_code == 303
    assert not await Role.filter(id=spare["id"]).exists()


async def test_teams_form_a_tree_and_cannot_move_below_themselves(browser):
    http, csrf = await signed_in(browser, ["role.manage"])
    top = await create_team(SYSTEM, "Top")
    below = await create_team(SYSTEM, "Below", top["id"])
    page = await http.get("/admin/teams")
    assert page.text.index("Top") < page.text.index("Below") and page.text.count('class="tree"') == 2
    cycle = await http.post(f"/admin/teams/{top['id']}", data={"csrf_token": csrf, "name": "Top", "parent_id": str(below["id"])})
    assert cycle.status_code == 400 and "cannot sit below itself" in cycle.text
    assert (await Team.get(id=top["id"])).parent_id is None
    moved = await http.post(f"/admin/teams/{below['id']}", data={"csrf_token": csrf, "name": "Beside", "parent_id": ""})
    assert moved.status_code == 303
    stored = await Team.get(id=below["id"])
    assert stored.name == "Beside" and stored.parent_id is None


async def test_a_token_is_shown_once_and_revoked(browser):
    http, csrf = await signed_in(browser, ["token.manage", "customer.read"])
    await staff_member("app@example.com", ["customer.read"])
    made = await http.post("/admin/tokens", data={"csrf_token": csrf, "name": "shop", "email": "app@example.com"})
    secret = re.search(r'<code class="secret" id="secret">([^<]+)</code>', made.text).group(1)
    token = await ApiToken.get(name="shop")
    assert secret.startswith("kehu_") and secret not in token.token_hash
    listed = await http.get("/admin/tokens")
    assert "shop" in listed.text and secret not in listed.text
    await http.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert (await ApiToken.get(id=token.id)).revoked_at is not None
    higher = await http.post("/admin/tokens", data={"csrf_token": csrf, "name": "x", "email": "admin@example.com"})
    assert higher.status_code == 200 and await ApiToken.filter(name="x").count() == 1  # one's own rights: allowed


async def test_the_audit_log_filters_by_actor_entity_and_time(browser):
    http, csrf = await signed_in(browser, ["audit.read", "role.manage"])
    await http.post("/admin/teams", data={"csrf_token": csrf, "name": "Audited"})
    team = await Team.get(name="Audited")
    log = await http.get("/admin/audit", params={"actor": "admin@example.com", "entity_type": "team", "entity_id": str(team.id)})
    assert log.status_code == 200 and "team.create" in log.text and "Audited" in log.text
    none = await http.get("/admin/audit", params={"since": "2999-01-01T00:00"})
    assert "No events match." in none.text
    for params, message in (({"since": "yesterday"}, "not a date"), ({"entity_id": "x"}, "not a valid choice")):
        bad = await http.get("/admin/audit", params=params)
        assert bad.status_code == 400 and message in bad.text


@pytest.mark.parametrize(
    "path",
    ["/admin/staff/99999999", "/admin/staff/9223372036854775808", "/admin/staff/abc"],
)
async def test_unknown_ids_are_not_found_pages(browser, path):
    http, _ = await signed_in(browser, ["user.manage"])
    assert (await http.get(path)).status_code == 404


async def test_junk_form_values_are_clear_errors(browser):
    http, csrf = await signed_in(browser, ["user.manage", "role.manage"])
    for path, data in {
        "/admin/staff": {"email": "j@example.com", "display_name": "J", "password": PASSWORD, "team_id": "１２"},
        "/admin/teams": {"name": "\x00"},
        "/admin/roles": {"name": "R", "data_scope": "galaxy"},
    }.items():
        response = await http.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == 400, (path, response.text[:300])


async def test_a_role_row_without_role_manage_is_a_403_page(browser):
    http, csrf = await signed_in(browser, ["customer.read"])
    role = await create_role(SYSTEM, "Sales", ["customer.read"], "OWN")
    headers = {"hx-request": "true", "x-csrf-token": csrf}
    for path, data in ((f"/admin/roles/{role['id']}/permissions/customer.read", {}), (f"/admin/roles/{role['id']}/scope", {"data_scope": "all"})):
        refused = await http.post(path, data=data, headers=headers)
        assert refused.status_code == 403 and "this needs the permission role.manage" in refused.text
    stored = await Role.get(id=role["id"])
    assert stored.permissions == ["customer.read"] and stored.data_scope == "own"


@pytest.mark.parametrize(
    ("asked", "lands"),
    [("/admin/../..//evil.example/x", "/admin"), ("//evil.example", "/admin"), ("/administrator", "/admin"),
     ("/admin/staff/../roles", "/admin/roles"), ("/admin/./staff/?q=li", "/admin/staff/?q=li"), ("/admin\\x", "/admin")],
)
async def test_after_sign_in_next_stays_inside_the_admin_with_dot_segments_resolved(browser, asked, lands):
    await staff_member("admin@example.com", ["user.manage"])
    http = browser()
    form = await http.get("/admin/login", params={"next": asked})
    assert f'name="next" value="{lands}"' in form.text
    signed = await http.post("/admin/login", data={
        "login_token": _field(form.text, "login_token"), "email": "admin@example.com", "password": PASSWORD, "next": asked,
    })
    assert signed.status_code == 303 and signed.headers["location"] == lands


async def test_explore_the_api_hands_graphiql_a_short_lived_token_of_ones_own_in_the_fragment(browser):
    http, csrf = await signed_in(browser, ["customer.read"])
    assert "Explore the API" in (await http.get("/admin/")).text
    assert (await http.post("/admin/explore")).status_code == 403  # no CSRF token, no token

    opened = await http.post("/admin/explore", data={"csrf_token": csrf})

    assert opened.status_code == 303
    path, _, fragment = opened.headers["location"].partition("#")
    assert path == "/graphql" and fragment.startswith("token=kehu_")
    secret = fragment.removeprefix("token=")
    me = (await http.post("/graphql", json={"query": "{ me { email } }"}, headers={"authorization": f"Bearer {secret}"})).json()
    assert me["data"]["me"]["email"] == "admin@example.com"
    token = await ApiToken.get(name="graphiql")
    user = await User.get(email="admin@example.com")
    assert token.user_id == user.id and secret not in token.token_hash
    assert timedelta(hours=7, minutes=59) < token.expires_at - datetime.now(UTC) <= timedelta(hours=8)
    assert await AuditEvent.filter(action="api_token.create", entity_id=token.id, actor_user_id=user.id).exists()
    listed = await http.get("/admin/tokens")  # one's own, to revoke, without token.manage
    assert "graphiql" in listed.text and "New token" not in listed.text
    await http.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": csrf})
    assert (await ApiToken.get(id=token.id)).revoked_at is not None


async def test_without_graphiql_there_is_nothing_to_explore(clean_db, settings):
    from dataclasses import replace

    await staff_member("admin@example.com", ["customer.read"])
    app = create_app(replace(settings, graphiql=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kehu.test", headers=ENGLISH) as http:
        assert (await sign_in(http, "admin@example.com")).status_code == 303
        home = await http.get("/admin/")
        assert "Explore the API" not in home.text
        refused = await http.post("/admin/explore", data={"csrf_token": csrf_of(home.text)})
        assert refused.status_code == 404 and not await ApiToken.filter(name="graphiql").exists()


async def test_a_team_manager_sees_and_shapes_its_own_subtree(browser):
    company = (await create_team(SYSTEM, "Company"))["id"]
    east = (await create_team(SYSTEM, "East", company))["id"]
    shanghai = (await create_team(SYSTEM, "Shanghai", east))["id"]
    await create_team(SYSTEM, "West")
    http, csrf = await signed_in(browser, ["role.manage"], scope="TEAM_AND_SUBTEAMS", team_id=east)

    page = (await http.get("/admin/teams")).text

    assert 'aria-label="Name of East"' in page and 'aria-label="Name of Shanghai"' in page
    assert "West" not in page and "Name of Company" not in page
    assert f'<option value="{company}" selected>(where it is, above your teams)</option>' in page
    renamed = await http.post(f"/admin/teams/{east}", data={"csrf_token": csrf, "name": "East China", "parent_id": str(company)})
    assert renamed.status_code == 303
    assert (await Team.get(id=east)).name == "East China" and (await Team.get(id=east)).parent_id == company
    moved = await http.post(f"/admin/teams/{shanghai}", data={"csrf_token": csrf, "name": "Shanghai", "parent_id": ""})
    assert moved.status_code == 403 and (await Team.get(id=shanghai)).parent_id == east

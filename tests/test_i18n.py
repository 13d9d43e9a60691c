"""The admin speaks Chinese first and English on request: every text a person reads goes
through gettext, every message has a Chinese translation, and each request gets its language."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from server import i18n
from tests.conftest import PASSWORD, ROOT, staff_member

TEMPLATES = ROOT / "admin_templates"

# Names, the same in every language: the only letters a template may show untranslated.
NAMES = ("kehu 客户", "kehu", "GraphiQL", "GraphQL")
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\}", re.S)
_TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class _TextFinder(HTMLParser):
    """Collects what a reader sees: text outside scripts and styles, and the attributes shown as text."""

    SHOWN = {"placeholder", "title", "aria-label", "alt"}
    BUTTON_INPUTS = {"submit", "button", "reset"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._in_code += 1
        named = dict(attrs)
        button = tag == "button" or (tag == "input" and (named.get("type") or "").lower() in self.BUTTON_INPUTS)
        for name, value in attrs:
            if value and (name in self.SHOWN or (name == "value" and button)):
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        if not self._in_code:
            self.texts.append(data)


def untranslated(source: str) -> list[str]:
    """The texts of a template a reader would see that are not marked for translation."""
    markup = _TEMPLATE_CODE.sub("", _TRANS_BLOCK.sub("", _COMMENT.sub("", source)))
    finder = _TextFinder()
    finder.feed(markup)
    finder.close()
    found = []
    for text in finder.texts:
        rest = text
        for name in NAMES:
            rest = rest.replace(name, "")
        if any(character.isalpha() for character in rest):
            found.append(" ".join(text.split()))
    return found


def test_the_finder_sees_text_and_shown_attributes_but_not_marked_text_or_code():
    source = """<title>{% block title %}{{ _("Staff") }}{% endblock %} &middot; kehu</title>
    <p>Hello, {{ name }}</p>{# a note #}<p>{% trans %}Fine{% endtrans %} — {{ _("also fine") }}</p>
    <input name="q" value="{{ q }}" placeholder="email"><input type="submit" value="Go">
    <input type="hidden" name="next" value="/admin"><button title="Opens it">{{ _("Open") }}</button>
    <script>var words = "not shown";</script><span aria-label="Close">×</span>"""
    assert untranslated(source) == ["Hello,", "email", "Go", "Opens it", "Close"]


def test_every_text_in_the_templates_is_marked_for_translation():
    offenders = [
        f"{path.relative_to(ROOT)}: {text!r}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in untranslated(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "Wrap these in {% trans %}…{% endtrans %} or {{ _(\"…\") }}:\n" + "\n".join(offenders)


def _extracted() -> dict[str, list[str]]:
    """Each message of the templates and of server/, as babel.cfg tells pybabel to find them, with where."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, list[str]] = {}
    for filename, line, message, _, _ in extract_from_dir(ROOT, method_map, options_map):
        for msgid in [message] if isinstance(message, str) else message:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{line}")
    return found


def _catalog(lang: str):
    with (i18n.LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    catalog = _catalog("zh_CN")
    messages = _extracted()
    assert "Sign in" in messages and "Saved." in messages  # from the templates and from server/admin
    problems = []
    for msgid, places in sorted(messages.items()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            problems.append(f"{msgid!r} ({places[0]}) has no translation in locales/zh_CN")
        elif set(_PLACEHOLDER.findall(entry.string)) != set(_PLACEHOLDER.findall(msgid)):
            problems.append(f"{msgid!r}: the translation {entry.string!r} changes the placeholders")
    assert not problems, "\n".join(problems)


def test_the_english_catalog_lists_every_message():
    catalog = _catalog("en")
    missing = [msgid for msgid in _extracted() if catalog.get(msgid) is None]
    assert not missing, f"not in locales/en: {missing}"


@pytest.mark.parametrize(("accept", "preferred", "lang"), [
    (None, None, "zh_CN"),
    ("", None, "zh_CN"),
    ("en-US,en;q=0.9", None, "en"),
    ("zh-CN", None, "zh_CN"),
    ("zh-TW,en;q=0.5", None, "zh_CN"),
    ("fr-FR, en;q=0.5, zh;q=0.4", None, "en"),
    ("zh;q=0.2, en;q=0.8", None, "en"),
    ("en;q=0, zh;q=0.1", None, "zh_CN"),
    ("de, *;q=0.5", None, "zh_CN"),
    ("en;q=bad", None, "zh_CN"),
    ("en-US", "zh_CN", "zh_CN"),
    ("zh-CN", "en", "en"),
    ("en", "fr", "en"),
])
def test_the_language_is_the_staff_members_choice_else_the_browsers_else_chinese(accept, preferred, lang):
    assert i18n.negotiate(accept, preferred) == lang


@pytest.fixture
def catalogs_without_mo(tmp_path, monkeypatch) -> Iterator[Path]:
    """The catalogs as a fresh checkout has them: the .po files, no .mo."""
    for po in i18n.LOCALES.glob("*/LC_MESSAGES/messages.po"):
        copy = tmp_path / po.relative_to(i18n.LOCALES)
        copy.parent.mkdir(parents=True)
        shutil.copy(po, copy)
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.translations.cache_clear()
    yield tmp_path
    i18n.translations.cache_clear()


def test_without_compiled_catalogs_the_po_is_compiled_at_first_use(catalogs_without_mo):
    with i18n.activated("zh_CN"):
        assert i18n.gettext("Sign in") == "登录"
    with i18n.activated("en"):
        assert i18n.gettext("Sign in") == "Sign in"
    assert not list(catalogs_without_mo.rglob("*.mo"))
    written = i18n.compile_catalogs()
    assert sorted(path.parent.parent.name for path in written) == ["en", "zh_CN"]
    assert i18n.compile_catalogs() == []  # nothing stale the second time


@pytest.mark.parametrize(("accept", "html_lang", "shown", "absent"), [
    (None, "zh-CN", "登录", "Sign in"),
    ("en-US,en;q=0.9", "en", "Sign in", "登录"),
    ("zh-CN", "zh-CN", "登录", "Sign in"),
])
async def test_the_sign_in_page_speaks_the_language_asked_for(as_user, accept, html_lang, shown, absent):
    http = as_user({"accept-language": accept} if accept else {})
    page = await http.get("/admin/login")
    assert page.status_code == 200
    assert f'<html lang="{html_lang}">' in page.text
    assert shown in page.text and absent not in page.text


async def _sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = (await http.get("/admin/login")).text
    token = re.search(r'name="login_token" value="([^"]*)"', form).group(1)
    return await http.post("/admin/login", data={"login_token": token, "email": email, "password": password})


async def test_pages_and_the_messages_of_views_follow_each_requests_language(clean_db, as_user):
    await staff_member("li@example.com", ["user.manage"])
    http = as_user()
    refused = await _sign_in(http, "li@example.com", "not the password at all")
    assert refused.status_code == 400 and "邮箱或密码错误" in refused.text
    assert (await _sign_in(http, "li@example.com", PASSWORD)).status_code == 303

    chinese = (await http.get("/admin/")).text
    assert '<html lang="zh-CN">' in chinese and "员工</a>" in chinese and "退出登录" in chinese
    english = (await http.get("/admin/", headers={"accept-language": "en"})).text
    assert '<html lang="en">' in english and "Staff</a>" in english and "Sign out" in english
    assert "员工" not in english


async def test_a_staff_members_own_language_wins_over_the_browsers(browser):
    from models.access import User
    from tests.test_admin import signed_in

    http, csrf = await signed_in(browser, ["user.manage"])  # the browser asks for English
    assert "Sign out" in (await http.get("/admin/")).text
    chosen = await http.post("/admin/language", data={"csrf_token": csrf, "language": "zh_CN", "next": "/admin/staff"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/admin/staff"
    assert (await User.get(email="admin@example.com")).language == "zh_CN"
    page = await http.get("/admin/staff")
    assert "退出登录" in page.text and 'lang="zh-CN"' in page.text
    refused = await http.post("/admin/language", data={"csrf_token": csrf, "language": "fr"})
    assert refused.status_code == 400 and (await User.get(email="admin@example.com")).language == "zh_CN"
    await http.post("/admin/language", data={"csrf_token": csrf, "language": "", "next": "/admin/"})
    assert "Sign out" in (await http.get("/admin/")).text

"""The admin's languages: Simplified Chinese first, English on request.

Each request's language is chosen once (``negotiate``) and made current with ``activated``;
``gettext`` and the templates' ``_()`` and ``{% trans %}`` then read it from a context
variable, so two requests rendering at once never see each other's language. The catalogs
are ``locales/<lang>/LC_MESSAGES/messages.po``; ``compile_catalogs`` writes their ``.mo`` at
install time, and a missing or stale ``.mo`` is compiled in memory at first use.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import BinaryIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from models import staff
from server.settings import ROOT

__all__ = [
    "DEFAULT", "LANGUAGES", "LOCALES", "activated", "compile_catalogs", "gettext", "html_lang", "language",
    "negotiate", "ngettext", "translations",
]

LANGUAGES = staff.LANGUAGES
NAMES = {"zh_CN": "中文", "en": "English"}
"""Each language by its own name, as a language menu shows it."""
DEFAULT = "zh_CN"
LOCALES = ROOT / "locales"
_DOMAIN = "messages"

# Accept-Language names languages by their primary subtag: zh-TW and zh-HK readers get
# Simplified Chinese, which they read more easily than English.
_BY_PRIMARY = {"zh": "zh_CN", "en": "en"}

_current: ContextVar[str] = ContextVar("kehu_language", default=DEFAULT)


def _catalog(lang: str, suffix: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{_DOMAIN}{suffix}"


def _compile(lang: str, into: BinaryIO) -> None:
    with _catalog(lang, ".po").open("rb") as source:
        write_mo(into, read_po(source, locale=lang))


def _stale(lang: str) -> bool:
    """Whether ``lang``'s ``.mo`` is missing or older than its ``.po``."""
    mo = _catalog(lang, ".mo")
    return not mo.exists() or mo.stat().st_mtime < _catalog(lang, ".po").stat().st_mtime


def compile_catalogs() -> list[Path]:
    """Write the ``messages.mo`` next to each ``messages.po`` it is missing from or older than;
    the paths written."""
    written = []
    for lang in filter(_stale, LANGUAGES):
        mo = _catalog(lang, ".mo")
        partial = mo.with_name(mo.name + ".part")
        with partial.open("wb") as target:
            _compile(lang, target)
        os.replace(partial, mo)  # a server reading the catalog meanwhile never sees half of it
        written.append(mo)
    return written


@cache
def translations(lang: str) -> Translations:
    """The catalog of ``lang``: its ``.mo``, or its ``.po`` compiled in memory when the ``.mo``
    is missing or stale (a checkout without ``make install``, or a catalog just edited)."""
    if not _stale(lang):
        with _catalog(lang, ".mo").open("rb") as compiled:
            return Translations(compiled, _DOMAIN)
    buffer = io.BytesIO()
    _compile(lang, buffer)
    buffer.seek(0)
    return Translations(buffer, _DOMAIN)


def _ranked(accept_language: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first; those with q=0 left out."""
    weighed = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighed.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighed)]


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The language to answer in: the staff member's own choice when they made one, else the best
    match of the browser's Accept-Language, else Chinese."""
    if preferred in LANGUAGES:
        return preferred
    for tag in _ranked(accept_language or ""):
        lang = _BY_PRIMARY.get(tag.split("-")[0].split("_")[0].lower())
        if lang is not None:
            return lang
    return DEFAULT


@contextmanager
def activated(lang: str) -> Iterator[None]:
    """Make ``lang`` the current language inside the block."""
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)


def language() -> str:
    """The current language, one of ``LANGUAGES``."""
    return _current.get()


def html_lang() -> str:
    """The current language as a BCP 47 tag, for ``<html lang>``: ``zh-CN`` or ``en``."""
    return language().replace("_", "-")


def gettext(message: str) -> str:
    """``message`` in the current language (itself when the catalog has no translation)."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` for ``n``, in the current language."""
    return translations(language()).ngettext(singular, plural, n)

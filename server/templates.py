"""The Jinja2 environment of every server-rendered page (admin_templates/), autoescaping on.

Text is marked for translation with ``{% trans %}…{% endtrans %}`` or ``{{ _("…") }}``
(newstyle gettext: placeholders as ``%(name)s``), in the language ``server.i18n`` holds
current; ``html_lang()`` gives that language for ``<html lang>``.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from server import i18n
from server.settings import ROOT

__all__ = ["templates"]

templates = Environment(
    loader=FileSystemLoader(ROOT / "admin_templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
)
templates.policies["ext.i18n.trimmed"] = True
templates.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
templates.globals["html_lang"] = i18n.html_lang

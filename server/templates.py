"""The Jinja2 environment of every server-rendered page (admin_templates/), autoescaping on."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from server.settings import ROOT

__all__ = ["templates"]

templates = Environment(
    loader=FileSystemLoader(ROOT / "admin_templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)

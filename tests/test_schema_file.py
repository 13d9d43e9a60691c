"""schema.graphql is the API's contract in review: it must say what the code serves."""

from __future__ import annotations

from schema import build_schema
from tests.conftest import ROOT


def test_schema_graphql_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == build_schema().as_str() + "\n", "run `make schema` and commit schema.graphql"


def test_every_field_argument_and_type_is_described():
    schema = build_schema()._schema
    missing = []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or type_.name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not type_.description:
            missing.append(type_.name)
        for name, field in getattr(type_, "fields", {}).items():
            if not field.description:
                missing.append(f"{type_.name}.{name}")
            for arg_name, arg in getattr(field, "args", {}).items():
                if not arg.description:
                    missing.append(f"{type_.name}.{name}({arg_name})")
    assert missing == []

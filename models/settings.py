"""Settings an admin keeps: the rules of tiers, churn, follow-up recurrence and the public pool.

Each kind of settings is a frozen dataclass in the module it governs (``segments.Rules``,
``churn.Rules``, ``follow_ups.Recurrence``, ``pool.Rules``), its defaults in code. A stored row
(``setting``, keyed by the kind's ``KEY``) holds what an admin changed; ``current`` reads the
defaults overlaid with it. ``change`` checks every value against the bounds its field declares
(``bounded``) and the kind's own ``problems``, all or nothing, and audits before and after;
models/rules.py names the kinds and is what the API and the admin change them through.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.audit import record
from models.errors import DomainError, ErrorCode, FieldError
from models.scope import Scope, requires

__all__ = ["Setting", "bounded", "change", "current", "spelled"]

Rules = TypeVar("Rules")


class Setting(Model):
    key = fields.CharField(max_length=40, primary_key=True)
    value = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField()
    updated_by = fields.ForeignKeyField("models.User", related_name="settings_changed", null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "setting"


def bounded(default: int | float | None, low: int | float, high: int | float, doc: str, *, optional: bool = False) -> Any:
    """A setting's field: a number from ``low`` to ``high``, told by ``doc``; ``optional`` ones may
    be None (off)."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high, "optional": optional, "doc": doc})


def _stored(kind: type[Rules], value: dict[str, Any]) -> Rules:
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{key: item for key, item in value.items() if key in names})


async def current(kind: type[Rules]) -> Rules:
    """The settings of ``kind`` in force: the defaults, with what an admin changed."""
    row = await Setting.filter(key=kind.KEY).first()
    return _stored(kind, row.value) if row is not None else kind()


def spelled(name: str) -> str:
    """A setting's name as errors and the API spell it: ``claims_per_day`` is ``claimsPerDay``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _number(field: dataclasses.Field, raw: Any) -> int | float | None:
    if raw is None or raw == "":
        if field.metadata["optional"]:
            return None
        raise DomainError.single(spelled(field.name), "a value is needed.", ErrorCode.INVALID)
    whole = isinstance(field.default, int) or field.metadata["optional"]
    try:
        value = int(raw) if whole and not isinstance(raw, float) else float(raw)
    except (TypeError, ValueError):
        raise DomainError.single(spelled(field.name), "must be a number.", ErrorCode.INVALID) from None
    if isinstance(raw, bool) or not field.metadata["low"] <= value <= field.metadata["high"]:
        raise DomainError.single(
            spelled(field.name), f"must be from {field.metadata['low']} to {field.metadata['high']}.", ErrorCode.INVALID,
        )
    return value


def _cleaned(kind: type, values: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    known = {f.name: f for f in dataclasses.fields(kind)}
    cleaned: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            errors.append(FieldError(spelled(name), f"not a setting of {kind.KEY}.", ErrorCode.INVALID))
            continue
        try:
            cleaned[name] = _number(known[name], raw)
        except DomainError as error:
            errors.extend(error.errors)
    return cleaned


@requires("customer.configure")
async def change(scope: Scope, changes: dict[type, dict[str, Any]]) -> dict[type, Any]:
    """Change settings of several kinds at once: every value is checked before any is kept. The
    settings of each kind after the change."""
    errors: list[FieldError] = []
    cleaned = {kind: _cleaned(kind, values, errors) for kind, values in changes.items()}
    if errors:
        raise DomainError(errors)
    now = datetime.now(UTC)
    by = scope.viewer.user_id if scope.viewer else None
    result = {}
    async with in_transaction() as connection:
        for kind, values in cleaned.items():
            row = await Setting.filter(key=kind.KEY).using_db(connection).select_for_update().first()
            before = _stored(kind, row.value) if row is not None else kind()
            after = dataclasses.replace(before, **values)
            if problems := after.problems():
                raise DomainError([FieldError(spelled(name), message, ErrorCode.INVALID) for name, message in problems])
            names = [f.name for f in dataclasses.fields(kind)]
            defaults = kind()
            stored = {name: getattr(after, name) for name in names if getattr(after, name) != getattr(defaults, name)}
            if row is None:
                await Setting.create(key=kind.KEY, value=stored, updated_at=now, updated_by_id=by, using_db=connection)
            else:
                await Setting.filter(key=kind.KEY).using_db(connection).update(value=stored, updated_at=now, updated_by_id=by)
            changed = [name for name in names if getattr(before, name) != getattr(after, name)]
            if changed:
                await record(scope, "setting.change", "setting", None,
                             before={f"{kind.KEY}.{n}": getattr(before, n) for n in changed},
                             after={f"{kind.KEY}.{n}": getattr(after, n) for n in changed}, connection=connection)
            result[kind] = after
    return result

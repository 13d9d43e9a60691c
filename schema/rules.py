"""The rules for whom to call in GraphQL: tiers, churn, follow-up recurrence, the public pool, loyalty, exchange rates.

Each section's type and input are made from its settings (models/rules.py), so that a new
setting is in the API, with its description, once it is in the model.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from models import rules
from schema.context import Info
from schema.errors import UserError, or_bad_input
from schema.mutations import Idempotent, payload

__all__ = ["RulesMutations", "RulesQueries"]

_TITLES = {
    "segments": ("SegmentRules", "How tiers and lifecycle stages are drawn."),
    "churn": ("ChurnRules", "When a customer counts as at risk of churning."),
    "follow_ups": ("FollowUpRecurrence", "When the next follow-up is due, by tier, once one is done."),
    "pool": ("PoolRules", "When customers go back to their team's public pool, and how many one may claim a day."),
    "loyalty": ("LoyaltyRules", "How points are earned, rewarded two levels up, kept, and turned into membership levels."),
}


def _kind(field: dataclasses.Field) -> type:
    if field.metadata["optional"]:
        return int | None
    return float if isinstance(field.default, float) else int


def _section_type(section: str) -> type:
    name, description = _TITLES[section]
    fields = rules.fields_of(section)
    namespace: dict[str, Any] = {"__annotations__": {f.name: _kind(f) for f in fields}}
    for f in fields:
        namespace[f.name] = strawberry.field(description=f"{f.metadata['doc']} ({f.metadata['low']}–{f.metadata['high']}).")
    return strawberry.type(type(name, (), namespace), description=description)


def _section_input(section: str) -> type:
    name, description = _TITLES[section]
    fields = rules.fields_of(section)
    namespace: dict[str, Any] = {"__annotations__": {f.name: _kind(f) | None for f in fields}}
    for f in fields:
        namespace[f.name] = strawberry.field(
            default=strawberry.UNSET,
            description=f"{f.metadata['doc']}, {f.metadata['low']} to {f.metadata['high']}" + ("; null: off." if f.metadata["optional"] else "."),
        )
    return strawberry.input(type(f"{name}Input", (), namespace), description=f"Changes to: {description[0].lower()}{description[1:]}")


_TYPES = {section: _section_type(section) for section in rules.SECTIONS}
_INPUTS = {section: _section_input(section) for section in rules.SECTIONS}
SegmentRules, ChurnRules, FollowUpRecurrence, PoolRules, LoyaltyRules = (
    _TYPES[s] for s in ("segments", "churn", "follow_ups", "pool", "loyalty")
)
SegmentRulesInput, ChurnRulesInput, FollowUpRecurrenceInput, PoolRulesInput, LoyaltyRulesInput = (
    _INPUTS[s] for s in ("segments", "churn", "follow_ups", "pool", "loyalty")
)


@strawberry.type(description="The rules for whom to call: each section as in force now.")
class Rules:
    segments: SegmentRules = strawberry.field(description="How tiers and lifecycle stages are drawn.")
    churn: ChurnRules = strawberry.field(description="When a customer counts as at risk.")
    follow_ups: FollowUpRecurrence = strawberry.field(description="When the next follow-up is due, by tier.")
    pool: PoolRules = strawberry.field(description="The public pool's release periods and claim limit.")
    loyalty: LoyaltyRules = strawberry.field(description="Points per yuan, referral rewards, expiry and membership levels.")

    @classmethod
    def from_sections(cls, sections: dict[str, Any]) -> Rules:
        return cls(**{name: _TYPES[name](**dataclasses.asdict(value)) for name, value in sections.items()})


@strawberry.type(description="What one unit of a currency is worth in the base currency (CNY).")
class ExchangeRate:
    currency: str = strawberry.field(description="The ISO 4217 code.")
    rate: Decimal = strawberry.field(description="Its worth in CNY.")
    updated_at: datetime = strawberry.field(description="When it was last set.")


@strawberry.type
class RulesQueries:
    @strawberry.field(description="The rules in force: tiers, churn, follow-up recurrence, the public pool, loyalty.")
    async def rules(self, info: Info) -> Rules:
        return Rules.from_sections(await or_bad_input(rules.rules(info.context.scope)))

    @strawberry.field(description="The exchange rates monetary scores convert other currencies by.")
    async def exchange_rates(self, info: Info) -> list[ExchangeRate]:
        return [ExchangeRate(**row) for row in await or_bad_input(rules.exchange_rates(info.context.scope))]


@strawberry.input(description="Changes to the rules (customer.configure); every value is checked before any is kept.")
class UpdateRulesInput(Idempotent):
    segments: SegmentRulesInput | None = strawberry.field(default=None, description="Tier and stage rules; segments are recomputed by them at once.")
    churn: ChurnRulesInput | None = strawberry.field(default=None, description="Churn early-warning rules.")
    follow_ups: FollowUpRecurrenceInput | None = strawberry.field(default=None, description="Follow-up recurrence by tier.")
    pool: PoolRulesInput | None = strawberry.field(default=None, description="Public pool release periods and claim limit.")
    loyalty: LoyaltyRulesInput | None = strawberry.field(default=None, description="Points, referral rewards, expiry and levels.")


@strawberry.type(description="The result of updateRules.")
class UpdateRulesPayload:
    rules: Rules | None = strawberry.field(description="The rules in force after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.input(description="A currency's exchange rate to set, or to remove.")
class SetExchangeRateInput(Idempotent):
    currency: str = strawberry.field(description="An ISO 4217 code other than CNY.")
    rate: Decimal | None = strawberry.field(description="Its worth in CNY, above 0 with at most 8 decimals; null removes it.")


@strawberry.type(description="The result of setExchangeRate.")
class SetExchangeRatePayload:
    exchange_rates: list[ExchangeRate] | None = strawberry.field(description="Every rate after the change; null when refused.")
    errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


def _given(section: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(section).items() if value is not strawberry.UNSET}


@strawberry.type
class RulesMutations:
    @strawberry.mutation(description="Change the rules for whom to call (customer.configure).")
    async def update_rules(
        self, info: Info, input: Annotated[UpdateRulesInput, strawberry.argument(description="The changes.")]
    ) -> UpdateRulesPayload:
        async def run() -> dict[str, Any]:
            changes = {name: _given(getattr(input, name)) for name in rules.SECTIONS if getattr(input, name) is not None}
            await rules.update_rules(info.context.scope, changes)
            return {}  # what a replay answers is read afresh, below

        result = await payload(UpdateRulesPayload, run, info, input, rules.update_rules)
        if not result.errors:
            result.rules = Rules.from_sections(await rules.rules(info.context.scope))
        return result

    @strawberry.mutation(description="Set or remove a currency's exchange rate (customer.configure).")
    async def set_exchange_rate(
        self, info: Info, input: Annotated[SetExchangeRateInput, strawberry.argument(description="The rate.")]
    ) -> SetExchangeRatePayload:
        async def run() -> dict[str, Any]:
            await rules.set_exchange_rate(info.context.scope, input.currency, input.rate)
            return {}

        result = await payload(SetExchangeRatePayload, run, info, input, rules.set_exchange_rate)
        if not result.errors:
            result.exchange_rates = [ExchangeRate(**row) for row in await rules.exchange_rates(info.context.scope)]
        return result

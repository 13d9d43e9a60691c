"""Recommendations in GraphQL: what to offer a customer next, and why."""

from __future__ import annotations

from enum import Enum

import strawberry

from models import recommendations

__all__ = ["Recommendation", "RecommendationReason"]


@strawberry.enum(description="Why a product is suggested.")
class RecommendationReason(Enum):
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    BEST_SELLER = "BEST_SELLER"
    TIER_BEST_SELLER = "TIER_BEST_SELLER"


@strawberry.type(description="A product to offer a customer, with the reason.")
class Recommendation:
    sku: str = strawberry.field(description="The product's stock-keeping unit.")
    name: str = strawberry.field(description="The product's name, as its latest order line gives it.")
    score: int = strawberry.field(
        description="BOUGHT_TOGETHER: customers you see who bought it and something this customer bought. "
                    "A best seller: customers you see (of the tier) who bought it."
    )
    because_of_sku: str | None = strawberry.field(description="BOUGHT_TOGETHER: the product of this customer's most of them also bought.")
    reason_code: RecommendationReason = strawberry.field(description="Why it is suggested.")
    reason: str = strawberry.field(description='Why, in words, in the language asked: "bought by 37 customers who also bought X".')

    @classmethod
    def of(cls, found: recommendations.Recommendation, language: str) -> Recommendation:
        code, text = recommendations.reason(found, language)
        return cls(sku=found.sku, name=found.name, score=found.score, because_of_sku=found.because_sku,
                   reason_code=RecommendationReason(code), reason=text)

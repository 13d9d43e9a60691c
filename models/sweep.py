"""The sweep: what time makes happen, once however many workers run it at once.

Segments of customers whose orders changed are refreshed first (the pool reads tiers), then
complaints past their SLA are escalated, churn alerts opened and closed, customers left
alone by their owners released to their team's pool, points expired and membership levels drawn. The server runs it every
``KEHU_SWEEP_SECONDS``; ``kehu sweep`` runs it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from models import churn, escalation, loyalty, pool, segments

__all__ = ["Swept", "sweep"]


@dataclass(frozen=True)
class Swept:
    refreshed: int
    escalated: escalation.Swept
    churn: churn.Swept
    released: int
    loyalty: loyalty.Swept

    @property
    def anything(self) -> bool:
        return bool(
            self.refreshed or self.escalated.total or self.churn.opened or self.churn.closed or self.released
            or self.loyalty.expired or self.loyalty.promoted or self.loyalty.demoted
        )

    def lines(self) -> list[str]:
        """What happened, for the log and the command line."""
        return [
            f"segments of {self.refreshed} customers refreshed",
            f"escalated {self.escalated.total} complaints: {self.escalated.first_response} first responses"
            f" and {self.escalated.resolution} resolutions late",
            f"churn alerts: {self.churn.opened} opened, {self.churn.closed} closed",
            f"{self.released} customers released to their team's pool",
            f"{self.loyalty.expired} points expired; {self.loyalty.promoted} members promoted, {self.loyalty.demoted} demoted",
        ]


async def sweep(at: datetime | None = None) -> Swept:
    at = at or datetime.now(UTC)
    refreshed = await segments.refresh(at)
    return Swept(refreshed, await escalation.sweep(at), await churn.sweep(at), await pool.sweep(at), await loyalty.sweep(at))

"""What a worker does beside answering requests: the sweep, and listening for changes.

Every worker sweeps every ``KEHU_SWEEP_SECONDS`` (models/sweep.py: segments of customers whose
orders changed, complaint escalations, churn alerts, releases to the public pool; each happens
once however many sweep), and, once a day, recomputes every customer's segment. On PostgreSQL
every worker also LISTENs for the changes any worker announces (models/live.py) on a
connection of its own, and hands them to its hub, where subscriptions and the admin's event
streams read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg

from models import db, live, segments, sweep
from server.settings import Settings

__all__ = ["running"]

log = logging.getLogger("kehu.background")
_RETRY_SECONDS = 5.0


async def _sweeping(every: float) -> None:
    recomputed: date | None = None
    while True:
        await asyncio.sleep(every)
        try:
            if recomputed != (today := datetime.now(UTC).date()):  # segments: once a day (and at start)
                count = await segments.recompute()
                recomputed = today
                log.info("recomputed the segments of %d customers", count)
            if (swept := await sweep.sweep()).anything:
                log.info("swept: %s", "; ".join(swept.lines()))
        except Exception as error:  # the database may be away for a while; the next sweep catches up
            log.warning("the sweep failed: %s", error.__class__.__name__ if db.unavailable(error) else error)


def _deliver(connection, pid, channel, payload: str) -> None:
    if (change := live.Change.decode(payload)) is not None:
        live.hub.publish(change)


async def _listening(database_url: str) -> None:
    """LISTEN on a connection of its own, reconnecting when it is lost."""
    while True:
        try:
            connection = await asyncpg.connect(database_url, server_settings={"application_name": "kehu-listen"})
        except Exception as error:
            log.warning("cannot listen for changes (%s); retrying", error.__class__.__name__)
            await asyncio.sleep(_RETRY_SECONDS)
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _, lost=lost: lost.set())
        try:
            await connection.add_listener(live.CHANNEL, _deliver)
            await lost.wait()
        except Exception as error:
            log.warning("listening for changes stopped (%s); reconnecting", error.__class__.__name__)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
        await asyncio.sleep(_RETRY_SECONDS)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    tasks = []
    if settings.sweep_seconds:
        tasks.append(asyncio.create_task(_sweeping(settings.sweep_seconds), name="kehu-sweep"))
    if not settings.is_sqlite:
        tasks.append(asyncio.create_task(_listening(settings.database_url), name="kehu-listen"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

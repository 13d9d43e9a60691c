"""A lean HTTP/1.1 keep-alive client and a closed-loop driver: N clients, each sending its
next request when the last one is answered, for a fixed time.

Lean on purpose: the driver shares the machine with the server, and every microsecond it
spends is one the server does not get. kehu and the floor are driven the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Result", "drive"]


class _Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\n{self.head}content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode() + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Milliseconds below which ``p`` of the requests finished."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def drive(
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    body: Callable[[int], bytes],
    clients: int,
    seconds: float,
    warmup: float = 1.0,
) -> Result:
    """``clients`` loops for ``seconds`` (after ``warmup``); ``body(i)`` makes the i-th request."""
    counter = iter(range(10**12))
    latencies: list[float] = []
    errors = 0
    first_error: list[str] = []
    start = time.perf_counter()
    measure_from = start + warmup
    stop = measure_from + seconds

    async def client() -> None:
        nonlocal errors
        connection = _Connection(host, port, headers)
        try:
            while (now := time.perf_counter()) < stop:
                status, payload = await connection.post(path, body(next(counter)))
                done = time.perf_counter()
                failed = status != 200 or b'"errors":[{' in payload or b'"errors": [{' in payload
                if done >= measure_from and now >= measure_from:
                    latencies.append(done - now)
                    if failed:
                        errors += 1
                        if not first_error:
                            first_error.append(f"{status} {payload[:300]!r}")
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return Result(len(latencies), errors, seconds, latencies, first_error[0] if first_error else None)


def graphql(query: str, variables: dict | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()

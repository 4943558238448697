"""Rate limits per endpoint: requests/min and tokens/min buckets, a pause on Retry-After,
and a window of requests in flight that halves on repeated 429s and grows back (AIMD).

Limits come from the recipe or, when it gives none, from the server's
`x-ratelimit-limit-*` headers; until the first response tells them, one request probes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping


class TokenBucket:
    """`rate` tokens per second, at most `capacity` saved up. Starts full."""

    __slots__ = ("rate", "capacity", "level", "stamp")

    def __init__(self, per_minute: float, burst_seconds: float = 1.0) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def set_rate(self, per_minute: float, burst_seconds: float = 1.0) -> None:
        self._refill()
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = min(self.level, self.capacity)

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` tokens are available (0 when they are now)."""
        self._refill()
        amount = min(amount, self.capacity)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount  # may go negative: a debt the next requests wait out

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


class Window:
    """Requests in flight, under a limit that can change while requests wait (FIFO)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.active < self.limit and not self.waiters:
            self.active += 1
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # we were handed a slot as we were cancelled
            else:
                self.waiters.remove(fut)
            raise

    def release(self) -> None:
        self.active -= 1
        self.wake()

    def wake(self) -> None:
        while self.waiters and self.active < self.limit:
            fut = self.waiters.popleft()
            if not fut.done():
                self.active += 1
                fut.set_result(None)


class Limiter:
    """Everything that decides when an endpoint's next request may go."""

    def __init__(
        self, max_in_flight: int, rpm: float | None = None, tpm: float | None = None, probe: bool = False
    ) -> None:
        self.max_in_flight = max_in_flight
        self.window = Window(max_in_flight)
        self.requests = TokenBucket(rpm * 0.99) if rpm else None  # a hair under the limit
        self.tokens = TokenBucket(tpm * 0.99) if tpm else None
        self.configured = bool(rpm or tpm)
        self.learned = self.configured or not probe  # limits known (configured, read, or not asked)
        self.probing = False
        self.pause_until = 0.0
        self.gate = asyncio.Lock()  # requests pass the buckets one at a time, in order
        self.successes = 0
        self.rate_limited = 0

    async def acquire(self, tokens: float) -> None:
        """Wait for a slot in the window, the buckets and any pause."""
        await self.window.acquire()
        if not self.learned:
            await self._probe()
        if self.requests is None and self.tokens is None and self.pause_until == 0.0:
            return  # nothing to pace: the fast path
        async with self.gate:
            while True:
                wait = self.pause_until - time.monotonic()
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens is not None:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(tokens)

    async def _probe(self) -> None:
        """Until limits are known, let a single request through to read the headers."""
        while not self.learned and self.probing:
            self.window.release()
            await asyncio.sleep(0.02)
            await self.window.acquire()
        if not self.learned:
            self.probing = True

    def done(self, headers: Mapping[str, str] | None, ok: bool, estimated: float, used: float | None) -> None:
        """After a response: learn limits, settle the token estimate, grow the window."""
        self.window.release()
        if headers is not None and not self.configured:
            self._learn(headers)
        self.learned = True
        self.probing = False
        if self.tokens is not None and used is not None:
            self.tokens.give(estimated - used) if used < estimated else self.tokens.take(used - estimated)
        if ok:
            self.successes += 1
            w = self.window
            if w.limit < self.max_in_flight and self.successes >= w.limit:
                self.successes = 0
                w.limit += 1  # additive increase: one more per window's worth of successes
                w.wake()

    def throttled(self, retry_after: float | None) -> None:
        """After a 429: pause everyone for Retry-After, halve the window (multiplicative decrease)."""
        self.rate_limited += 1
        if retry_after:
            self.pause_until = max(self.pause_until, time.monotonic() + retry_after)
        w = self.window
        w.limit = max(1, w.limit // 2)
        self.successes = 0

    def _learn(self, headers: Mapping[str, str]) -> None:
        rpm = _number(headers.get("x-ratelimit-limit-requests"))
        tpm = _number(headers.get("x-ratelimit-limit-tokens"))
        if rpm:
            if self.requests is None:
                self.requests = TokenBucket(rpm * 0.99)
                # start short of full: the server's bucket also drains while our first burst connects
                self.requests.level = 0.9 * self.requests.capacity
                left = _number(headers.get("x-ratelimit-remaining-requests"))
                if left is not None:
                    self.requests.level = min(self.requests.level, left)
            else:
                self.requests.set_rate(rpm * 0.99)
        if tpm and tpm < 1e9:
            if self.tokens is None:
                self.tokens = TokenBucket(tpm * 0.99)
            else:
                self.tokens.set_rate(tpm * 0.99)


def _number(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After from `retry-after-ms` or `retry-after` (seconds), if the server sent one."""
    if not headers:
        return None
    ms = _number(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    s = _number(headers.get("retry-after"))
    return s

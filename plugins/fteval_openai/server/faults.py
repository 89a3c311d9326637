"""Fault injection for chat completions: latency, a rate limit and random 429/500 answers."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter

from fteval_openai.server.options import ServeOptions

__all__ = ["Faults"]


class Faults:
    """Decides, per chat completion, how long to wait and whether to fail (seeded, so runs repeat)."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.rng = random.Random(options.fault_seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._tokens = options.rate_limit or 0.0
        self._refilled = time.monotonic()

    async def delay(self) -> None:
        """Sleep the configured latency plus jitter."""
        o = self.options
        with self.lock:
            jitter = self.rng.uniform(0, o.latency_jitter_ms) if o.latency_jitter_ms else 0.0
        if o.latency_ms or jitter:
            await asyncio.sleep((o.latency_ms + jitter) / 1000)

    def _rate_limited(self) -> float | None:
        """Seconds until a request is allowed, or None if one is allowed now (token bucket)."""
        rate = self.options.rate_limit
        if not rate:
            return None
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / rate

    def verdict(self) -> tuple[int, dict[str, str]] | None:
        """An injected failure (status, headers), or None to serve the request."""
        with self.lock:
            wait = self._rate_limited()
            if wait is not None:
                self.counts["rate_limited"] += 1
                return 429, {"retry-after-ms": str(max(1, int(wait * 1000)))}
            if self.options.fail_rate and self.rng.random() < self.options.fail_rate:
                if self.rng.random() < 0.5:
                    self.counts["injected_429"] += 1
                    return 429, {"retry-after-ms": "20"}
                self.counts["injected_500"] += 1
                return 500, {}
        return None

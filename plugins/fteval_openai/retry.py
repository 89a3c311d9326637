"""When to retry an API call and how long to wait: exponential backoff with full jitter, Retry-After first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["RetryPolicy", "is_retryable", "retry_after_s"]

MAX_DELAY_S = 30.0


def is_retryable(exc: BaseException) -> bool:
    """429, 408, 409, 5xx, timeouts (the request's deadline too) and dropped connections are worth another try."""
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | TimeoutError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_s(exc: BaseException) -> float | None:
    """The server's requested wait (``retry-after-ms`` or ``Retry-After`` seconds / HTTP date), if any."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            import time

            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class RetryPolicy:
    """``max_retries`` retries; delay ``base * 2**attempt`` with full jitter, or the server's Retry-After."""

    max_retries: int
    base_s: float
    rng: random.Random

    def delay(self, attempt: int, exc: BaseException) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        asked = retry_after_s(exc)
        if asked is not None:
            return min(asked, MAX_DELAY_S)
        return self.rng.uniform(0, min(MAX_DELAY_S, self.base_s * 2**attempt))

"""Rate limits, kept in memory per process: token buckets (API tokens, alert integrations)
and the failed-login lockout.

With N replicas a client gets at most N times a limit, which bounds abuse without a shared
store.
"""

from __future__ import annotations

import threading
import time

from warroom.core.errors import RateLimited


class TokenBuckets:
    """Per-key token buckets: `rate` requests/s sustained, `burst` at once (0 rate: no limit).

    The rate and burst may also be given per call (each alert integration has its own).
    """

    def __init__(self, rate: float = 0.0, burst: int = 1) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(
        self,
        key: object,
        now: float | None = None,
        *,
        rate: float | None = None,
        burst: int | None = None,
    ) -> float:
        """Spend one token; return 0 when allowed, else the seconds until one is available."""
        rate = self.rate if rate is None else rate
        full = self.burst if burst is None else float(burst)
        if rate <= 0:
            return 0.0
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (full, moment))
            tokens = min(full, tokens + (moment - last) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, moment)
                return 0.0
            self._buckets[key] = (tokens, moment)
            return (1 - tokens) / rate


class LoginThrottle:
    """At most `limit` failed logins per user name and per client address in `window` seconds.

    Kept in memory per process (argon2 already makes each guess slow); a success clears it.
    """

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self.failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self.failures.get(key, []) if t > now - self.window]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def check(self, keys: list[str]) -> None:
        now = time.monotonic()
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self.limit:
                retry = int(recent[0] + self.window - now) + 1
                raise RateLimited(
                    f"too many failed logins; try again in {retry} s", retry_after=retry
                )

    def failed(self, keys: list[str]) -> None:
        for key in keys:
            self.failures.setdefault(key, []).append(time.monotonic())

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self.failures.pop(key, None)

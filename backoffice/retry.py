"""The one retry policy: which errors are worth retrying, and the loop that retries them.

An error is *transient* when its class carries the :class:`~backoffice.errors.Transient` marker
and not the :class:`~backoffice.errors.Terminal` one; only transient errors are retried. Terminal
errors and everything else (a defect, a bad input) fail at once: retrying cannot help them.

The runner retries ``bot.act`` with :meth:`RetryPolicy.from_settings` (``retries`` and
``retry_backoff_seconds``); connectors (e.g. ``connectors.web``) and bots call :func:`retry` for
single operations. Nothing else retries: Prefect tasks do not (a retried batch would repeat the
runner's own retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

from backoffice.errors import Terminal, Transient
from backoffice.settings import Settings

__all__ = ["Classification", "RetryPolicy", "classify", "is_transient", "retry"]

log = logging.getLogger("backoffice.retry")
T = TypeVar("T")
Classification = Literal["transient", "terminal", "other"]


def classify(exc: BaseException) -> Classification:
    """``terminal`` (marked Terminal), ``transient`` (marked Transient only) or ``other``."""
    if isinstance(exc, Terminal):
        return "terminal"
    if isinstance(exc, Transient):
        return "transient"
    return "other"


def is_transient(exc: BaseException) -> bool:
    """True when retrying ``exc`` may help."""
    return classify(exc) == "transient"


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; waits ``backoff`` seconds after the first failure, then
    ``factor`` times longer after each further one, never more than ``max_delay`` (None: no cap)."""

    attempts: int = 4
    backoff: float = 0.5
    factor: float = 2.0
    max_delay: float | None = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """``settings.retries`` retries after the first try, the first after
        ``settings.retry_backoff_seconds``, doubling."""
        return cls(attempts=settings.retries + 1, backoff=settings.retry_backoff_seconds, max_delay=None)

    def delays(self) -> Iterator[float]:
        """The waits between the attempts (one fewer than ``attempts``)."""
        d = self.backoff
        for _ in range(max(self.attempts - 1, 0)):
            yield d if self.max_delay is None else min(d, self.max_delay)
            d *= self.factor


def retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it returns. A transient error is retried per ``policy`` (``on_retry(attempt,
    error)`` is called before each wait); once the attempts are used up, and for any other error at
    once, the error is raised as it is."""
    delays = policy.delays()
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            log.info("attempt %d failed (%s); retrying in %.2fs", attempt, type(exc).__name__, delay)
            sleep(delay)
            attempt += 1

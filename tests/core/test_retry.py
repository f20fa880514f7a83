"""backoffice.retry: one classification by marker mixins, one retry loop, one policy from settings."""

from __future__ import annotations

import pytest

from backoffice.errors import (
    ConnectorError,
    InputError,
    Terminal,
    TerminalError,
    Transient,
    TransientError,
    UsageError,
)
from backoffice.retry import RetryPolicy, classify, is_transient, retry
from backoffice.settings import Settings


class LedgerLocked(InputError, Transient):
    """Any error class can be marked, not only connector errors."""


class Confused(TransientError, Terminal):
    """Both markers: terminal wins, retrying is not attempted."""


def test_markers_classify_any_error_class() -> None:
    assert classify(TransientError("x")) == "transient" and is_transient(TransientError("x"))
    assert classify(LedgerLocked("locked")) == "transient"
    assert classify(TerminalError("gone")) == "terminal"
    assert classify(Confused("both")) == "terminal"
    assert classify(ConnectorError("plain")) == "other"
    assert classify(ValueError("a defect")) == "other"
    assert isinstance(TransientError("x"), ConnectorError)


def test_retry_retries_transient_errors_with_backoff_then_raises_the_last() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise LedgerLocked(f"try {len(calls)}")
        return "ok"

    seen: list[int] = []
    assert (
        retry(
            flaky,
            RetryPolicy(attempts=4, backoff=0.1),
            sleep=waits.append,
            on_retry=lambda n, e: seen.append(n),
        )
        == "ok"
    )
    assert waits == [0.1, 0.2] and seen == [1, 2]

    def always() -> None:
        raise TransientError("down")

    waits.clear()
    with pytest.raises(TransientError, match="down"):
        retry(always, RetryPolicy(attempts=3, backoff=1, max_delay=1.5), sleep=waits.append)
    assert waits == [1, 1.5]


@pytest.mark.parametrize("error", [TerminalError("no"), Confused("both"), KeyError("defect")])
def test_retry_does_not_retry_what_retrying_cannot_help(error: Exception) -> None:
    calls: list[int] = []

    def fails() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        retry(fails, RetryPolicy(attempts=5, backoff=0), sleep=lambda s: None)
    assert len(calls) == 1


def test_the_runners_policy_comes_from_the_settings() -> None:
    policy = RetryPolicy.from_settings(Settings(retries=3, retry_backoff_seconds=0.5))
    assert policy.attempts == 4
    assert list(policy.delays()) == [0.5, 1.0, 2.0]  # doubling, no cap
    assert list(RetryPolicy.from_settings(Settings(retries=0)).delays()) == []


def test_usage_error_is_bad_input_with_exit_code_2() -> None:
    err = UsageError("--orders is required", field="orders")
    assert isinstance(err, InputError) and err.code == "USAGE" and err.exit_code == 2
    assert str(err) == "field 'orders': --orders is required"

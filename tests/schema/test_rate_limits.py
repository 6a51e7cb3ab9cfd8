"""The sliding-window limiter and the per-address and per-account abuse limits built on it."""

from __future__ import annotations

from schema.rate_limits import Action, Limit, RateLimits, SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_limit_per_window_and_more_as_old_hits_slide_out() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=3, window_seconds=60, clock=clock)

    first = [limiter.hit("a") for _ in range(3)]
    refused = limiter.hit("a")
    other = limiter.hit("b")
    clock.now += 30
    still_refused = limiter.hit("a")
    clock.now += 30.5
    again = limiter.hit("a")

    assert first == [True, True, True]
    assert (refused, other, still_refused, again) == (False, True, False, True)


def test_refused_hits_do_not_extend_the_wait() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit=1, window_seconds=10, clock=clock)
    limiter.hit("a")

    for _ in range(100):
        clock.now += 0.05
        limiter.hit("a")
    clock.now = 1010.0

    assert limiter.hit("a") is True


def test_memory_is_bounded_by_forgetting_the_least_recent_key() -> None:
    limiter = SlidingWindowLimiter(limit=1, window_seconds=60, max_keys=100)
    limiter.hit("first")

    for n in range(10_000):
        limiter.hit(f"flood-{n}")

    assert len(limiter) == 100
    assert limiter.hit("first") is True


def test_rate_limits_count_the_address_and_the_account_of_each_action() -> None:
    clock = FakeClock()
    limits = RateLimits(
        {Action.CUSTOMER_SIGN_IN: Limit(per_address=3, per_account=2)},
        window_seconds=60,
        clock=clock,
    )

    same_account = [limits.allow(Action.CUSTOMER_SIGN_IN, address=a, account="x") for a in "abc"]
    same_address = [limits.allow(Action.CUSTOMER_SIGN_IN, address="d", account=k) for k in "pqrs"]
    unlimited = [limits.allow(Action.CODE_LOOKUP, address="d") for _ in range(10)]
    clock.now += 61
    later = limits.allow(Action.CUSTOMER_SIGN_IN, address="d", account="x")

    assert same_account == [True, True, False]
    assert same_address == [True, True, True, False]
    assert unlimited == [True] * 10
    assert later is True


def test_long_account_names_are_kept_as_short_keys() -> None:
    limits = RateLimits(
        {Action.REGISTRATION: Limit(per_address=100, per_account=1)}, window_seconds=60
    )
    huge = "x" * 1_000_000

    first = limits.allow(Action.REGISTRATION, address="a", account=huge)
    again = limits.allow(Action.REGISTRATION, address="b", account=huge)

    assert (first, again) == (True, False)
    # Memory stays bounded by max_keys times a small key, not by what clients send.
    stored = limits._by_account[Action.REGISTRATION]._hits
    assert all(len(key) <= 64 for key in stored)

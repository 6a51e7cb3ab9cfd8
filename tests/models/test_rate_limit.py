"""The sliding-window limiter behind invitationByCode."""

from __future__ import annotations

from models.rate_limit import SlidingWindowLimiter


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

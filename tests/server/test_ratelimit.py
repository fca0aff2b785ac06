"""The bad-token throttle on a clock the test turns: the exact wait it announces, when a failure
stops counting, its defaults, and what a spray of addresses can and cannot make it forget."""

from __future__ import annotations

import threading

import httpx
import pytest

from server.ratelimit import FailureLimiter

GUESSER = "203.0.113.9"


class Clock:
    """Seconds since t0, moved only by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(limiter: FailureLimiter, address: str, times: int) -> list[bool]:
    return [limiter.record_failure(address) for _ in range(times)]


def test_the_defaults_are_twenty_failures_a_minute(clock):
    limiter = FailureLimiter(clock=clock)
    assert (limiter.threshold, limiter.window) == (20, 60.0)
    fail(limiter, GUESSER, 19)
    assert limiter.retry_after(GUESSER) is None
    assert limiter.record_failure(GUESSER) is True
    assert limiter.retry_after(GUESSER) == 60


def test_the_server_throttles_with_the_defaults(state):
    from server.app import create_app

    limiter = create_app(state).limiter
    assert (limiter.threshold, limiter.window) == (20, 60.0)


def test_only_the_failure_that_reaches_the_threshold_starts_the_wait(clock):
    limiter = FailureLimiter(threshold=3, clock=clock)
    assert fail(limiter, GUESSER, 5) == [False, False, True, False, False]


def test_retry_after_is_the_whole_window_at_t0(clock):
    limiter = FailureLimiter(clock=clock)
    fail(limiter, GUESSER, 20)
    assert limiter.retry_after(GUESSER) == 60


def test_retry_after_counts_down_with_the_clock(clock):
    limiter = FailureLimiter(clock=clock)
    fail(limiter, GUESSER, 20)
    clock.now = 30.0
    assert limiter.retry_after(GUESSER) == 30
    clock.now = 29.5
    assert limiter.retry_after(GUESSER) == 31  # rounded up: 30 s would come back too early
    clock.now = 59.9
    assert limiter.retry_after(GUESSER) == 1


def test_a_failure_expires_exactly_one_window_later(clock):
    limiter = FailureLimiter(clock=clock)
    fail(limiter, GUESSER, 20)
    clock.now = 59.999
    assert limiter.retry_after(GUESSER) == 1
    clock.now = 60.0
    assert limiter.retry_after(GUESSER) is None


def test_the_wait_ends_when_fewer_than_the_threshold_remain(clock):
    limiter = FailureLimiter(threshold=3, window_seconds=60, clock=clock)
    for at in (0.0, 10.0, 20.0, 30.0):  # one more than the threshold, as concurrent requests may record
        clock.now = at
        limiter.record_failure(GUESSER)
    assert limiter.retry_after(GUESSER) == 40  # the failure at 10 s must leave too, at 70 s
    clock.now = 70.0
    assert limiter.retry_after(GUESSER) is None


def test_each_address_waits_for_its_own_failures(clock):
    limiter = FailureLimiter(clock=clock)
    fail(limiter, GUESSER, 20)
    fail(limiter, "198.51.100.1", 19)
    assert limiter.retry_after(GUESSER) == 60
    assert limiter.retry_after("198.51.100.1") is None


def spray(limiter: FailureLimiter, count: int, prefix: str = "2001:db8::") -> None:
    for n in range(count):
        limiter.record_failure(f"{prefix}{n:x}")


def test_a_spray_of_10001_addresses_does_not_forget_a_guesser(clock):
    limiter = FailureLimiter(clock=clock)
    fail(limiter, GUESSER, 20)
    clock.now = 59.0
    spray(limiter, 10_001)
    assert limiter.retry_after(GUESSER) == 1


def test_addresses_quiet_for_a_window_are_forgotten_past_10000(clock):
    limiter = FailureLimiter(clock=clock)
    spray(limiter, 10_000, prefix="2001:db8:1::")
    assert len(limiter) == 10_000
    clock.now = 60.0
    fail(limiter, GUESSER, 1)  # the 10,001st address: the quiet ones go
    assert len(limiter) == 1


def test_up_to_10000_addresses_are_all_remembered(clock):
    limiter = FailureLimiter(clock=clock)
    spray(limiter, 9_999, prefix="2001:db8:1::")
    clock.now = 60.0
    fail(limiter, GUESSER, 1)
    assert len(limiter) == 10_000


def test_a_spray_within_one_window_sweeps_only_when_the_table_has_doubled(clock):
    limiter = FailureLimiter(clock=clock, sweep_at=100, max_addresses=10_000)
    sweeps = []
    real_sweep = limiter._sweep
    limiter._sweep = lambda: (sweeps.append(len(limiter)), real_sweep())  # type: ignore[method-assign]
    spray(limiter, 1_000)  # all within one window: nothing is quiet, nothing can be forgotten
    assert sweeps == [101, 203, 407, 815]  # amortised: not one walk of the table per bad token


def test_memory_is_capped_without_forgetting_a_throttled_guesser(clock):
    limiter = FailureLimiter(clock=clock, sweep_at=100, max_addresses=500)
    fail(limiter, GUESSER, 20)
    spray(limiter, 5_000)  # within one window: none of them is quiet
    assert len(limiter) <= 2 * 500 + 1  # at most twice the cap between two sweeps
    assert limiter.retry_after(GUESSER) == 60


def test_take_gives_a_place_while_one_is_left_then_the_wait(clock):
    limiter = FailureLimiter(3, 60.0, clock=clock)
    assert [limiter.take(GUESSER) for _ in range(4)] == [(None, False), (None, False), (None, True), (60, False)]
    limiter.give_back(GUESSER)
    assert limiter.take(GUESSER) == (None, True)


def at_once(count: int, fn) -> list:
    """`fn()` from `count` threads released together at a barrier; their results."""
    barrier = threading.Barrier(count)
    results: list = []

    def run() -> None:
        barrier.wait()
        results.append(fn())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_threads_taking_at_once_get_no_more_places_than_the_threshold(clock):
    limiter = FailureLimiter(5, 60.0, clock=clock)
    taken = at_once(16, lambda: limiter.take(GUESSER))
    assert sorted(taken, key=str) == sorted([(None, False)] * 4 + [(None, True)] + [(60, False)] * 11, key=str)


def test_bad_tokens_sent_at_once_get_the_threshold_of_401s_and_one_audit_event(state, data_dir, clock):
    from apihelpers import audit_rows
    from server.app import Application
    from server.handlers import ROUTES

    app = Application(state, ROUTES, limiter=FailureLimiter(5, 60.0, clock=clock))

    def guess() -> int:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver",
                          headers={"Authorization": "Bearer ss_not-a-token"}) as guesser:
            return guesser.get("/v1/whoami").status_code

    statuses = at_once(16, guess)
    app.close()
    assert sorted(statuses) == [401] * 5 + [429] * 11
    assert len(audit_rows(data_dir, action="auth.rate_limited")) == 1

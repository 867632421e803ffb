"""The Redis rate limiter shared by every process: pacing, waits, in-flight cap, many processes."""

import threading
import time
import uuid
from contextlib import ExitStack

import pytest

from portal.bench.limiter import max_in_any_window, run
from portal.hikvision.errors import RateLimitTimeout
from portal.hikvision.ratelimit import SharedRateLimiter, limiter_name


@pytest.fixture
def make_limiter(redis_conn):
    made = []

    def make(calls=10, window=1.0, **kwargs):
        limiter = SharedRateLimiter(
            redis_conn, f"test:limit:{uuid.uuid4().hex}", calls, window, **kwargs
        )
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.delete()


def recorded_slots(limiter, count):
    """When the slots the script hands out begin (seconds from the first call); nobody sleeps.

    Each wait is added to the moment it was handed out, so the slow calls of a loaded machine
    do not shorten the figures.
    """
    started = time.monotonic()
    slots = []
    limiter._sleep = lambda wait: slots.append(time.monotonic() - started + wait)
    for _ in range(count):
        limiter.acquire()
    return slots


def test_slots_are_spaced_by_the_interval_after_the_burst(make_limiter):
    limiter = make_limiter(calls=5, window=0.5, burst=2)
    spaced = 0.5 * (1 + limiter.safety)
    interval = spaced / 5
    slots = recorded_slots(limiter, 7)
    # Two go at once (zero waits never reach sleep), then one every interval; the sixth and
    # seventh wait for the first two to leave the (safety-widened) window.
    expected = [interval, 2 * interval, 3 * interval, spaced, spaced]
    assert slots == pytest.approx(expected, abs=0.02)


def test_never_more_than_calls_within_a_window_even_with_a_full_burst(make_limiter):
    limiter = make_limiter(calls=3, window=1.0, burst=3)
    slots = [0.0] * 3 + recorded_slots(limiter, 9)
    assert len(slots) == 9
    assert max_in_any_window(slots, 1.0) == 3
    assert slots[3] == pytest.approx(limiter.spaced_window, abs=0.02)


def test_default_burst_is_smaller_than_calls(make_limiter):
    limiter = make_limiter(calls=10, window=1.0)
    assert limiter.burst == 2
    assert len(recorded_slots(limiter, 10)) == 8


def test_real_waiting_single_process_pacing(make_limiter):
    limiter = make_limiter(calls=10, window=0.5, burst=1)
    stamps = []
    for _ in range(8):
        limiter.acquire()
        stamps.append(time.monotonic())
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= 0.025  # 0.0525 apart, minus scheduling noise
    assert stamps[-1] - stamps[0] == pytest.approx(7 * 0.0525, abs=0.15)


def test_a_slot_beyond_max_wait_raises_at_once_without_reserving(make_limiter, redis_conn):
    limiter = make_limiter(calls=1, window=10.0, max_wait=0.5)
    limiter.acquire()
    tat = redis_conn.get(limiter.keys["tat"])
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout, match="within 0.5s"):
        limiter.acquire()
    with pytest.raises(RateLimitTimeout):
        with limiter.slot():
            pass
    assert time.monotonic() - started < 0.4
    assert redis_conn.get(limiter.keys["tat"]) == tat
    assert limiter.in_flight() == 0


def test_pause_holds_back_the_next_slot(make_limiter):
    limiter = make_limiter(calls=100, window=1.0)
    limiter.pause(0.7)
    slots = recorded_slots(limiter, 1)
    assert slots[0] == pytest.approx(0.7, abs=0.05)


def test_keys_expire_when_idle(make_limiter, redis_conn):
    limiter = make_limiter(calls=10, window=1.0)
    with limiter.slot():
        pass
    for key in ("tat", "recent"):
        assert 0 < redis_conn.pttl(limiter.keys[key]) <= 4000


def test_in_flight_cap_waits_then_times_out(make_limiter):
    limiter = make_limiter(calls=1000, max_in_flight=2, max_wait=0.3)
    with ExitStack() as held:
        held.enter_context(limiter.slot())
        held.enter_context(limiter.slot())
        assert limiter.in_flight() == 2
        started = time.monotonic()
        with pytest.raises(RateLimitTimeout, match="in flight"):
            with limiter.slot():
                pass
        assert time.monotonic() - started == pytest.approx(0.3, abs=0.2)
    assert limiter.in_flight() == 0
    with limiter.slot() as waited:
        assert waited < 0.2


def test_a_release_wakes_a_waiter(make_limiter):
    limiter = make_limiter(calls=1000, max_in_flight=1, max_wait=5.0)
    got = []

    def take():
        with limiter.slot() as waited:
            got.append(waited)

    with limiter.slot():
        waiter = threading.Thread(target=take)
        waiter.start()
        time.sleep(0.3)
        assert got == []
    waiter.join(timeout=5)
    assert len(got) == 1
    assert 0.25 <= got[0] < 1.0


def test_a_crashed_holder_frees_its_lease_when_it_expires(make_limiter):
    limiter = make_limiter(calls=1000, max_in_flight=1, lease_seconds=0.4, max_wait=3.0)
    limiter._take_lease(time.monotonic() + 1)  # taken and never given back
    with limiter.slot() as waited:
        assert 0.3 <= waited < 1.5


def test_in_flight_cap_holds_across_threads(make_limiter):
    limiter = make_limiter(calls=1000, max_in_flight=3, max_wait=10.0)
    lock, now, peak = threading.Lock(), [0], [0]

    def call():
        with limiter.slot():
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            time.sleep(0.05)
            with lock:
                now[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert peak[0] == 3
    assert limiter.in_flight() == 0


def test_limiter_name_is_per_server():
    assert limiter_name("https://HIK.example") == "gatehouse:hikcentral:limit:hik.example:443"
    assert limiter_name("http://10.0.0.5:9443/") == "gatehouse:hikcentral:limit:10.0.0.5:9443"


def test_bad_settings_are_refused(redis_conn):
    with pytest.raises(ValueError):
        SharedRateLimiter(redis_conn, "x", 0, 1.0)
    with pytest.raises(ValueError):
        SharedRateLimiter(redis_conn, "x", 10, 0)


def test_max_in_any_window_counts_half_open_windows():
    assert max_in_any_window([0.0, 0.5, 1.0, 1.2], 1.0) == 3
    assert max_in_any_window([], 1.0) == 0


@pytest.mark.slow
def test_four_processes_share_the_limit_and_use_most_of_it(redis_url):
    result = run(redis_url, processes=4, calls=10, window=1.0, seconds=3.0)
    assert result["max_in_any_window"] <= 10
    assert result["utilisation"] >= 0.9
    assert all(count > 0 for count in result["per_process"])

"""``flask bench strict``: against the strict profile, a forced job retry enrolls everyone once."""

import json

import pytest


@pytest.mark.slow
def test_bench_strict_enrolls_every_guest_exactly_once(app, redis_conn):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["bench", "strict", "--singles", "3", "--guests", "50", "--latency-ms", "0"]
    )
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if line.startswith("{")]
    report = json.loads(line)
    assert report["visits"] == report["enrolled"] == 53 and report["failed"] == 0
    assert report["persons_on_server"] == report["guests_on_server_exactly_once"] == 53
    # Both parts lost an add's answer and failed its lookup: both jobs were retried and adopted
    # the person instead of adding it again.
    assert report["job_retries"] == 2
    assert report["faults"] == {"lost": 2, "http_500": 10}
    assert report["adds"] == 53
    assert not list(redis_conn.scan_iter("rq:job:*"))
    assert not list(redis_conn.scan_iter("rq:results:*"))


def test_bench_enroll_on_the_strict_profile_keeps_one_call_per_guest(app):
    result = app.test_cli_runner().invoke(
        args=["bench", "enroll", "--guests", "10", "--latency-ms", "0", "--rate", "100/1",
              "--profile", "strict"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if line.startswith("{")]
    report = json.loads(line)
    assert report["profile"] == "strict"
    assert report["batch"]["failed"] == 0 and report["batch"]["calls_per_guest"] <= 1.2

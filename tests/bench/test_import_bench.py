"""``flask bench import --guests N`` enrolls an import through a worker process; one JSON object."""

import json

import pytest

KEYS = {
    "guests",
    "calls",
    "calls_per_guest",
    "seconds",
    "floor_seconds",
    "ratio",
    "http_429",
    "enrolled",
    "failed",
    "worker_peak_rss_mb",
}


def one_json(output):
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == 1, output
    return json.loads(lines[0])


@pytest.mark.slow
def test_bench_import_enrolls_every_guest(app, redis_conn):
    result = app.test_cli_runner().invoke(
        args=["bench", "import", "--guests", "5", "--latency-ms", "10", "--rate", "50/1"]
    )
    assert result.exit_code == 0, result.output
    report = one_json(result.stdout)
    assert KEYS <= set(report)
    assert report["guests"] == 5
    assert (report["enrolled"], report["failed"]) == (5, 0)
    assert report["job_state"] == "finished"
    # One add per guest, one grant, one re-apply.
    assert report["calls"] == 5 + 2
    assert report["http_429"] == 0
    assert 0 < report["worker_peak_rss_mb"] < 300
    assert report["seconds"] > 0 and report["floor_seconds"] == pytest.approx(7 / 50)
    # The run's limiter keys and queue are gone afterwards.
    assert not list(redis_conn.scan_iter("gatehouse:bench:import:*"))
    assert not list(redis_conn.scan_iter("rq:queue:bench-import-*"))


def test_bench_import_refuses_a_bad_rate(app):
    result = app.test_cli_runner().invoke(args=["bench", "import", "--guests", "2", "--rate", "x"])
    assert result.exit_code != 0
    assert "CALLS/SECONDS" in result.output

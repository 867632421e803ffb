"""``flask bench enroll`` runs both paths and prints one JSON object with the agreed shape."""

import json

PHASE_KEYS = {"calls", "seconds", "floor_seconds", "ratio", "calls_per_guest", "http_429"}


def test_bench_enroll_prints_one_json_object(app, redis_conn):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["bench", "enroll", "--guests", "10", "--latency-ms", "20", "--rate", "50/1"]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    report = json.loads(lines[0])

    assert report["guests"] == 10 and report["latency_ms"] == 20 and report["rate"] == "50/1"
    for phase in ("batch", "one_by_one"):
        assert PHASE_KEYS <= set(report[phase]), phase
        assert report[phase]["failed"] == 0
    batch, one = report["batch"], report["one_by_one"]
    assert batch["calls"] == 10 + 2  # one add per guest, one grant, one re-apply
    assert batch["calls_per_guest"] <= 1.2
    assert one["calls_per_guest"] == 4
    assert batch["http_429"] == 0
    assert report["speedup"] > 1
    # The run's limiter keys are gone afterwards.
    assert not list(redis_conn.scan_iter("gatehouse:bench:enroll:*"))


def test_bench_enroll_refuses_a_bad_rate(app):
    result = app.test_cli_runner().invoke(args=["bench", "enroll", "--rate", "fast"])
    assert result.exit_code != 0
    assert "CALLS/SECONDS" in result.output

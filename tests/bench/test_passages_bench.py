"""``flask bench passages`` runs every figure of issue 7 and prints one JSON object."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_bench_passages_prints_every_figure(app, redis_conn):
    result = app.test_cli_runner().invoke(
        args=[
            "bench", "passages", "--visits", "40", "--events", "1200", "--paged-events", "600",
            "--stored", "3000", "--poll-seconds", "1", "--trials", "1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["visits"] == 40 and report["doors"] == 4
    # No new events: doors (4, one group of 10) x two event types.
    assert report["idle_poll"] == {**report["idle_poll"], "calls": 2, "ok": True}
    # 600 events of one type: ceil(600 / 500) - 1 = 1 call more.
    assert report["paged_poll"]["calls"] == report["paged_poll"]["expected"] == 3
    assert report["paged_poll"]["stored"] == 600
    assert report["bulk"]["stored"] == 1200 and report["bulk"]["ok"]
    assert report["log"]["passages"] == 3000 + 1200 + 600
    assert report["log"]["first_page_ms"] > 0 and report["log"]["filtered_page_ms"] > 0
    assert report["latency"]["seconds"] and report["latency"]["ok"]
    assert not list(redis_conn.scan_iter("gatehouse:lock:passages:*"))

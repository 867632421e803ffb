"""``flask bench visit``: visits through the form, enrolled by a real worker, one JSON object."""

import io
import json

import pytest
from PIL import Image

from portal.bench.visit import phone_photo, summary

FIELDS = {
    "visits",
    "latency_ms",
    "submit_ms",
    "enrolled_seconds",
    "enrolled_budget_seconds",
    "enrollment_calls_per_guest",
    "all_calls_per_guest",
    "photo_bytes_uploaded",
}


@pytest.mark.slow
def test_bench_visit_prints_one_json_object_and_leaves_redis_clean(app, redis_conn):
    result = app.test_cli_runner().invoke(
        args=["bench", "visit", "--visits", "2", "--latency-ms", "20"]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    report = json.loads(lines[0])

    assert FIELDS <= set(report)
    assert report["visits"] == 2 and report["latency_ms"] == 20
    for name in ("submit_ms", "enrolled_seconds"):
        assert set(report[name]) == {"median", "p95", "max"}
        assert 0 < report[name]["median"] <= report[name]["p95"] <= report[name]["max"]
    assert report["enrolled_budget_seconds"] == pytest.approx(3 * 0.020 + 1)
    # A new guest: person with face, access level, re-apply; delivery is checked later by a
    # deferred job (at most one check falls inside a visit's wait).
    assert report["enrollment_calls_per_guest"]["max"] <= 3
    assert report["all_calls_per_guest"]["max"] <= report["enrollment_calls_per_guest"]["max"] + 1
    assert report["photo_bytes_uploaded"] > 1_000_000

    # The run's jobs, its worker and its limiter are gone from Redis.
    assert not list(redis_conn.scan_iter("rq:job:*"))
    assert all(redis_conn.llen(f"rq:queue:{name}") == 0 for name in ("high", "default", "low"))
    assert not redis_conn.smembers("rq:workers")
    assert not list(redis_conn.scan_iter("gatehouse:hikcentral:limit:*"))


def test_bench_visit_refuses_a_bad_rate(app):
    result = app.test_cli_runner().invoke(args=["bench", "visit", "--rate", "fast"])
    assert result.exit_code != 0
    assert "CALLS/SECONDS" in result.output


def test_phone_photo_is_a_large_12_megapixel_jpeg():
    data = phone_photo()
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (3000, 4000)
    assert 1_000_000 <= len(data) <= 4_000_000


def test_summary_reports_median_p95_and_max():
    values = list(range(1, 101))
    assert summary(values, 1) == {"median": 50.5, "p95": 95, "max": 100}
    assert summary([0.25], 3) == {"median": 0.25, "p95": 0.25, "max": 0.25}

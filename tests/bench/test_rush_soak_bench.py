"""``flask bench rush`` and ``flask bench soak``: real worker and scheduler processes."""

import json

import pytest

API = "/artemis/api"


def run_bench(app, *args):
    result = app.test_cli_runner().invoke(args=["bench", *args])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.slow
def test_bench_rush_enrolls_a_rush_in_batches(app, redis_conn):
    report = run_bench(
        app, "rush", "--visits", "12", "--workers", "1", "--latency-ms", "20", "--rate", "20/1"
    )
    assert report["states"] == {"enrolled": 12}
    # Coalesced: persons one by one, one grant per batch, re-applies in chunks of 10 per batch.
    calls, batches = report["calls_by_path"], report["jobs"]["enrolled"]
    assert calls[f"{API}/resource/v1/person/single/add"] == 12
    assert calls[f"{API}/acs/v1/privilege/group/single/addPersons"] == batches
    assert calls[f"{API}/visitor/v1/auth/reapplication"] <= batches + 1
    assert report["jobs"].get("taken", 0) == 12 - batches >= 1
    assert report["delivery_checks_per_guest"] <= 1
    assert report["floor_seconds"] > 0 and report["seconds"] > 0
    # The run used a Redis database of its own and left nothing in the test's.
    assert redis_conn.dbsize() == 1


@pytest.mark.slow
def test_bench_soak_short_survives_faults_a_killed_worker_and_a_flushed_redis(app, redis_conn):
    report = run_bench(app, "soak", "--short")
    assert [event["event"] for event in report["events"]][:2] == ["SIGKILL", "redis flushed"]
    assert sum(report["faults"].values()) > 0
    assert report["settled"] is True
    assert report["duplicate_persons"] == 0 and report["missing_persons"] == 0
    assert report["enrolled"] == report["visits"] == report["enrolled_once_on_hikcentral"]
    assert report["transient_visits"] == 0 and report["jobs_still_open"] == 0
    assert report["drift_repairs"] >= 3
    assert report["ok"] is True

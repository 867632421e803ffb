"""``flask bench rush`` and ``flask bench soak``: real worker and scheduler processes."""

import importlib
import json

import pytest

# The modules (portal.bench exports the commands under the same names).
rush_bench = importlib.import_module("portal.bench.rush")
soak_bench = importlib.import_module("portal.bench.soak")

API = "/artemis/api"


def run_bench(app, *args):
    result = app.test_cli_runner().invoke(args=["bench", *args])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.slow
def test_bench_rush_prints_one_json_object(app, redis_conn, monkeypatch):
    figures = {"bench": "rush", "visits": 3}
    calls = []

    def fake_rush(*args, **kwargs):
        calls.append((args, kwargs))
        return figures

    # The command's own part: options parsed, one JSON object printed.
    monkeypatch.setattr(rush_bench, "run_rush", fake_rush)
    assert run_bench(app, "rush", "--visits", "3", "--rate", "20/1") == figures
    assert calls[0][0][:1] == (3,) and calls[0][0][3] == (20, 1.0)


@pytest.mark.slow
def test_bench_rush_enrolls_a_rush_in_batches(app, redis_conn, redis_url):
    # In the test's own Redis database (every other one may be in use by other test runs).
    report = rush_bench.run_rush(12, 1, 20.0, (20, 1.0), redis_url=redis_url, own_db=False)
    assert report["states"] == {"enrolled": 12}
    # Coalesced: persons one by one, one grant per batch, re-applies in chunks of 10 per batch.
    calls, batches = report["calls_by_path"], report["jobs"]["enrolled"]
    assert calls[f"{API}/resource/v1/person/single/add"] == 12
    assert calls[f"{API}/acs/v1/privilege/group/single/addPersons"] == batches
    assert calls[f"{API}/visitor/v1/auth/reapplication"] <= batches + 1
    assert report["jobs"].get("taken", 0) == 12 - batches >= 1
    assert report["delivery_checks_per_guest"] <= 1
    assert report["floor_seconds"] > 0 and report["seconds"] > 0
    # Nothing of the run is left waiting in the queues.
    assert all(redis_conn.llen(f"rq:queue:{name}") == 0 for name in ("high", "default", "low"))


@pytest.mark.slow
def test_bench_soak_short_survives_faults_a_killed_worker_and_a_flushed_redis(
    app, redis_conn, redis_url
):
    report = soak_bench.run_soak(**soak_bench.SHORT, redis_url=redis_url, own_db=False)
    assert [event["event"] for event in report["events"]][:2] == ["SIGKILL", "redis flushed"]
    assert sum(report["faults"].values()) > 0
    assert report["settled"] is True
    assert report["settled_seconds_after_kill"] < 120  # every guest enrolled within 2 minutes
    assert report["duplicate_persons"] == 0 and report["missing_persons"] == 0
    assert report["enrolled"] == report["visits"] == report["enrolled_once_on_hikcentral"]
    assert report["transient_visits"] == 0 and report["jobs_still_open"] == 0
    assert report["drift_repairs"] >= 3
    assert report["ok"] is True

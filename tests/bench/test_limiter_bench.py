"""``flask bench limiter``: processes share one limiter; the JSON reports limit and use."""

import json

import pytest


@pytest.mark.slow
def test_bench_limiter_prints_one_json_object(app, redis_conn):
    before = set(redis_conn.keys("gatehouse:bench:limiter:*"))
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "bench",
            "limiter",
            "--processes",
            "2",
            "--calls",
            "5",
            "--window",
            "1",
            "--seconds",
            "2",
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert set(report) >= {
        "processes",
        "limit",
        "acquisitions",
        "max_in_any_window",
        "utilisation",
        "seconds",
    }
    assert report["processes"] == 2
    assert report["limit"] == 5
    assert report["seconds"] == 2.0
    assert report["max_in_any_window"] <= 5
    assert report["acquisitions"] == sum(report["per_process"])
    assert report["utilisation"] == pytest.approx(report["acquisitions"] / 10, abs=1e-3)
    assert report["utilisation"] >= 0.8
    assert set(redis_conn.keys("gatehouse:bench:limiter:*")) == before


def test_bench_limiter_refuses_nonsense(app):
    result = app.test_cli_runner().invoke(args=["bench", "limiter", "--processes", "0"])
    assert result.exit_code != 0
    assert "must be positive" in result.output

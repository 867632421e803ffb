"""``flask bench photo`` prints one JSON object whose every case keeps the 150 MB floor."""

import json
from pathlib import Path

import pytest

from portal.bench.photo import photo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/clear_refs").exists(), reason="peak memory is read from Linux /proc"
    ),
]


def test_bench_photo_prints_every_case_within_the_floor(app):
    result = app.test_cli_runner().invoke(photo)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["ok"] and figures["worst_growth_mb"] < figures["floor_mb"] == 150
    assert "too large to process" in figures["cases"]["png16-grey-7999x8000"]["refused"]
    assert figures["cases"]["jpeg-rgb-7999x8000"]["size"] == [1000, 1000]

"""The live contract suite itself, run against the strict simulator as if it were a server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.hikvision.simulator.server import SimulatorServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pytest_m_live_passes_against_the_strict_simulator():
    with SimulatorServer(
        app_key="11223344", app_secret="live-suite-secret-01", profile="strict"
    ) as server:
        env = {
            **os.environ,
            "HIKCENTRAL_LIVE": "1",
            "HIKCENTRAL_URL": server.url,
            "HIKCENTRAL_APP_KEY": server.app_key,
            "HIKCENTRAL_APP_SECRET": server.app_secret,
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "live",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/live",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 passed" in done.stdout
        assert server.simulator.state.persons == {}  # read-only

"""Read-only contract tests against a real HikCentral: ``HIKCENTRAL_LIVE=1 pytest -m live``.

They read the same HIKCENTRAL_* settings as the portal (URL, key, secret, CA bundle or pinned
fingerprint) and never write: no person is added, changed or deleted.
"""

import os

import pytest

from portal.config import from_environment
from portal.hikvision.client import HikCentralClient


def pytest_collection_modifyitems(config, items):
    if os.environ.get("HIKCENTRAL_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="set HIKCENTRAL_LIVE=1 (and HIKCENTRAL_URL...) to run")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def live_client():
    """A client for the HikCentral named by the environment (no rate limiter: a few reads)."""
    config = from_environment()
    client = HikCentralClient.from_config(config, None)
    yield client
    client.close()

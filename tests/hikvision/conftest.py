"""Fixtures of the ``responses`` tests: a client for the mocked server, the mock, no sleeping."""

import pytest
import responses

from portal.hikvision import operations as ops
from portal.hikvision.client import HikCentralClient
from tests.hikvision.support import BASE


@pytest.fixture
def make_mocked_client():
    """``make(**options)``: a client for the mocked server that never sleeps between retries."""
    made = []

    def make(**options):
        client = HikCentralClient(
            BASE, "12345678", "secret-for-tests-0001", sleep=lambda s: None, **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_mocked_client):
    return make_mocked_client()


@pytest.fixture
def no_sleep(monkeypatch):
    """The operations' own backoff between add attempts takes no time."""
    monkeypatch.setattr(ops, "_sleep", lambda seconds: None)


@pytest.fixture
def mocked():
    responses.start()
    yield responses
    responses.stop()
    responses.reset()

"""Fixtures of the ``responses`` tests: clients for the mocked server, the mock, no sleeping."""

import pytest
import responses

from portal.hikvision import operations as ops
from portal.hikvision.client import HikCentralClient
from tests.hikvision.support import BASE


@pytest.fixture
def client_options():
    """How a module's clients are made; a module may override it (the client tests do)."""
    return {
        "base_url": BASE,
        "app_key": "12345678",
        "app_secret": "secret-for-tests-0001",
        "sleep": lambda seconds: None,
    }


@pytest.fixture
def make_client(client_options):
    """``make(**options)``: a client with ``client_options`` and ``options``, closed after."""
    made = []

    def make(**options):
        client = HikCentralClient(**(client_options | options))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


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

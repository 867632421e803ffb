"""Fixtures for job tests: a real RQ SimpleWorker in burst mode and a HikCentral client that does
not wait between its own retries."""

import pytest
from rq import Queue, SimpleWorker

from portal.hikvision import operations
from portal.hikvision.client import HikCentralClient
from portal.queue import QUEUES


def run_worker(connection, queues=QUEUES, with_scheduler=False):
    """Run every queued job in this process, as a burst SimpleWorker does; returns the worker."""
    worker = SimpleWorker(
        [Queue(name, connection=connection) for name in queues], connection=connection
    )
    worker.work(burst=True, with_scheduler=with_scheduler)
    return worker


@pytest.fixture
def work(redis_conn):
    return lambda **kw: run_worker(redis_conn, **kw)


@pytest.fixture
def impatient_client(app, monkeypatch):
    """A client that gives up on the first failure, so transient errors reach the job at once."""
    config = app.config
    client = HikCentralClient(
        config["HIKCENTRAL_URL"],
        config["HIKCENTRAL_APP_KEY"],
        config["HIKCENTRAL_APP_SECRET"],
        verify_tls=False,
        timeout=2.0,
        max_retries=0,
        sleep=lambda seconds: None,
    )
    app.extensions["hikcentral"] = client
    monkeypatch.setattr(operations, "_sleep", lambda seconds: None)
    yield client
    client.close()

"""Invitation tests: mail goes to a real local SMTP server; jobs run in a real burst worker."""

from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker

from portal.models import utcnow
from portal.queue import QUEUES
from portal.services import visits as visit_service
from tests.fixtures.factories import face_jpeg


@pytest.fixture
def app_config(app_config, mail_config):
    return {
        **app_config,
        **mail_config,
        "DELIVERY_POLL_ATTEMPTS": 1,
        "DELIVERY_POLL_SECONDS": 0.0,
    }


@pytest.fixture
def work(redis_conn):
    """Run every queued job in this process (a burst SimpleWorker)."""

    def run():
        queues = [Queue(name, connection=redis_conn) for name in QUEUES]
        SimpleWorker(queues, connection=redis_conn).work(burst=True)

    return run


@pytest.fixture
def invited(app, host_user, level):
    """A visit registered with only the guest's e-mail (not yet sent: run ``work``)."""
    return register_invited(host_user, level)


def register_invited(host_user, level):
    """Register a visit with only the guest's e-mail, starting in two days."""
    start = utcnow() + timedelta(days=2)
    return visit_service.register_visit(
        host_user,
        full_name="Grace Hopper",
        email="grace@example.com",
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        access_level=level,
    )


def link_in(message):
    """The personal link of an invitation message (from its plain-text part)."""
    text = message.get_body(("plain",)).get_content()
    [line] = [line for line in text.splitlines() if "/g/" in line]
    return line.strip()


def token_of(link):
    return link.rsplit("/g/", 1)[1]


def guest_photo():
    return face_jpeg(color=(30, 90, 160))

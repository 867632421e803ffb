"""What the benchmarks share: the rate option, a throwaway simulator, an app of their own."""

import secrets
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click

from portal.hikvision.simulator.control import SimulatorControl
from portal.hikvision.simulator.server import SimulatorServer


def parse_rate(value):
    """``"CALLS/SECONDS"`` -> (calls, seconds)."""
    calls, sep, seconds = str(value).partition("/")
    try:
        calls, seconds = int(calls), float(seconds)
    except ValueError:
        calls = seconds = 0
    if not sep or calls < 1 or seconds <= 0:
        raise click.BadParameter("use CALLS/SECONDS with positive numbers, e.g. 10/1")
    return calls, seconds


@contextmanager
def bench_simulator(latency_ms, rate=None, profile="friendly"):
    """A simulator in this process with a secret nobody sees; yields (server, control)."""
    server = SimulatorServer(
        app_key="87654321",
        app_secret=secrets.token_urlsafe(15),
        latency_ms=latency_ms,
        rate_limit=rate,
        profile=profile,
    ).start()
    control = SimulatorControl(server.url)
    try:
        yield server, control
    finally:
        control.close()
        server.stop()


def bench_app_config(tmp, server, redis_url, rate=None, **extra):
    """``create_app`` overrides: a SQLite database in ``tmp``, the simulator, the given Redis."""
    config = {
        "GATEHOUSE_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(24),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'bench.db'}",
        "REDIS_URL": redis_url,
        "HIKCENTRAL_URL": server.url,
        "HIKCENTRAL_APP_KEY": server.app_key,
        "HIKCENTRAL_APP_SECRET": server.app_secret,
    }
    if rate:
        config["HIKCENTRAL_RATE_LIMIT_CALLS"], config["HIKCENTRAL_RATE_LIMIT_WINDOW"] = rate
    return config | extra


def bench_event(db, name, access_level=None, **fields):
    """An organizer and an 8-hour event tomorrow, committed: (organizer, event).

    The event is on ``access_level``, else on a new one for the simulator's access level "1".
    """
    from portal.models import AccessLevel, Event, Role, User, utcnow

    organizer = User(email="bench.organizer@example.com", name="Bench", role=Role.ORGANIZER.value)
    organizer.set_password(secrets.token_urlsafe(12))
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = Event(
        name=name,
        organizer=organizer,
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        access_level=access_level or AccessLevel(hik_id="1", name="Bench level"),
        **fields,
    )
    db.session.add(event)
    db.session.commit()
    return organizer, event

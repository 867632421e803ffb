"""Failed log-ins and unknown API tokens, counted in Redis per account and per client address.

Counting uses the ``limits`` library's moving window on the shared Redis (the same storage
Flask-Limiter uses), so every web process sees the same counts. While an account or an address
is over its limit, no password is checked at all, the right one included, until the window
has moved past the failures.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    account: RateLimitItemPerMinute
    address: RateLimitItemPerMinute
    api_address: RateLimitItemPerMinute


def _limits(config):
    window = config["LOGIN_FAILURE_WINDOW_MINUTES"]
    return Limits(
        account=RateLimitItemPerMinute(config["LOGIN_FAILURES_PER_ACCOUNT"], window),
        address=RateLimitItemPerMinute(config["LOGIN_FAILURES_PER_ADDRESS"], window),
        api_address=RateLimitItemPerMinute(config["API_TOKEN_FAILURES_PER_ADDRESS"], window),
    )


def _limiter():
    """The app's moving-window limiter on its shared Redis connection pool."""
    app = current_app
    limiter = app.extensions.get("login_throttle")
    if limiter is None:
        pool = app.extensions["redis"].connection_pool
        storage = RedisStorage("redis://", connection_pool=pool, key_prefix="gatehouse-throttle")
        limiter = app.extensions["login_throttle"] = MovingWindowRateLimiter(storage)
    return limiter


def _account_key(email):
    # Hashed: the key names no one, and any length of typed email makes a short key.
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]


def _wait_seconds(item, *keys):
    reset_at, _remaining = _limiter().get_window_stats(item, *keys)
    return max(1, math.ceil(reset_at - time.time()))


def login_wait(email, address):
    """Seconds until a log-in for ``email`` from ``address`` is checked again; 0 when it is now."""
    limits = _limits(current_app.config)
    checks = (
        (limits.account, ("account", _account_key(email))),
        (limits.address, ("address", address or "-")),
    )
    for item, keys in checks:
        if not _limiter().test(item, *keys):
            return _wait_seconds(item, *keys)
    return 0


def login_failed(email, address):
    """Count a failed log-in; True when it locked the account or the address (logged)."""
    limits = _limits(current_app.config)
    account = ("account", _account_key(email))
    where = ("address", address or "-")
    _limiter().hit(limits.account, *account)
    _limiter().hit(limits.address, *where)
    locked = False
    if not _limiter().test(limits.account, *account):
        log.warning("log-in locked: too many failures for the account %s", (email or "")[:254])
        locked = True
    if not _limiter().test(limits.address, *where):
        log.warning("log-in locked: too many failures from the address %s", address)
        locked = True
    return locked


def token_wait(address):
    """Seconds until ``address`` may present API tokens again; 0 when it may now."""
    item = _limits(current_app.config).api_address
    if _limiter().test(item, "api-address", address or "-"):
        return 0
    return _wait_seconds(item, "api-address", address or "-")


def token_failed(address):
    """Count an unknown API token from ``address``; True when that locked the address (logged)."""
    item = _limits(current_app.config).api_address
    _limiter().hit(item, "api-address", address or "-")
    if _limiter().test(item, "api-address", address or "-"):
        return False
    log.warning("API locked: too many unknown tokens from the address %s", address)
    return True


def wait_sentence(seconds):
    """ "Try again in N minutes." for a wait of ``seconds``."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"try again in {minutes} minute{'s' if minutes != 1 else ''}."

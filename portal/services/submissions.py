"""One-time form tokens: a form submitted twice (a double click, a resent POST) acts once.

The page puts a random token in the form; the first POST claims it in Redis (SET NX EX) and
records what it created, so a repeat of the same form is sent to that result instead.
"""

import logging
import re
import secrets
import time

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Long enough to cover a resent form; short enough that Redis forgets it soon.
TTL_SECONDS = 600
# A repeat that arrives while the first POST is still working waits this long for its result.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.1
PENDING = "pending"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_token():
    """A fresh random token for a form."""
    return secrets.token_urlsafe(24)


def valid_token(token):
    return isinstance(token, str) and bool(TOKEN.match(token))


def _key(form, user_id, token):
    return f"gatehouse:once:{form}:{user_id}:{token}"


class Submission:
    """One user's claim of one form token (a form without a valid token is never guarded)."""

    def __init__(self, redis, form, user_id, token):
        self.redis = redis
        self.key = _key(form, user_id, token) if valid_token(token) else None
        self.claimed = False

    def claim(self):
        """True when this POST is the first with its token (or the form carries none)."""
        if self.key is None:
            return True
        try:
            self.claimed = bool(self.redis.set(self.key, PENDING, nx=True, ex=TTL_SECONDS))
        except RedisError:
            # The guard is a convenience: without Redis the form still works, unguarded.
            log.warning("form token not checked: Redis is not reachable")
            return True
        return self.claimed

    def first_result(self, *, wait=None, sleep=time.sleep):
        """The id the first POST recorded, waiting (bounded) while it still works; else None."""
        deadline = time.monotonic() + (WAIT_SECONDS if wait is None else wait)
        while True:
            try:
                value = self.redis.get(self.key)
            except RedisError:
                return None
            if value is None:
                return None
            value = value.decode() if isinstance(value, bytes) else str(value)
            if value != PENDING:
                return int(value) if value.isdigit() else None
            if time.monotonic() >= deadline:
                return None
            sleep(POLL_SECONDS)

    def done(self, result_id):
        """Record what the first POST created, for its repeats."""
        self._write(lambda: self.redis.set(self.key, str(result_id), ex=TTL_SECONDS))

    def release(self):
        """Forget the claim (nothing was created): the corrected form may be sent again."""
        self._write(lambda: self.redis.delete(self.key))

    def _write(self, action):
        if not (self.claimed and self.key):
            return
        try:
            action()
        except RedisError:
            log.warning("form token not updated: Redis is not reachable")

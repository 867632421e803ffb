"""Everything that speaks to Hikvision lives in this package, and nothing else does."""

import os
import threading

_lock = threading.Lock()


def client_for(app):
    """The process's HikCentralClient for ``app`` (built once from its config and Redis)."""
    from portal.hikvision.client import HikCentralClient

    with _lock:
        cached = app.extensions.get("hikcentral")
        # A forked worker must not share its parent's sockets, so it builds its own; a client
        # put there by hand (tests) has no owner pid and is used as it is.
        if cached is not None and getattr(cached, "owner_pid", os.getpid()) == os.getpid():
            return cached
        client = HikCentralClient.from_config(app.config, app.extensions.get("redis"))
        app.extensions["hikcentral"] = client
        return client

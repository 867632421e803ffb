"""Process-wide Prometheus metrics of the HikCentral client (default registry).

Path labels are API paths only (a small fixed set); ids never appear in them.
"""

import re

from prometheus_client import Counter, Histogram

HIKCENTRAL_CALLS = Counter(
    "hikcentral_calls",
    "HikCentral API requests sent, by API path and outcome (ok or the error kind).",
    ["path", "outcome"],
)
HIKCENTRAL_LATENCY = Histogram(
    "hikcentral_call_seconds",
    "Duration of HikCentral API requests, by API path.",
    ["path"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HIKCENTRAL_RETRIES = Counter(
    "hikcentral_retries",
    "HikCentral API requests repeated after a transient failure.",
)
HIKCENTRAL_RATE_LIMIT_WAIT = Histogram(
    "hikcentral_rate_limit_wait_seconds",
    "Time spent waiting for the shared rate limiter before a HikCentral request.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# Segments that look like ids (numbers, UUIDs, long hex) are folded so labels stay bounded.
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F-]{16,})$")


def path_label(path):
    """The API path for a metric label: no query string, id-like segments replaced by ':id'."""
    bare = path.split("?", 1)[0]
    return "/".join(":id" if _ID_SEGMENT.match(part) else part for part in bare.split("/"))

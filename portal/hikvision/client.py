"""HikCentralClient: signed JSON calls to the HikCentral OpenAPI with typed errors and retries.

One pooled ``requests.Session`` per client. Every request is signed, paced by the shared rate
limiter (when given), parsed from the ``{"code", "msg", "data"}`` envelope into ``data`` or a
typed error, and retried with exponential backoff and full jitter when the error is transient.
The app secret lives only inside the signer: never in logs, errors, ``repr()`` or metrics.
"""

import email.utils
import json
import logging
import os
import random
import re
import threading
import time
import warnings
from collections import Counter
from contextlib import ExitStack
from urllib.parse import urlsplit

import requests
from redis.exceptions import RedisError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from portal.hikvision import metrics
from portal.hikvision.errors import (
    AuthenticationError,
    BadRequestError,
    HikvisionError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RateLimitTimeout,
    TlsError,
    UnavailableError,
    UnsupportedError,
)
from portal.hikvision.signing import sign_headers
from portal.hikvision.tls import PinnedAdapter, is_pin_mismatch, session_verify

log = logging.getLogger(__name__)

ACCEPT = "application/json"
CONTENT_TYPE = "application/json;charset=UTF-8"
# Connecting should be quick even when the server is slow to answer.
MAX_CONNECT_TIMEOUT = 5.0
MAX_MESSAGE = 300

AUTH_CODES = {
    "64",  # user authentication failed (bad key or secret)
    "17",  # no permission for OpenAPI access
    "0x02401000",  # AppKey empty
    "0x02401001",  # no partner for this AppKey
    "0x02401002",  # signature empty
    "0x02401003",  # signature incorrect
    "0x02401008",  # API not authorised for this partner
    "0x0240101b",  # partner IP/MAC restrictions
    "0x0240101c",
    "0x0240101d",
    "0x00072201",  # resource not authorised
}
RATE_LIMIT_CODES = {"0x02401036", "0x0240103b", "0x0240100b"}
BAD_REQUEST_CODES = {
    "2",
    "0x0240100a",  # parameter conversion error
    "0x02401021",  # request JSON unparsable
    "0x00072001",  # required parameter empty
    "0x00072002",  # parameter out of range
    "0x00072003",  # parameter format
    "0x00072004",  # response too long: reduce the page size
}
NOT_FOUND_CODES = {"128", "0x00072202"}
UNSUPPORTED_CODES = {"8"}
# Server-side failures after which the request may or may not have been carried out.
UNAVAILABLE_CODES = {"5", "0x02401031", "0x02401032", "0x02401033", "0x02401034", "0x02401035"}
UNAVAILABLE_CODES |= {"0x02401037"}

OUTCOMES = (
    (RateLimitTimeout, "rate_limit_timeout"),
    (AuthenticationError, "authentication"),
    (NotFoundError, "not_found"),
    (UnsupportedError, "unsupported"),
    (BadRequestError, "bad_request"),
    (ProtocolError, "protocol"),
    (RateLimitedError, "rate_limited"),
    (UnavailableError, "unavailable"),
)


class _Secret:
    """Holds the app secret so that ``repr``/``vars`` of the client never show it."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self):
        return "<secret>"

    __str__ = __repr__


class HikCentralClient:
    """Signed, rate-limited, retrying calls to one HikCentral server."""

    def __init__(
        self,
        base_url,
        app_key,
        app_secret,
        *,
        verify_tls=True,
        timeout=10.0,
        pool_connections=4,
        pool_maxsize=16,
        limiter=None,
        max_retries=4,
        backoff_base=0.5,
        backoff_max=30.0,
        sleep=time.sleep,
        rng=None,
        ca_bundle=None,
        tls_fingerprint=None,
        face_max_side=0,
    ):
        self.base_url = _normalise_base_url(base_url)
        # Faces are re-encoded within this many pixels a side before they are sent (0: as is).
        self.face_max_side = int(face_max_side or 0)
        self.tls_pinned = bool(tls_fingerprint)
        self.owner_pid = os.getpid()
        self.app_key = app_key
        self._secret = _Secret(app_secret)
        self.verify_tls = verify_tls
        self.timeout = _timeouts(timeout)
        self.limiter = limiter
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = _build_session(
            pool_connections,
            pool_maxsize,
            session_verify(verify_tls, ca_bundle, tls_fingerprint),
            tls_fingerprint,
        )
        if verify_tls is False and not tls_fingerprint:
            _silence_insecure_warning(urlsplit(self.base_url).hostname)
        self._lock = threading.Lock()
        self._by_path = Counter()
        self._totals = {"errors": 0, "retries": 0, "rate_limit_wait_seconds": 0.0, "seconds": 0.0}

    @classmethod
    def from_config(cls, config, redis):
        """Build a client from the HIKCENTRAL_* settings; ``redis`` (or None) backs the limiter."""
        from portal.hikvision.ratelimit import SharedRateLimiter, limiter_name

        limiter = None
        if redis is not None:
            limiter = SharedRateLimiter(
                redis,
                limiter_name(config["HIKCENTRAL_URL"]),
                config["HIKCENTRAL_RATE_LIMIT_CALLS"],
                config["HIKCENTRAL_RATE_LIMIT_WINDOW"],
                max_in_flight=config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10),
                max_wait=config.get("HIKCENTRAL_RATE_LIMIT_MAX_WAIT", 30.0),
            )
        return cls(
            config["HIKCENTRAL_URL"],
            config["HIKCENTRAL_APP_KEY"],
            config["HIKCENTRAL_APP_SECRET"],
            verify_tls=config.get("HIKCENTRAL_VERIFY_TLS", True),
            timeout=config.get("HIKCENTRAL_TIMEOUT", 10.0),
            pool_connections=config.get("HIKCENTRAL_POOL_CONNECTIONS", 4),
            pool_maxsize=config.get("HIKCENTRAL_POOL_MAXSIZE", 16),
            limiter=limiter,
            ca_bundle=config.get("HIKCENTRAL_CA_BUNDLE"),
            tls_fingerprint=config.get("HIKCENTRAL_TLS_FINGERPRINT"),
            face_max_side=config.get("HIKCENTRAL_FACE_MAX_SIDE", 0),
        )

    def __repr__(self):
        return f"HikCentralClient(base_url={self.base_url!r}, app_key={self.app_key!r})"

    # -- public calls ---------------------------------------------------------------------

    def call(self, path, body=None, *, retry=True):
        """POST signed JSON to ``path`` and return the envelope's ``data`` ("" becomes None)."""
        if not isinstance(path, str) or not path.startswith("/artemis/"):
            raise ValueError(f"HikCentral paths start with /artemis/, not {path!r}")
        if body is not None and not isinstance(body, dict):
            raise TypeError("the body of a HikCentral call is a dict")
        payload = json.dumps(body or {}, separators=(",", ":"), ensure_ascii=False).encode()
        attempts = 1 + (self.max_retries if retry else 0)
        for attempt in range(attempts):
            try:
                return self._attempt(path, payload)
            except HikvisionError as err:
                delay = self._retry_delay(err, attempt, attempts)
                if delay is None:
                    raise
                self._count_retry()
                log.warning(
                    "HikCentral %s failed (%s); retry %d of %d in %.2fs",
                    path,
                    err,
                    attempt + 1,
                    attempts - 1,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def metrics_summary(self):
        """This client's counters: calls (requests sent), by path, errors, retries, waits, time."""
        with self._lock:
            return {
                "calls": sum(self._by_path.values()),
                "by_path": dict(self._by_path),
                "errors": self._totals["errors"],
                "retries": self._totals["retries"],
                "rate_limit_wait_seconds": round(self._totals["rate_limit_wait_seconds"], 6),
                "seconds": round(self._totals["seconds"], 6),
            }

    def close(self):
        """Close the pooled connections."""
        self._session.close()

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(self, path, payload):
        label = metrics.path_label(path)
        with ExitStack() as stack:
            waited = self._enter_limiter(stack, path, label)
            if waited:
                metrics.HIKCENTRAL_RATE_LIMIT_WAIT.observe(waited)
            started = time.monotonic()
            outcome = "ok"
            try:
                return self._send(path, payload)
            except HikvisionError as err:
                outcome = _outcome(err)
                if isinstance(err, RateLimitedError):
                    self._pause_limiter(err.retry_after)
                raise
            finally:
                elapsed = time.monotonic() - started
                metrics.HIKCENTRAL_CALLS.labels(label, outcome).inc()
                metrics.HIKCENTRAL_LATENCY.labels(label).observe(elapsed)
                self._count_call(label, outcome != "ok", waited, elapsed)
                log.debug("HikCentral %s -> %s in %.3fs", path, outcome, elapsed)

    def _enter_limiter(self, stack, path, label):
        if self.limiter is None:
            return 0.0
        try:
            return stack.enter_context(self.limiter.slot()) or 0.0
        except RateLimitTimeout as err:
            err.path = err.path or path
            metrics.HIKCENTRAL_CALLS.labels(label, "rate_limit_timeout").inc()
            self._count_call(None, True, 0.0, 0.0)
            raise
        except RedisError as exc:
            metrics.HIKCENTRAL_CALLS.labels(label, "limiter_unavailable").inc()
            self._count_call(None, True, 0.0, 0.0)
            raise UnavailableError(
                f"the shared rate limiter is unreachable ({type(exc).__name__})", path=path
            ) from None

    def _pause_limiter(self, seconds):
        # The server says we are too fast: hold back every process, not just this one.
        pause = getattr(self.limiter, "pause", None)
        if pause is None:
            return
        try:
            pause(seconds)
        except RedisError as exc:
            log.warning("could not pause the shared rate limiter: %s", type(exc).__name__)

    def _send(self, path, payload):
        headers = sign_headers(
            "POST",
            path,
            payload,
            self.app_key,
            self._secret.reveal(),
            accept=ACCEPT,
            content_type=CONTENT_TYPE,
        )
        try:
            response = self._session.post(
                self.base_url + path, data=payload, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc, path) from None
        return self._parse(response, path)

    def _transport_error(self, exc, path):
        kind = type(exc).__name__
        if isinstance(exc, requests.ConnectTimeout):
            return UnavailableError("timed out connecting to HikCentral", path=path)
        if isinstance(exc, requests.ReadTimeout):
            return UnavailableError("HikCentral did not answer in time", path=path, ambiguous=True)
        if isinstance(exc, requests.exceptions.SSLError):
            if is_pin_mismatch(exc):
                return TlsError(
                    "HikCentral's certificate does not match HIKCENTRAL_TLS_FINGERPRINT; "
                    "nothing was sent",
                    path=path,
                )
            return TlsError(
                "the TLS handshake with HikCentral failed (a self-signed or untrusted "
                "certificate? see HIKCENTRAL_TLS_FINGERPRINT and HIKCENTRAL_CA_BUNDLE)",
                path=path,
            )
        if isinstance(exc, requests.ConnectionError):
            if _never_connected(exc):
                return UnavailableError(f"cannot connect to HikCentral ({kind})", path=path)
            return UnavailableError(
                f"the connection to HikCentral broke ({kind})", path=path, ambiguous=True
            )
        if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.Timeout):
            return UnavailableError(
                f"the answer from HikCentral was cut off ({kind})", path=path, ambiguous=True
            )
        return ProtocolError(f"the HikCentral request could not be made ({kind})", path=path)

    def _parse(self, response, path):
        status = response.status_code
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            raise AuthenticationError(
                f"HikCentral refused the credentials (HTTP {status})", code=status, path=path
            )
        if status == 404:
            raise ProtocolError(
                "HTTP 404: this URL does not expose /artemis (check HIKCENTRAL_URL and its port)",
                code=404,
                path=path,
            )
        if status == 429:
            raise RateLimitedError(
                "HikCentral is rate limiting (HTTP 429)",
                code=429,
                path=path,
                retry_after=retry_after,
            )
        if status >= 500:
            err = UnavailableError(
                f"HikCentral failed (HTTP {status})", code=status, path=path, ambiguous=True
            )
            err.retry_after = retry_after
            raise err
        envelope = self._decode(response, path, status)
        return self._unwrap(envelope, path, retry_after)

    def _decode(self, response, path, status):
        try:
            envelope = json.loads(response.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            if status == 200:
                raise AuthenticationError(
                    "HikCentral answered with a body that is not JSON; this usually means the "
                    "key or secret was refused",
                    path=path,
                ) from None
            raise ProtocolError(
                f"HikCentral answered HTTP {status} without a JSON body", code=status, path=path
            ) from None
        if not isinstance(envelope, dict):
            raise ProtocolError("HikCentral answered JSON that is not an object", path=path)
        if "code" not in envelope:
            raise ProtocolError("HikCentral answered JSON without a code", path=path)
        return envelope

    def _unwrap(self, envelope, path, retry_after):
        code = _normalise_code(envelope["code"])
        if code == "0":
            data = envelope.get("data")
            return None if data == "" else data
        message = self._scrub(str(envelope.get("msg") or "no message"))[:MAX_MESSAGE]
        kwargs = {"code": code, "path": path, "server_message": message}
        if code in AUTH_CODES:
            raise AuthenticationError(f"HikCentral refused the call: {message}", **kwargs)
        if code in NOT_FOUND_CODES:
            raise NotFoundError(f"not found on HikCentral: {message}", **kwargs)
        if code in UNSUPPORTED_CODES:
            raise UnsupportedError(f"this HikCentral does not support it: {message}", **kwargs)
        if code in BAD_REQUEST_CODES:
            raise BadRequestError(f"HikCentral refused a parameter: {message}", **kwargs)
        if code in RATE_LIMIT_CODES:
            raise RateLimitedError(
                f"HikCentral is rate limiting: {message}", retry_after=retry_after, **kwargs
            )
        if code in UNAVAILABLE_CODES:
            raise UnavailableError(f"HikCentral failed: {message}", ambiguous=True, **kwargs)
        if code == "0x0240103c":
            raise ProtocolError(f"HikCentral wants HTTPS: {message}", **kwargs)
        raise HikvisionError(f"HikCentral answered an error: {message}", **kwargs)

    # -- helpers --------------------------------------------------------------------------

    def _retry_delay(self, err, attempt, attempts):
        """Seconds to wait before the next attempt, or None when the error must be raised."""
        if not err.transient or isinstance(err, RateLimitTimeout) or attempt + 1 >= attempts:
            return None
        retry_after = getattr(err, "retry_after", None)
        if retry_after is not None:
            # Honour the server's pause; one longer than we would ever back off is left to
            # the caller (a job retried later) rather than blocking a worker.
            return retry_after if retry_after <= self.backoff_max else None
        cap = min(self.backoff_max, self.backoff_base * 2**attempt)
        return self._rng.uniform(0, cap)

    def _scrub(self, text):
        secret = self._secret.reveal()
        return text.replace(secret, "***") if secret else text

    def _count_call(self, label, failed, waited, elapsed):
        with self._lock:
            if label is not None:
                self._by_path[label] += 1
            self._totals["errors"] += int(failed)
            self._totals["rate_limit_wait_seconds"] += waited
            self._totals["seconds"] += elapsed

    def _count_retry(self):
        metrics.HIKCENTRAL_RETRIES.inc()
        with self._lock:
            self._totals["retries"] += 1


def _silence_insecure_warning(host):
    # Only the "Unverified HTTPS request" warning about this one server, which the operator
    # chose not to verify; other hosts keep warning. A filter (not catch_warnings around each
    # request) because catch_warnings is not thread-safe.
    warnings.filterwarnings(
        "ignore",
        message=re.escape(f"Unverified HTTPS request is being made to host '{host}'"),
        category=InsecureRequestWarning,
    )


def _build_session(pool_connections, pool_maxsize, verify_tls, tls_fingerprint=None):
    session = requests.Session()
    # Retries are ours (typed, jittered, aware of ambiguity): urllib3 must not repeat a POST.
    options = {
        "pool_connections": pool_connections,
        "pool_maxsize": pool_maxsize,
        "max_retries": Retry(total=0, read=False, redirect=False, raise_on_status=False),
    }
    plain = HTTPAdapter(**options)
    secure = PinnedAdapter(tls_fingerprint, **options) if tls_fingerprint else plain
    session.mount("https://", secure)
    session.mount("http://", plain)
    session.verify = verify_tls
    session.trust_env = False
    return session


def _normalise_base_url(base_url):
    url = str(base_url).rstrip("/")
    if url.endswith("/artemis"):
        url = url[: -len("/artemis")]
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"HIKCENTRAL_URL must start with http:// or https://, not {url!r}")
    return url


def _timeouts(timeout):
    if isinstance(timeout, tuple):
        return timeout
    return (min(MAX_CONNECT_TIMEOUT, float(timeout)), float(timeout))


def _never_connected(exc):
    """True when the error happened before the request left (refused, DNS, no route)."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)


def _normalise_code(code):
    if isinstance(code, bool):
        return str(code)
    if isinstance(code, int | float) and code == int(code):
        number = int(code)
        # Gateway codes are hex; a server sending them as numbers still maps.
        return f"0x{number:08x}" if number > 0xFFFF else str(number)
    return str(code).strip().lower()


def _retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _outcome(err):
    for cls, name in OUTCOMES:
        if isinstance(err, cls):
            return name
    return "error"

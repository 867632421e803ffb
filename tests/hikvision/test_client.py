"""HikCentralClient: exact signed requests, envelope parsing, typed errors, retries."""

import json
import logging
import socket
import threading
import time
import traceback
import uuid
import warnings
from contextlib import contextmanager

import pytest
import redis
import requests
import responses
from prometheus_client import REGISTRY
from urllib3.exceptions import InsecureRequestWarning, MaxRetryError, NewConnectionError
from urllib3.exceptions import ProtocolError as Urllib3ProtocolError

from portal.hikvision import client_for
from portal.hikvision.client import HikCentralClient
from portal.hikvision.errors import (
    AuthenticationError,
    BadRequestError,
    HikvisionError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RateLimitTimeout,
    UnavailableError,
    UnsupportedError,
)
from portal.hikvision.signing import SignatureVerifier, content_md5

BASE = "https://hik.example:8443"
KEY, SECRET = "24681357", "Sup3rS3cretValue9876"
VERSION = "/artemis/api/common/v1/version"
PERSONS = "/artemis/api/resource/v1/person/personList"


class MaxRng:
    """Full jitter's upper bound, so backoff sleeps are predictable."""

    def uniform(self, low, high):
        return high


class RecordingLimiter:
    def __init__(self, fail=None):
        self.slots = 0
        self.pauses = []
        self.fail = fail

    @contextmanager
    def slot(self):
        if self.fail:
            raise self.fail
        self.slots += 1
        yield 0.25

    def pause(self, seconds=None):
        self.pauses.append(seconds)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client_options(sleeps):
    return {
        "base_url": BASE,
        "app_key": KEY,
        "app_secret": SECRET,
        "sleep": sleeps.append,
        "rng": MaxRng(),
        "max_retries": 3,
    }


def ok(data):
    return {"code": "0", "msg": "Success", "data": data}


def add(path=VERSION, **kwargs):
    responses.add(responses.POST, BASE + path, **kwargs)


def error_of(client, path=VERSION, body=None, **kwargs):
    with pytest.raises(HikvisionError) as caught:
        client.call(path, body, **kwargs)
    return caught.value


# -- the request on the wire ---------------------------------------------------------------


@responses.activate
def test_request_is_signed_compact_json_with_exact_headers(client):
    add(PERSONS, json=ok({"total": 0}))
    body = {"personName": "Анна Öberg", "pageNo": 1, "pageSize": 10}

    assert client.call(PERSONS, body) == {"total": 0}

    sent = responses.calls[0].request
    expected = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert sent.body == expected
    assert b" " not in expected.replace("Анна Öberg".encode(), b"")
    assert sent.url == BASE + PERSONS
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert sent.headers["Content-MD5"] == content_md5(expected)
    assert sent.headers["x-ca-signature-headers"] == "x-ca-key,x-ca-nonce,x-ca-timestamp"
    verifier = SignatureVerifier({KEY: SECRET})
    assert verifier.verify("POST", PERSONS, dict(sent.headers), sent.body) == KEY


@responses.activate
def test_each_attempt_is_signed_afresh(client):
    add(status=503)
    add(json=ok({"softVersion": "V2.5"}))
    client.call(VERSION)
    first, second = (call.request.headers for call in responses.calls)
    assert first["x-ca-nonce"] != second["x-ca-nonce"]
    verifier = SignatureVerifier({KEY: SECRET})
    for call in responses.calls:
        verifier.verify("POST", VERSION, dict(call.request.headers), call.request.body)


@responses.activate
def test_no_body_sends_an_empty_object(client):
    add(json=ok({"softVersion": "V2.5"}))
    client.call(VERSION)
    assert responses.calls[0].request.body == b"{}"


def test_bad_arguments_are_refused_before_sending(client):
    with pytest.raises(ValueError, match="/artemis/"):
        client.call("/api/common/v1/version")
    with pytest.raises(TypeError):
        client.call(VERSION, ["not", "a", "dict"])
    with pytest.raises(ValueError, match="HIKCENTRAL_URL"):
        HikCentralClient("hik.example", KEY, SECRET)


def test_session_pools_without_urllib3_retries(make_client):
    client = make_client(pool_connections=3, pool_maxsize=7, timeout=12.0)
    adapter = client._session.get_adapter(BASE)
    assert adapter._pool_connections == 3
    assert adapter._pool_maxsize == 7
    assert adapter.max_retries.total == 0
    assert adapter.max_retries.read is False
    assert client.timeout == (5.0, 12.0)
    assert client._session.verify is True


def test_unverified_tls_silences_only_this_hosts_warning(make_client):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        client = make_client(verify_tls=False)
        assert client._session.verify is False
        for host in ("hik.example", "elsewhere.example"):
            warnings.warn(
                f"Unverified HTTPS request is being made to host '{host}'. Adding ...",
                InsecureRequestWarning,
                stacklevel=1,
            )
    assert [str(w.message)[:60] for w in seen] == [
        "Unverified HTTPS request is being made to host 'elsewhere.ex"
    ]


# -- envelope ------------------------------------------------------------------------------


@responses.activate
def test_empty_string_data_is_none(client):
    add(json={"code": "0", "msg": "Success", "data": ""})
    assert client.call(VERSION) is None


@responses.activate
def test_numeric_zero_code_is_success(client):
    add(json={"code": 0, "msg": "Success", "data": "1150"})
    assert client.call(VERSION) == "1150"


@responses.activate
def test_missing_data_is_none_and_error_bodies_labelled_xml_still_parse(client):
    add(json={"code": "0", "msg": "Success"})
    add(body=json.dumps({"code": "128", "msg": "gone"}), content_type="application/xml")
    assert client.call(VERSION) is None
    assert isinstance(error_of(client), NotFoundError)


# -- typed errors --------------------------------------------------------------------------

ENVELOPE_ERRORS = [
    ("64", "User authentication failed", AuthenticationError, False),
    ("17", "No permission for OpenAPI access", AuthenticationError, False),
    ("0x02401000", "AppKey empty", AuthenticationError, False),
    ("0x02401001", "no partner", AuthenticationError, False),
    ("0x02401002", "signature empty", AuthenticationError, False),
    ("0x02401003", "signature incorrect", AuthenticationError, False),
    ("0x02401008", "API not authorised", AuthenticationError, False),
    ("128", "The request resource does not exist. [person]", NotFoundError, False),
    ("8", "This product version is not supported", UnsupportedError, False),
    ("2", "Incorrect request parameter.", BadRequestError, False),
    ("0x02401036", "system frequency limit", RateLimitedError, False),
    ("0x0240103b", "api frequency limit", RateLimitedError, False),
    ("0x0240100b", "quota exceeded", RateLimitedError, False),
    ("5", "Service exception. Hikcentral Database Exception", UnavailableError, True),
    ("1", "Unknow Error(0, 3651)", HikvisionError, False),
]


@pytest.mark.parametrize("code,msg,kind,ambiguous", ENVELOPE_ERRORS)
@responses.activate
def test_envelope_codes_map_to_typed_errors(client, code, msg, kind, ambiguous):
    add(json={"code": code, "msg": msg, "data": ""})
    err = error_of(client, retry=False)
    assert type(err) is kind
    assert err.code == code
    assert err.path == VERSION
    assert err.ambiguous is ambiguous
    assert msg in str(err)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("code", "msg", "kind", "detail"),
    [
        ("2", "Incorrect request parameter. [Start error]", BadRequestError, "Start error"),
        (
            "2",
            "Incorrect request parameter. [faces[0] is 60 px]",
            BadRequestError,
            "faces[0] is 60 px",
        ),
        ("128", "Does not exist. [Person Not Exist]", NotFoundError, "Person Not Exist"),
    ],
)
@responses.activate
def test_the_detail_is_the_whole_trailing_bracket(client, code, msg, kind, detail):
    add(json={"code": code, "msg": msg})
    err = error_of(client)
    assert type(err) is kind and not err.transient
    assert err.detail == detail
    assert err.detail.lower() in err.said()


def test_said_is_the_detail_and_the_message_in_lower_case():
    assert BadRequestError("x", detail="Face too small").said() == "face too small x"


@responses.activate
def test_gateway_code_sent_as_a_number_still_maps(client):
    add(json={"code": 0x02401003, "msg": "signature incorrect"})
    err = error_of(client)
    assert isinstance(err, AuthenticationError)
    assert err.code == "0x02401003"


HTTP_ERRORS = [
    (401, "", AuthenticationError, False),
    (403, "<html>Forbidden</html>", AuthenticationError, False),
    (404, "<html>Not Found</html>", ProtocolError, False),
    (429, "", RateLimitedError, False),
    (500, "oops", UnavailableError, True),
    (502, "<html>Bad Gateway</html>", UnavailableError, True),
    (503, "", UnavailableError, True),
    (400, "<html>Bad Request</html>", ProtocolError, False),
]


@pytest.mark.parametrize("status,body,kind,ambiguous", HTTP_ERRORS)
@responses.activate
def test_http_statuses_map_to_typed_errors(client, status, body, kind, ambiguous):
    add(status=status, body=body)
    err = error_of(client, retry=False)
    assert type(err) is kind
    assert err.ambiguous is ambiguous
    assert err.transient is (kind in (RateLimitedError, UnavailableError))


@responses.activate
def test_http_404_says_the_url_does_not_expose_artemis(client):
    add(status=404, body="<html>Not Found</html>")
    assert "does not expose /artemis" in str(error_of(client))


BAD_BODIES = [
    ("<html><body>Login</body></html>", AuthenticationError),
    ("", AuthenticationError),
    (b"\xff\xfe\x00garbage", AuthenticationError),
    ('{"msg": "no code here"}', ProtocolError),
    ("[1, 2, 3]", ProtocolError),
    ('"just a string"', ProtocolError),
    ("null", ProtocolError),
]


@pytest.mark.parametrize("body,kind", BAD_BODIES)
@responses.activate
def test_bad_answers_are_typed_errors(client, body, kind):
    add(status=200, body=body)
    err = error_of(client)
    assert type(err) is kind
    assert not err.transient
    assert len(responses.calls) == 1


# -- transport failures and ambiguity ------------------------------------------------------

TRANSPORT = [
    (requests.ConnectTimeout("connect timed out"), False),
    (requests.ReadTimeout("read timed out"), True),
    (
        requests.ConnectionError(
            MaxRetryError(None, BASE, NewConnectionError(None, "Connection refused"))
        ),
        False,
    ),
    (
        requests.ConnectionError(
            Urllib3ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
        ),
        True,
    ),
    (requests.exceptions.ChunkedEncodingError("cut"), True),
]


@pytest.mark.parametrize("exc,ambiguous", TRANSPORT)
@responses.activate
def test_transport_failures_are_unavailable_and_ambiguous_only_after_sending(
    client, exc, ambiguous
):
    add(body=exc)
    err = error_of(client, retry=False)
    assert type(err) is UnavailableError
    assert err.transient
    assert err.ambiguous is ambiguous


@responses.activate
def test_tls_failure_is_a_permanent_protocol_error(client):
    add(body=requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"))
    err = error_of(client)
    assert isinstance(err, ProtocolError)
    assert "HIKCENTRAL_TLS_FINGERPRINT" in str(err) and "HIKCENTRAL_CA_BUNDLE" in str(err)
    assert len(responses.calls) == 1


def test_real_refused_connection_is_not_ambiguous(sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HikCentralClient(f"http://127.0.0.1:{port}", KEY, SECRET, sleep=sleeps.append)
    err = error_of(client, retry=False)
    assert type(err) is UnavailableError
    assert err.ambiguous is False


def test_real_read_timeout_is_ambiguous(sleeps):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    client = HikCentralClient(f"http://127.0.0.1:{port}", KEY, SECRET, timeout=0.3)
    try:
        err = error_of(client, retry=False)
    finally:
        thread.join(timeout=2)
        for conn, _ in accepted:
            conn.close()
        listener.close()
        client.close()
    assert type(err) is UnavailableError
    assert err.ambiguous is True
    assert "in time" in str(err)


# -- retries -------------------------------------------------------------------------------


@responses.activate
def test_transient_errors_retry_with_capped_exponential_backoff(make_client, sleeps):
    client = make_client(max_retries=4, backoff_base=0.5, backoff_max=1.5)
    for _ in range(4):
        add(status=503)
    add(json=ok("done"))
    assert client.call(VERSION) == "done"
    assert len(responses.calls) == 5
    assert sleeps == [0.5, 1.0, 1.5, 1.5]
    assert client.metrics_summary()["retries"] == 4


@responses.activate
def test_full_jitter_stays_under_the_cap(sleeps):
    client = HikCentralClient(BASE, KEY, SECRET, max_retries=6, sleep=sleeps.append)
    for _ in range(7):
        add(status=502)
    error_of(client)
    caps = [min(30.0, 0.5 * 2**n) for n in range(6)]
    assert len(sleeps) == 6
    assert all(0 <= slept <= cap for slept, cap in zip(sleeps, caps, strict=True))


@responses.activate
def test_retries_stop_at_max_retries(client, sleeps):
    for _ in range(10):
        add(body=requests.ReadTimeout("slow"))
    err = error_of(client)
    assert isinstance(err, UnavailableError)
    assert len(responses.calls) == 4  # one attempt + max_retries=3
    assert len(sleeps) == 3


@responses.activate
def test_retry_after_is_honoured(client, sleeps):
    add(status=429, headers={"Retry-After": "2"})
    add(status=503, headers={"Retry-After": "1.5"})
    add(json=ok("done"))
    assert client.call(VERSION) == "done"
    assert sleeps == [2.0, 1.5]


@responses.activate
def test_rate_limited_with_a_pause_longer_than_backoff_max_is_raised(make_client, sleeps):
    client = make_client(backoff_max=5.0)
    add(status=429, headers={"Retry-After": "60"})
    err = error_of(client)
    assert isinstance(err, RateLimitedError)
    assert err.retry_after == 60.0
    assert sleeps == []


@responses.activate
def test_permanent_errors_are_never_retried(client, sleeps):
    add(json={"code": "2", "msg": "Incorrect request parameter. [personCode]"})
    add(json={"code": "64", "msg": "User authentication failed"})
    with pytest.raises(BadRequestError):
        client.call(VERSION)
    with pytest.raises(AuthenticationError):
        client.call(VERSION)
    assert len(responses.calls) == 2
    assert sleeps == []


@responses.activate
def test_retry_false_makes_one_attempt(client, sleeps):
    add(body=requests.ReadTimeout("slow"))
    add(json=ok("1150"))
    err = error_of(client, "/artemis/api/resource/v1/person/single/add", {"a": 1}, retry=False)
    assert err.ambiguous
    assert len(responses.calls) == 1
    assert sleeps == []


# -- limiter -------------------------------------------------------------------------------


@responses.activate
def test_every_attempt_takes_a_limiter_slot(make_client):
    limiter = RecordingLimiter()
    client = make_client(limiter=limiter)
    add(status=503)
    add(json=ok("x"))
    client.call(VERSION)
    assert limiter.slots == 2
    assert client.metrics_summary()["rate_limit_wait_seconds"] == 0.5


@responses.activate
def test_server_rate_limiting_pauses_the_shared_limiter(make_client):
    limiter = RecordingLimiter()
    client = make_client(limiter=limiter)
    add(status=429, headers={"Retry-After": "3"})
    add(json=ok("x"))
    client.call(VERSION)
    assert limiter.pauses == [3.0]


def test_limiter_timeout_is_raised_without_retry(make_client, sleeps):
    client = make_client(limiter=RecordingLimiter(fail=RateLimitTimeout("no slot")))
    err = error_of(client)
    assert isinstance(err, RateLimitTimeout)
    assert err.path == VERSION
    assert sleeps == []


def test_unreachable_limiter_store_is_unavailable(make_client):
    failing = RecordingLimiter(fail=redis.exceptions.ConnectionError("redis down"))
    client = make_client(limiter=failing, max_retries=0)
    err = error_of(client)
    assert type(err) is UnavailableError
    assert not err.ambiguous


# -- metrics -------------------------------------------------------------------------------


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@responses.activate
def test_metrics_summary_and_prometheus_counters(client):
    path = "/artemis/api/acs/v1/privilege/group"
    before_ok = sample("hikcentral_calls_total", path=path, outcome="ok")
    before_unavailable = sample("hikcentral_calls_total", path=path, outcome="unavailable")
    before_retries = sample("hikcentral_retries_total")
    before_latency = sample("hikcentral_call_seconds_count", path=path)
    add(path, status=503)
    add(path, json=ok({"total": 0}))
    add(json=ok("v"))
    client.call(path, {})
    client.call(VERSION)

    summary = client.metrics_summary()
    assert summary["calls"] == 3
    assert summary["by_path"] == {path: 2, VERSION: 1}
    assert summary["errors"] == 1
    assert summary["retries"] == 1
    assert summary["seconds"] >= 0
    assert sample("hikcentral_calls_total", path=path, outcome="ok") == before_ok + 1
    assert (
        sample("hikcentral_calls_total", path=path, outcome="unavailable") == before_unavailable + 1
    )
    assert sample("hikcentral_retries_total") == before_retries + 1
    assert sample("hikcentral_call_seconds_count", path=path) == before_latency + 2


def test_metric_path_labels_never_carry_ids():
    from portal.hikvision.metrics import path_label

    assert path_label("/artemis/api/resource/v1/person/1150?x=1") == (
        "/artemis/api/resource/v1/person/:id"
    )
    assert path_label(VERSION) == VERSION


@responses.activate
def test_metrics_summary_is_thread_safe(make_client):
    client = make_client()
    responses.add(responses.POST, BASE + VERSION, json=ok("v"))
    threads = [
        threading.Thread(target=lambda: [client.call(VERSION) for _ in range(25)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert client.metrics_summary()["calls"] == 100


# -- the secret ----------------------------------------------------------------------------


@responses.activate
def test_app_secret_never_appears_in_logs_errors_repr_or_metrics(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(limiter=RecordingLimiter())
    texts = [repr(client), str(client), repr(vars(client))]
    answers = [
        {"json": {"code": "64", "msg": "User authentication failed"}},
        {"json": {"code": "2", "msg": f"Incorrect request parameter. [{SECRET}]"}},
        {"status": 401},
        {"status": 404, "body": f"<html>{SECRET}</html>"},
        {"status": 200, "body": f"<html>{SECRET}</html>"},
        {"status": 503, "body": SECRET},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"body": requests.ConnectionError(f"broken {SECRET}")},
        {"body": requests.ReadTimeout("slow")},
        {"json": {"msg": SECRET}},
    ]
    for answer in answers:
        responses.reset()
        add(**answer)
        try:
            client.call(VERSION, {"personName": "x"})
        except HikvisionError as err:
            texts += [str(err), repr(err), "".join(traceback.format_exception(err))]
            texts += [str(arg) for arg in err.args]
    texts.append(json.dumps(client.metrics_summary()))
    texts += [record.getMessage() for record in caplog.records]
    assert any("retry" in text for text in texts)
    for text in texts:
        assert SECRET not in text


# -- wiring --------------------------------------------------------------------------------


def test_client_for_builds_one_client_per_process_with_the_shared_limiter(app, sim):
    client = client_for(app)
    assert client_for(app) is client
    assert app.extensions["hikcentral"] is client
    assert client.limiter.calls == app.config["HIKCENTRAL_RATE_LIMIT_CALLS"]
    assert client.limiter.max_in_flight == app.config["HIKCENTRAL_MAX_IN_FLIGHT"]
    assert "127.0.0.1" in client.limiter.name
    assert client._session.verify is False
    version = client.call(VERSION)
    assert version["softVersion"]
    client.limiter.delete()


def test_client_for_uses_a_client_put_there_by_hand(app):
    fake = object()
    app.extensions["hikcentral"] = fake
    assert client_for(app) is fake


def _hammer(client, threads, calls_each):
    errors, lock = [], threading.Lock()

    def work():
        for _ in range(calls_each):
            try:
                client.call(VERSION, retry=False)
            except RateLimitedError as err:
                with lock:
                    errors.append(err)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return errors


@pytest.mark.slow
def test_a_server_enforcing_the_same_limit_never_answers_429(sim, simulator_server, redis_conn):
    from portal.hikvision.ratelimit import SharedRateLimiter

    sim.configure(rate_limit=[5, 0.5])
    limiter = SharedRateLimiter(redis_conn, f"test:e2e:{uuid.uuid4().hex}", 5, 0.5)
    server = (simulator_server.url, simulator_server.app_key, simulator_server.app_secret)
    unlimited = HikCentralClient(*server)
    limited = HikCentralClient(*server, limiter=limiter)
    try:
        assert _hammer(unlimited, 4, 5), "without the limiter the server must refuse some"
        time.sleep(0.6)  # the server's bucket refills
        before = sim.stats()["rate_limited"]
        started = time.monotonic()
        assert _hammer(limited, 4, 5) == []
        assert sim.stats()["rate_limited"] == before
        assert time.monotonic() - started >= 1.5  # 20 calls at 10/s, a burst of 2
    finally:
        sim.configure(rate_limit=None)
        limiter.delete()
        unlimited.close()
        limited.close()

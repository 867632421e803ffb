"""The HikCentral Professional OpenAPI simulator as a Flask app.

Every ``/artemis/api/...`` call goes through, in order: the path check (unknown -> HTTP 404),
the rate limit (HTTP 429 + Retry-After), the configured latency, fault injection, the signature
check (code 64), the "not in this version" list (code 8), then the endpoint. The unsigned
control API under ``/sim`` (documented in the README) skips all of that and is not counted.
"""

import logging
import socket
import time
from datetime import datetime

from flask import Flask, Response, jsonify, request

from portal.hikvision.signing import SignatureError, SignatureVerifier
from portal.hikvision.simulator.api import HANDLERS, NOT_SUPPORTED, record_passage
from portal.hikvision.simulator.knobs import ConfigError, Knobs, SimConfig
from portal.hikvision.simulator.state import DIRECTIONS, PASSAGE_EVENT_TYPE, SimState
from portal.hikvision.simulator.validation import ApiError

log = logging.getLogger(__name__)


class Simulator:
    """State, knobs and credentials of one simulated HikCentral."""

    def __init__(self, app_key, app_secret, config):
        self.app_key = app_key
        self.credentials = {app_key: app_secret}
        self.state = SimState()
        self.knobs = Knobs(config)

    def reset(self):
        """Seed data, zeroed statistics, the start options."""
        self.state.reset()
        self.knobs.reset()

    def verify(self, method, path, headers, body):
        verifier = SignatureVerifier(
            self.credentials, max_skew_seconds=self.knobs.config.max_skew_seconds
        )
        return verifier.verify(method, path, headers, body)


def create_simulator(
    app_key,
    app_secret,
    *,
    latency_ms=0,
    rate_limit=None,
    fault_rate=0.0,
    delivery_delay=1.0,
    max_skew_seconds=900,
    **options,
):
    """Build the simulator app; ``options`` are further ``SimConfig`` fields (fault_seed...)."""
    config = SimConfig().updated(
        {
            "latency_ms": latency_ms,
            "rate_limit": rate_limit,
            "fault_rate": fault_rate,
            "delivery_delay": delivery_delay,
            "max_skew_seconds": max_skew_seconds,
            **options,
        }
    )
    sim = Simulator(app_key, app_secret, config)
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions["simulator"] = sim

    @app.route("/artemis/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def artemis(rest):
        return _artemis_call(sim)

    _register_control(app, sim)
    return app


def envelope(code="0", msg="Success", data=None):
    body = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return jsonify(body)


def _error_envelope(error):
    return envelope(error.code, error.msg, "")


def _artemis_call(sim):
    path = request.path
    config = sim.knobs.config
    handler = HANDLERS.get(path)
    unsupported = path in NOT_SUPPORTED or path in config.unsupported_paths
    if handler is None and not unsupported:
        return Response("Not Found", status=404, mimetype="text/plain")
    sim.knobs.count_call(path)
    retry_after = sim.knobs.admit()
    if config.latency_ms:
        time.sleep(config.latency_ms / 1000.0)
    if retry_after is not None:
        return _rate_limited(retry_after)
    fault = sim.knobs.pick_fault(path)
    if fault == "http_500":
        return Response("Internal Server Error", status=500, mimetype="text/plain")
    if fault == "code_5":
        return _error_envelope(ApiError("5"))
    if fault == "drop":
        return _drop_connection()
    if fault == "slow":
        # The call still happens after the wait: the client cannot know whether it did.
        time.sleep(config.slow_seconds)
    if request.method != "POST":
        return Response("Method Not Allowed", status=405, mimetype="text/plain")
    body_bytes = request.get_data()
    try:
        sim.verify(request.method, request.full_path, dict(request.headers), body_bytes)
    except SignatureError as refused:
        sim.knobs.count_auth_failure()
        response = _error_envelope(ApiError("64"))
        # Real HCP gives no reason; the header saves a developer an hour of guessing.
        response.headers["X-Sim-Auth-Reason"] = refused.reason
        return response
    if unsupported or handler is None:
        return _error_envelope(ApiError("8"))
    try:
        answer = envelope(data=handler(sim, _json_body(body_bytes)))
    except ApiError as error:
        answer = _error_envelope(error)
    # "lost": carried out, but the client never hears so (it cannot know whether it happened).
    return _drop_connection() if fault == "lost" else answer


def _json_body(body_bytes):
    if not body_bytes.strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError("2", "request body must be a JSON object")
    return body


def _rate_limited(retry_after):
    response = jsonify(code="0x0240103b", msg="API call frequency exceeds the limit", data="")
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _drop_connection():
    """Close the TCP connection without answering (the client sees the peer disconnect)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:  # not under the werkzeug server: the nearest thing is an empty 502
        return Response(status=502)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError as error:
        log.debug("socket already gone while dropping: %s", error)
    # werkzeug's write then fails with a broken pipe, which it treats as a dropped connection.
    return Response(b"", status=200)


# --- control API ------------------------------------------------------------------------------


def _register_control(app, sim):
    @app.get("/sim/state")
    def sim_state():
        with sim.state.lock:
            data = sim.state.snapshot(time.time(), sim.knobs.config.delivery_failures)
        data["config"] = sim.knobs.config.as_json()
        return jsonify(data)

    @app.get("/sim/stats")
    def sim_stats():
        return jsonify(sim.knobs.stats_json())

    @app.get("/sim/config")
    def sim_get_config():
        return jsonify(sim.knobs.config.as_json())

    @app.post("/sim/config")
    def sim_config():
        options = request.get_json(silent=True)
        if not isinstance(options, dict):
            return jsonify(error="send a JSON object of options"), 400
        try:
            config = sim.knobs.configure(options)
        except ConfigError as error:
            return jsonify(error=str(error)), 400
        return jsonify(config.as_json())

    @app.post("/sim/reset")
    def sim_reset():
        sim.reset()
        return jsonify(ok=True)

    @app.post("/sim/passages")
    def sim_passage():
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return jsonify(error="send a JSON object"), 400
        try:
            kwargs = _passage_arguments(payload)
        except ValueError as error:
            return jsonify(error=str(error)), 400
        try:
            event = record_passage(sim, **kwargs)
        except LookupError as error:
            return jsonify(error=str(error.args[0])), 404
        return jsonify(event), 201


def _passage_arguments(payload):
    """Checked keyword arguments for ``record_passage``; ValueError names the bad field."""
    person_id, person_code = payload.get("person_id"), payload.get("person_code")
    if not person_id and not person_code:
        raise ValueError("person_id or person_code is required")
    door = payload.get("door")
    if door is None or door == "":
        raise ValueError("door is required (a doorIndexCode or a door name)")
    direction = payload.get("direction", "in")
    if direction not in DIRECTIONS:
        raise ValueError("direction must be in, out or unknown")
    moment = None
    if payload.get("time"):
        try:
            moment = datetime.fromisoformat(str(payload["time"]))
        except ValueError:
            raise ValueError("time must be ISO 8601 with offset") from None
        if moment.tzinfo is None:
            raise ValueError("time must carry an offset, e.g. +03:00")
    event_type = payload.get("event_type", PASSAGE_EVENT_TYPE)
    if isinstance(event_type, bool) or not isinstance(event_type, int):
        raise ValueError("event_type must be an integer")
    return {
        "person_id": str(person_id) if person_id else None,
        "person_code": str(person_code) if person_code and not person_id else None,
        "door": str(door),
        "direction": direction,
        "moment": moment,
        "event_type": event_type,
    }

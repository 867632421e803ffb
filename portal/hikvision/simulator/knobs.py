"""Behaviour knobs: latency, a server-side rate limit, fault injection, and the call statistics."""

import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import timedelta, timezone

FAULT_KINDS = ("http_500", "code_5", "drop", "slow")
# "lost": the call is carried out and the connection closed before the answer (opt-in only).
ALL_FAULT_KINDS = (*FAULT_KINDS, "lost")
PROFILES = ("friendly", "strict")


class ConfigError(ValueError):
    """A control-API option was unknown or out of range."""


def parse_rate_limit(value):
    """``"CALLS/SECONDS"``, ``[calls, seconds]`` or None -> ``(calls, seconds)`` or None."""
    if value is None or value == "" or value == "none":
        return None
    if isinstance(value, str):
        calls, sep, seconds = value.partition("/")
        if not sep:
            raise ConfigError("rate_limit must look like CALLS/SECONDS, e.g. 10/1")
        value = (calls, seconds)
    try:
        calls, seconds = value
        calls, seconds = int(calls), float(seconds)
    except (TypeError, ValueError):
        raise ConfigError("rate_limit must look like CALLS/SECONDS, e.g. 10/1") from None
    if calls < 1 or seconds <= 0:
        raise ConfigError("rate_limit needs at least 1 call in a positive number of seconds")
    return (calls, seconds)


@dataclass
class SimConfig:
    """Every option ``POST /sim/config`` accepts; ``POST /sim/reset`` restores the start values."""

    latency_ms: float = 0.0
    rate_limit: tuple | None = None  # (calls, seconds)
    fault_rate: float = 0.0
    fault_kinds: tuple = FAULT_KINDS
    fault_seed: int | None = None
    # Faults for the next calls in this order ("none" = answer normally), before fault_rate.
    fault_script: tuple = ()
    # How long a "slow" fault waits before answering: longer than any sane client timeout.
    slow_seconds: float = 15.0
    delivery_delay: float = 1.0
    # Person ids or codes whose delivery to the devices fails (elementStatus 2).
    delivery_failures: frozenset = field(default_factory=frozenset)
    # Faults (rate and script) hit only calls to these paths; empty: every path.
    fault_paths: frozenset = field(default_factory=frozenset)
    # Extra paths that answer code 8 ("not supported in this version").
    unsupported_paths: frozenset = field(default_factory=frozenset)
    max_skew_seconds: float = 900.0
    # Largest addPersons/deletePersons list (the real limit is undocumented).
    max_batch: int = 1000
    # The devices' UTC offset: event times are reported in it, as terminals do.
    utc_offset_minutes: int = 0
    # "strict" answers as live servers were seen to (see simulator/strict.py).
    profile: str = "friendly"
    # Person ids or codes whose first reapplication answers code 1 "Unknow Error(0, 3651)".
    reapply_unknown_error: frozenset = field(default_factory=frozenset)
    # Person ids or codes whose validity changes answer Success and are never stored.
    validity_ignored: frozenset = field(default_factory=frozenset)

    @property
    def site_timezone(self):
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    def updated(self, options):
        """A copy with ``options`` applied, every value checked."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown option: {', '.join(unknown)}")
        changes = {}
        for name, value in options.items():
            changes[name] = _CHECKS.get(name, _number)(name, value)
        return replace(self, **changes)

    def as_json(self):
        data = asdict(self)
        data["rate_limit"] = list(self.rate_limit) if self.rate_limit else None
        sets = ("delivery_failures", "unsupported_paths", "reapply_unknown_error", "fault_paths")
        for name in ("fault_kinds", "fault_script", *sets, "validity_ignored"):
            data[name] = (
                sorted(data[name]) if isinstance(data[name], frozenset) else list(data[name])
            )
        return data


def _number(name, value, low=0.0, high=None):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {limit}")
    return value


def _kinds(name, value, allow_none=False):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{name} must be a list of fault kinds")
    allowed = set(ALL_FAULT_KINDS) | ({"none"} if allow_none else set())
    wrong = [v for v in value if v not in allowed]
    if wrong:
        raise ConfigError(f"{name}: unknown fault kind {wrong[0]!r} (use {', '.join(allowed)})")
    if not value and not allow_none:
        raise ConfigError(f"{name} must name at least one fault kind")
    return tuple(value)


def _strings(name, value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset) or not all(
        isinstance(v, str) for v in value
    ):
        raise ConfigError(f"{name} must be a list of strings")
    return frozenset(value)


def _seed(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be an integer or null")
    return value


def _rate(name, value):
    return parse_rate_limit(value)


def _profile(name, value):
    if value not in PROFILES:
        raise ConfigError(f"{name} must be one of {', '.join(PROFILES)}")
    return value


def _batch(name, value):
    return int(_number(name, value, low=1))


_CHECKS = {
    "rate_limit": _rate,
    "fault_rate": lambda n, v: _number(n, v, 0.0, 1.0),
    "fault_kinds": _kinds,
    "fault_script": lambda n, v: _kinds(n, v, allow_none=True),
    "fault_seed": _seed,
    "delivery_failures": _strings,
    "unsupported_paths": _strings,
    "reapply_unknown_error": _strings,
    "fault_paths": _strings,
    "validity_ignored": _strings,
    "profile": _profile,
    "max_batch": _batch,
    "utc_offset_minutes": lambda n, v: int(_number(n, v, -720, 840)),
}


class TokenBucket:
    """Capacity ``calls``, refilled at ``calls/seconds`` tokens per second."""

    def __init__(self, calls, seconds, clock=time.monotonic):
        self.capacity = float(calls)
        self.rate = calls / seconds
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def take(self):
        """0.0 when a token was taken, else the seconds until the next token."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class Stats:
    calls: dict = field(default_factory=dict)
    rate_limited: int = 0
    faults: int = 0
    faults_by_kind: dict = field(default_factory=dict)
    auth_failures: int = 0


class Knobs:
    """The live configuration, rate limiter, fault picker and statistics (own lock)."""

    def __init__(self, start_config):
        self.lock = threading.Lock()
        self.start_config = start_config
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = Stats()
            self._apply(self.start_config)

    def configure(self, options):
        """Apply control-API options; raises ``ConfigError``; returns the new config."""
        with self.lock:
            config = self.config.updated(options)
            self._apply(config, keep_bucket="rate_limit" not in options)
            return config

    def _apply(self, config, keep_bucket=False):
        self.config = config
        if not keep_bucket or config.rate_limit is None:
            self.bucket = TokenBucket(*config.rate_limit) if config.rate_limit else None
        self.random = random.Random(config.fault_seed)
        self.script = list(config.fault_script)

    def count_call(self, path):
        with self.lock:
            self.stats.calls[path] = self.stats.calls.get(path, 0) + 1

    def admit(self):
        """None when the call may go on, else the whole seconds to put in Retry-After."""
        with self.lock:
            if self.bucket is None:
                return None
            wait = self.bucket.take()
            if wait <= 0:
                return None
            self.stats.rate_limited += 1
            return max(1, math.ceil(wait))

    def pick_fault(self, path=None):
        """The fault kind this call suffers, or None; counted in the statistics."""
        with self.lock:
            if self.config.fault_paths and path not in self.config.fault_paths:
                kind = None
            elif self.script:
                kind = self.script.pop(0)
                kind = None if kind == "none" else kind
            elif self.config.fault_rate > 0 and self.random.random() < self.config.fault_rate:
                kind = self.random.choice(self.config.fault_kinds)
            else:
                kind = None
            if kind:
                self.stats.faults += 1
                self.stats.faults_by_kind[kind] = self.stats.faults_by_kind.get(kind, 0) + 1
            return kind

    def count_auth_failure(self):
        with self.lock:
            self.stats.auth_failures += 1

    def stats_json(self):
        with self.lock:
            return asdict(self.stats)

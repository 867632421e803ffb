"""A client for the simulator's unsigned control API (documented in the README)."""

import requests


class SimulatorControlError(RuntimeError):
    """The control API refused a request; the message is the simulator's reason."""


class SimulatorControl:
    """Reset, configure, inspect the simulator and record passages at its doors."""

    def __init__(self, url, timeout=5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _request(self, method, path, payload=None):
        response = self.session.request(
            method, f"{self.url}{path}", json=payload, timeout=self.timeout
        )
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", response.text)
            except ValueError:
                reason = response.text
            raise SimulatorControlError(f"{method} {path}: {response.status_code} {reason}")
        return response.json()

    def reset(self):
        """Back to the seed data, statistics zeroed, start options restored."""
        self._request("POST", "/sim/reset")

    def state(self):
        """``{"persons": [...], "access_levels": [...], "doors": [...], ...}``."""
        return self._request("GET", "/sim/state")

    def stats(self):
        """``{"calls": {path: n}, "rate_limited": n, "faults": n, ...}``."""
        return self._request("GET", "/sim/stats")

    def configure(self, **options):
        """Change knobs (latency_ms, rate_limit "10/1" or [10, 1] or None, fault_rate,
        fault_kinds, fault_seed, fault_script, slow_seconds, delivery_delay,
        delivery_failures, unsupported_paths, max_skew_seconds, max_batch); returns the config."""
        return self._request("POST", "/sim/config", options)

    def passage(
        self,
        person_code=None,
        person_id=None,
        door="1",
        direction="in",
        time=None,
        event_type=None,
    ):
        """Record a door event as the device decides it; returns the event as door/events lists
        it, plus ``granted`` and ``reason`` (no face, outside the validity, no access level
        covering the door: a refused 197151 event instead of the granted type)."""
        payload = {"door": door, "direction": direction}
        if person_code is not None:
            payload["person_code"] = person_code
        if person_id is not None:
            payload["person_id"] = person_id
        if time is not None:
            payload["time"] = time if isinstance(time, str) else time.isoformat()
        if event_type is not None:
            payload["event_type"] = event_type
        return self._request("POST", "/sim/passages", payload)

    def person(self, person_code):
        """The /sim/state entry of the person with this code, or None."""
        return next((p for p in self.state()["persons"] if p["person_code"] == person_code), None)

    def close(self):
        self.session.close()

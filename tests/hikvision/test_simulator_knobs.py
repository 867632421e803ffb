"""The simulator's behaviour knobs (latency, rate limit, faults), control API and command."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from portal.hikvision.simulator import cli as sim_cli
from portal.hikvision.simulator.control import SimulatorControlError
from portal.hikvision.simulator.server import SimulatorServer
from tests.fixtures.simulator import SignedCaller

VERSION = "/artemis/api/common/v1/version"
ADD = "/artemis/api/resource/v1/person/single/add"


def person(code):
    return {
        "personCode": code,
        "personFamilyName": "Doe",
        "personGivenName": "Jane",
        "orgIndexCode": "1",
    }


def test_latency_is_applied_and_parallel_calls_overlap(sim_api, sim):
    sim.configure(latency_ms=200)
    started = time.monotonic()
    sim_api.call(VERSION)
    assert time.monotonic() - started >= 0.19
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: sim_api.call(VERSION), range(10)))
    elapsed = time.monotonic() - started
    assert all(a["code"] == "0" for a in answers)
    # Ten calls one after the other would take 2 s.
    assert elapsed < 1.2, f"10 parallel calls took {elapsed:.2f} s"


def test_control_api_is_never_delayed_or_counted(sim_api, sim):
    sim.configure(latency_ms=500)
    started = time.monotonic()
    sim.state()
    sim.stats()
    assert time.monotonic() - started < 0.4
    assert sim.stats()["calls"] == {}


def test_rate_limit_answers_429_with_retry_after(sim_api, sim):
    sim.configure(rate_limit="3/10")
    codes = [sim_api.post(VERSION).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = sim_api.post(VERSION)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 4
    # The control API is not limited.
    stats = sim.stats()
    assert stats["rate_limited"] == 1
    assert stats["calls"] == {VERSION: 4}


def test_rate_limit_refills(sim_api, sim):
    sim.configure(rate_limit=[2, 0.2])
    assert [sim_api.post(VERSION).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.25)
    assert sim_api.post(VERSION).status_code == 200


def test_each_fault_kind_is_reachable_and_counted(sim_api, sim):
    sim.configure(fault_script=["http_500", "code_5", "drop", "slow", "none"], slow_seconds=1.0)
    assert sim_api.post(VERSION).status_code == 500
    assert sim_api.call(VERSION) == {
        "code": "5",
        "msg": "Service exception. Hikcentral Database Exception",
        "data": "",
    }
    with pytest.raises(requests.ConnectionError):
        sim_api.post(VERSION)
    with pytest.raises(requests.Timeout):
        sim_api.post(VERSION, timeout=0.3)
    assert sim_api.call(VERSION)["code"] == "0"
    stats = sim.stats()
    assert stats["faults"] == 4
    assert stats["faults_by_kind"] == {"http_500": 1, "code_5": 1, "drop": 1, "slow": 1}
    assert stats["calls"][VERSION] == 5


def test_slow_fault_still_performs_the_call(sim_api, sim):
    sim.configure(fault_script=["slow"], slow_seconds=0.6)
    with pytest.raises(requests.Timeout):
        sim_api.post(ADD, person("SLOW-1"), timeout=0.2)
    deadline = time.monotonic() + 5
    while sim.person("SLOW-1") is None:
        assert time.monotonic() < deadline, "the slow call never completed"
        time.sleep(0.1)


def outcomes(api, n):
    """What n calls saw: 0 for success, 5 for a code-5 envelope, 500 for HTTP 500."""
    seen = []
    for _ in range(n):
        response = api.post(VERSION)
        seen.append(500 if response.status_code == 500 else int(response.json()["code"]))
    return seen


def test_fault_rate_is_reproducible_with_a_seed(sim_api, sim):
    options = {"fault_rate": 0.5, "fault_seed": 7, "fault_kinds": ["code_5", "http_500"]}
    sim.configure(**options)
    first = outcomes(sim_api, 30)
    faults = sim.stats()["faults"]
    assert {0, 5, 500} <= set(first)
    assert faults == sum(1 for o in first if o != 0)
    sim.reset()
    sim.configure(**options)
    assert outcomes(sim_api, 30) == first


def test_auth_check_comes_after_faults_and_limits(sim_api, sim):
    sim.configure(fault_script=["code_5"])
    assert sim_api.call(VERSION, app_secret="wrong")["code"] == "5"
    assert sim_api.call(VERSION, app_secret="wrong")["code"] == "64"


def test_reset_restores_seed_data_stats_and_start_options(sim_api, sim):
    sim_api.call(ADD, person("R-1"))
    sim.passage(person_code="R-1", door="1")
    sim.configure(latency_ms=50, fault_rate=0.1, delivery_delay=9)
    sim.reset()
    state = sim.state()
    assert state["persons"] == [] and state["events"] == 0
    assert len(state["access_levels"]) == 3 and len(state["doors"]) == 4
    assert state["config"]["latency_ms"] == 0 and state["config"]["fault_rate"] == 0
    assert state["config"]["delivery_delay"] == 1.0
    assert sim.stats() == {
        "calls": {},
        "rate_limited": 0,
        "faults": 0,
        "faults_by_kind": {},
        "auth_failures": 0,
    }


def test_server_start_options_are_what_reset_restores():
    server = SimulatorServer(app_key="k", app_secret="s", latency_ms=120, rate_limit=(5, 1))
    with server:
        control = server.control()
        control.configure(latency_ms=0, rate_limit=None)
        control.reset()
        config = control.state()["config"]
        assert config["latency_ms"] == 120 and config["rate_limit"] == [5, 1.0]
        api = SignedCaller(server.url, "k", "s")
        started = time.monotonic()
        assert api.call(VERSION)["code"] == "0"
        assert time.monotonic() - started >= 0.11
        control.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"latency": 5}, "unknown option: latency"),
        ({"rate_limit": "ten"}, "CALLS/SECONDS"),
        ({"rate_limit": "0/1"}, "at least 1 call"),
        ({"fault_rate": 1.5}, "fault_rate must be between"),
        ({"fault_kinds": ["meteor"]}, "unknown fault kind"),
        ({"latency_ms": "fast"}, "latency_ms must be a number"),
        ({"delivery_failures": "V-1"}, None),
    ],
)
def test_config_is_validated(sim, options, message):
    if message is None:
        assert sim.configure(**options)["delivery_failures"] == ["V-1"]
        return
    with pytest.raises(SimulatorControlError, match=message):
        sim.configure(**options)


def test_passage_refusals(sim_api, sim):
    sim_api.call(ADD, person("P-1"))
    with pytest.raises(SimulatorControlError, match="404 no such person"):
        sim.passage(person_code="nobody", door="1")
    with pytest.raises(SimulatorControlError, match="404 no such door"):
        sim.passage(person_code="P-1", door="Back door")
    with pytest.raises(SimulatorControlError, match="direction must be in, out or unknown"):
        sim.passage(person_code="P-1", door="1", direction="sideways")
    with pytest.raises(SimulatorControlError, match="time must carry an offset"):
        sim.passage(person_code="P-1", door="1", time="2030-05-01T09:00:00")
    event = sim.passage(person_code="P-1", door="2", direction="unknown")
    assert event["inAndOutType"] == -1


def test_state_document_shape(sim_api, sim):
    person_id = sim_api.call(ADD, person("S-1"))["data"]
    sim_api.call(
        "/artemis/api/acs/v1/privilege/group/single/addPersons",
        {"privilegeGroupId": "3", "type": 2, "list": [{"id": person_id}]},
    )
    state = sim.state()
    entry = state["persons"][0]
    assert set(entry) >= {
        "person_id",
        "person_code",
        "name",
        "begin_time",
        "end_time",
        "has_face",
        "access_levels",
    }
    assert entry["person_id"] == person_id and entry["access_levels"] == ["3"]
    assert entry["has_face"] is False and entry["begin_time"] < entry["end_time"]
    assert {d["direction"] for d in state["doors"]} == {"in", "out"}


# --- the sim command ---------------------------------------------------------------------------


def test_sim_command_prints_url_but_not_the_secret(app, monkeypatch):
    served = {}

    def fake_serve(self):
        served["url"] = self.url
        served["key"] = self.app_key
        served["options"] = self.simulator.knobs.config
        raise KeyboardInterrupt

    monkeypatch.setattr(SimulatorServer, "serve_forever", fake_serve)
    app.config["HIKCENTRAL_URL"] = "http://127.0.0.1:0"
    result = app.test_cli_runner().invoke(
        sim_cli.sim,
        ["--port", "0", "--latency-ms", "25", "--rate-limit", "10/2", "--fault-rate", "0.1"],
    )
    assert result.exit_code == 0, result.output
    assert served["url"] in result.output
    assert app.config["HIKCENTRAL_APP_SECRET"] not in result.output
    assert served["key"] == app.config["HIKCENTRAL_APP_KEY"]
    config = served["options"]
    assert (config.latency_ms, config.rate_limit, config.fault_rate) == (25, (10, 2.0), 0.1)


def test_sim_command_refuses_a_bad_rate_limit(app):
    result = app.test_cli_runner().invoke(sim_cli.sim, ["--rate-limit", "lots"])
    assert result.exit_code == 2
    assert "CALLS/SECONDS" in result.output


def test_concurrent_adds_of_one_person_code_create_one_person(sim_api, sim):
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: sim_api.call(ADD, person("SAME")), range(10)))
    assert sorted(a["code"] for a in answers) == ["0"] + ["2"] * 9
    assert len(sim.state()["persons"]) == 1


def test_member_list_above_max_batch_is_refused(sim_api, sim):
    sim.configure(max_batch=2)
    ids = [sim_api.call(ADD, person(f"B-{n}"))["data"] for n in range(3)]
    answer = sim_api.call(
        "/artemis/api/acs/v1/privilege/group/single/addPersons",
        {"privilegeGroupId": "1", "type": 1, "list": [{"id": i} for i in ids]},
    )
    assert answer["code"] == "2" and "more than 2 entries" in answer["msg"]


def test_event_times_use_the_devices_utc_offset(sim_api, sim):
    sim.configure(utc_offset_minutes=180)
    sim_api.call(ADD, person("T-1"))
    event = sim.passage(person_code="T-1", door="1", time="2030-05-01T06:00:00+00:00")
    assert event["eventTime"] == "2030-05-01T09:00:00+03:00"
    assert event["receiveTime"].endswith("+03:00")
    listed = sim_api.call(
        "/artemis/api/acs/v1/door/events",
        {
            "startTime": "2030-05-01T08:59:59+03:00",
            "endTime": "2030-05-01T06:00:01+00:00",
            # No face enrolled: the simulated terminal refused it (its event type says so).
            "eventType": event["eventType"],
            "doorIndexCodes": ["1"],
            "pageNo": 1,
            "pageSize": 10,
        },
    )["data"]
    assert [e["eventId"] for e in listed["list"]] == [event["eventId"]]

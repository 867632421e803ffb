"""The connection self-test: ``flask hik check [--write]`` and the admin page's button."""

import time

import pytest

from portal.hikvision import client_for, selftest
from portal.hikvision.client import HikCentralClient
from portal.hikvision.simulator.server import SimulatorServer
from tests.fixtures.app import csrf_token

STEPS = ["version", "access levels", "doors", "door events (last hour)"]
WRITE_STEPS = STEPS + [
    "add test person with face",
    "grant access level",
    "reapply to devices",
    "change and read back validity",
    "delivery status",
    "delete test person",
]


@pytest.mark.parametrize("profile", ["friendly", "strict"])
def test_the_write_check_round_trips_and_leaves_no_test_person(app, sim, profile):
    sim.configure(profile=profile)
    report = selftest.run_check(client_for(app), write=True)
    assert [s.name for s in report.steps] == WRITE_STEPS
    assert report.verdict != selftest.Verdict.NOT_READY and not report.left_behind
    assert sim.state()["persons"] == []
    outcomes = {s.name: s.outcome for s in report.steps}
    if profile == "strict":
        # The strict server keeps the first window and does not report delivery.
        assert outcomes["change and read back validity"] == selftest.Outcome.WARNING
        assert outcomes["delivery status"] == selftest.Outcome.WARNING
        assert report.verdict == selftest.Verdict.READY_WITH_WARNINGS
    else:
        assert set(outcomes.values()) == {selftest.Outcome.OK}


def test_the_read_only_check_makes_four_calls_and_writes_nothing(app, sim):
    report = selftest.run_check(client_for(app))
    assert [s.name for s in report.steps] == STEPS
    assert report.verdict == selftest.Verdict.READY
    assert sum(sim.stats()["calls"].values()) == 4
    assert sim.state()["persons"] == []


def test_a_wrong_secret_is_one_sentence_naming_the_cause(app, sim, simulator_server):
    client = HikCentralClient(simulator_server.url, simulator_server.app_key, "wrong-secret-0000")
    report = selftest.run_check(client, write=True)
    version = report.steps[0]
    assert (version.outcome, version.code) == (selftest.Outcome.FAILED, "64")
    assert version.meaning == (
        "HikCentral refused the portal's credentials: HIKCENTRAL_APP_KEY or "
        "HIKCENTRAL_APP_SECRET is wrong (or the partner is disabled)."
    )
    assert [s.outcome for s in report.steps[1:]] == [selftest.Outcome.SKIPPED] * 3
    assert report.verdict == selftest.Verdict.NOT_READY
    assert report.verdict_sentence == f"Not ready: {version.meaning}"
    assert sum(sim.stats()["calls"].values()) == 1  # no retries, no further steps
    client.close()


def test_a_refused_reapplication_is_a_warning_and_the_person_still_goes(app, sim, monkeypatch):
    monkeypatch.setattr(selftest.identifiers, "new_person_code", lambda *a: "GHSELFTEST")
    sim.configure(profile="strict", reapply_unknown_error=["GHSELFTEST"])
    report = selftest.run_check(client_for(app), write=True)
    reapply = next(s for s in report.steps if s.name == "reapply to devices")
    assert (reapply.outcome, reapply.code, reapply.message) == (
        selftest.Outcome.WARNING,
        "1",
        "Unknow Error(0, 3651)",
    )
    assert "after a good grant" in reapply.meaning
    assert report.verdict == selftest.Verdict.READY_WITH_WARNINGS
    assert not report.left_behind and sim.state()["persons"] == []


def test_the_cli_prints_each_step_and_the_verdict(app, sim):
    sim.configure(profile="strict")
    result = app.test_cli_runner().invoke(args=["hik", "check", "--write"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("with a test person (--write)")
    assert "code 0" in lines[1] and "Success" in lines[1]
    assert "Test person left behind: none" in result.output
    assert lines[-1].startswith("Verdict: READY WITH WARNINGS.")
    assert app.config["HIKCENTRAL_APP_SECRET"] not in result.output
    assert sim.state()["persons"] == []


def test_the_cli_exits_non_zero_when_not_ready(app, sim):
    app.config["HIKCENTRAL_APP_SECRET"] = "wrong-secret-0000"
    app.extensions.pop("hikcentral", None)
    result = app.test_cli_runner().invoke(args=["hik", "check"])
    assert result.exit_code == 1
    assert "Verdict: NOT READY. Not ready: HikCentral refused the portal's credentials" in (
        result.output
    )


def test_the_admin_button_runs_the_check(app, admin_client, sim):
    token = csrf_token(admin_client, "/admin/connection")
    page = admin_client.post(
        "/admin/connection/check", data={"csrf_token": token, "write": "y"}
    ).get_data(as_text=True)
    assert 'id="self-test-report"' in page and "delete test person" in page
    assert "Ready." in page or "Ready:" in page
    assert sim.state()["persons"] == []


def test_the_button_needs_csrf_and_an_admin(app, admin_client, host_client, sim):
    assert admin_client.post("/admin/connection/check").status_code == 400
    token = csrf_token(host_client, "/visits/new")
    assert host_client.post("/admin/connection/check", data={"csrf_token": token}).status_code in (
        403,
        404,
    )
    assert sim.stats()["calls"] == {}


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["friendly", "strict"])
def test_the_write_check_takes_under_10_s_at_50_ms_latency(redis_conn, profile):
    with SimulatorServer(latency_ms=50, profile=profile) as server:
        client = HikCentralClient(server.url, server.app_key, server.app_secret)
        started = time.monotonic()
        report = selftest.run_check(client, write=True)
        seconds = time.monotonic() - started
        assert report.verdict != selftest.Verdict.NOT_READY
        assert server.simulator.state.persons == {}
        assert seconds < 10.0, seconds
        client.close()

"""The simulator's persons survive a restart under ``make run``: saved to a file, read back."""

from datetime import UTC, datetime

from portal.hikvision.simulator import storage
from portal.hikvision.simulator.server import SimulatorServer
from tests.fixtures.simulator import SignedCaller
from tests.hikvision.test_simulator import ADD, ADD_PERSONS, add_person, jpeg, person_body


def comparable(document):
    """The state document without what may differ after a restart by design (delivery timing)."""
    persons = [{k: v for k, v in p.items() if k != "delivery"} for p in document["persons"]]
    return {**document, "persons": persons}


def test_persons_members_and_passages_come_back_after_a_restart(
    sim, sim_api, simulator_server, tmp_path
):
    person_id = add_person(sim_api, "V-1", faces=[{"faceData": jpeg()}])
    add_person(sim_api, "V-2")
    sim_api.call(ADD_PERSONS, {"privilegeGroupId": "2", "type": 1, "list": [{"id": person_id}]})
    sim.passage(
        person_code="V-1", door="1", direction="in", time=datetime(2030, 5, 1, 9, tzinfo=UTC)
    )
    path = tmp_path / "simulator-state.json"
    storage.save(simulator_server.simulator.state, path)

    with SimulatorServer(app_key="k-restarted", app_secret="restarted-secret-01") as restarted:
        assert storage.restore(restarted.simulator.state, path) == 2
        before, after = sim.state(), restarted.control().state()
        assert comparable(after) == comparable(before)
        assert after["events"] == 1
        assert [p["has_face"] for p in after["persons"]] == [True, False]
        # A person added after the restart gets an id nobody had.
        api = SignedCaller(restarted.url, "k-restarted", "restarted-secret-01")
        answer = api.call(ADD, person_body("V-3"))
        assert answer["code"] == "0"
        assert answer["data"] not in {p["person_id"] for p in before["persons"]}


def test_a_damaged_file_leaves_the_seed_site(tmp_path, caplog):
    path = tmp_path / "simulator-state.json"
    path.write_text('{"version": 1, "persons": [{"person_id": "1"}]')
    with SimulatorServer() as fresh:
        assert storage.restore(fresh.simulator.state, path) == 0
        assert fresh.control().state()["persons"] == []
    assert "not restored" in caplog.text


def test_no_file_is_a_first_run(tmp_path):
    with SimulatorServer() as fresh:
        assert storage.restore(fresh.simulator.state, tmp_path / "missing.json") == 0

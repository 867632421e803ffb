"""Syncing access levels and doors: upsert by hik_id, deactivate the ones gone."""

import pytest

from portal.hikvision import operations
from portal.hikvision.errors import UnavailableError
from portal.models import AccessLevel, Door
from portal.services import sync
from portal.services.sync import guess_direction, sync_access_levels_and_doors
from tests.fixtures.factories import make_access_level


class FakeHik:
    """Stands in for HikCentral: what list_access_levels / list_doors answer."""

    def __init__(self, monkeypatch, levels, doors):
        self.levels, self.doors = levels, doors
        monkeypatch.setattr(operations, "list_access_levels", lambda client: self.levels)
        monkeypatch.setattr(operations, "list_doors", lambda client: self.doors)


def level(hik_id, name, description=None):
    return operations.AccessLevelInfo(hik_id, name, description)


def door(hik_id, name):
    return operations.DoorInfo(hik_id, name)


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("Main lobby (in)", "entry"),
        ("Turnstile 2 (OUT)", "exit"),
        ("Entry gate", "entry"),
        ("Main Entrance", "entry"),
        ("Main entrance (out)", "exit"),
        ("Exit hall (in)", "entry"),
        ("Parking exit", "exit"),
        ("Server room", "both"),
        ("", "both"),
    ],
)
def test_guess_direction(name, direction):
    assert guess_direction(name) == direction


def test_sync_creates_updates_and_deactivates(app, db, monkeypatch):
    stale = make_access_level("Old level", hik_id="99")
    fake = FakeHik(
        monkeypatch,
        [level("1", "Visitors", "ground floor"), level("2", "Contractors")],
        [door("d1", "Lobby (in)"), door("d2", "Lobby (out)"), door("d3", "Lab")],
    )
    counts = sync_access_levels_and_doors(client=object())
    assert counts["access_levels"] == {
        "created": 2, "updated": 0, "unchanged": 0, "deactivated": 1, "active": 2,
    }  # fmt: skip
    assert counts["doors"]["created"] == 3
    db.session.refresh(stale)
    assert stale.active is False
    doors = {d.hik_id: d.direction for d in db.session.query(Door)}
    assert doors == {"d1": "entry", "d2": "exit", "d3": "both"}

    # Second run: a rename, a level gone, a door back, one unchanged.
    fake.levels = [level("1", "Guests", "ground floor"), level("99", "Old level")]
    fake.doors = [door("d1", "Lobby (in)"), door("d2", "Lobby (out)"), door("d3", "Lab")]
    counts = sync_access_levels_and_doors(client=object())
    assert counts["access_levels"] == {
        "created": 0, "updated": 2, "unchanged": 0, "deactivated": 1, "active": 2,
    }  # fmt: skip
    assert counts["doors"]["unchanged"] == 3
    by_id = {lvl.hik_id: lvl for lvl in db.session.query(AccessLevel)}
    assert by_id["1"].name == "Guests" and by_id["1"].active
    assert by_id["99"].active and not by_id["2"].active
    assert sync.synced_counts() == {"access_levels": 2, "doors": 3}


def test_sync_keeps_a_corrected_door_direction(app, db, monkeypatch):
    FakeHik(monkeypatch, [], [door("d9", "Side door")])
    sync_access_levels_and_doors(client=object())
    side = db.session.query(Door).one()
    side.direction = "entry"
    db.session.commit()
    sync_access_levels_and_doors(client=object())
    db.session.refresh(side)
    assert side.direction == "entry"


def test_a_failed_read_changes_nothing(app, db, monkeypatch):
    make_access_level("Visitors", hik_id="1")

    def down(client):
        raise UnavailableError("HikCentral did not answer")

    monkeypatch.setattr(operations, "list_access_levels", lambda client: [])
    monkeypatch.setattr(operations, "list_doors", down)
    with pytest.raises(UnavailableError):
        sync_access_levels_and_doors(client=object())
    db.session.rollback()
    assert db.session.query(AccessLevel).one().active is True


def test_sync_against_the_simulator(app, db, sim):
    from portal import hikvision

    client = hikvision.client_for(app)
    counts = sync_access_levels_and_doors(client)
    assert counts["access_levels"]["created"] == 3 and counts["doors"]["created"] == 4
    names = {d.name: d.direction for d in db.session.query(Door)}
    assert sorted(names.values()) == ["entry", "entry", "exit", "exit"]
    assert all(level.active for level in db.session.query(AccessLevel))
    again = sync_access_levels_and_doors(client)
    assert again["access_levels"]["unchanged"] == 3 and again["doors"]["unchanged"] == 4

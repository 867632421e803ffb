"""Delivery to the doors, followed by deferred batched checks (no worker sleeps)."""

from datetime import timedelta

import pytest
import responses

from portal.hikvision import client_for
from portal.hikvision.client import HikCentralClient
from portal.hikvision.operations import DELIVERY, REAPPLY
from portal.models import Visit
from portal.services import delivery, enrollment
from tests.fixtures.factories import make_guest, make_visit


@pytest.fixture
def app_config(app_config):
    return {**app_config, "DELIVERY_CHECKS": 3, "DELIVERY_CHECK_DELAYS": [3, 30, 120]}


def reload(db, visit):
    db.session.expire_all()
    return db.session.get(Visit, visit.id)


def test_checks_back_off_and_end_as_not_reported(app, db, sim, host_user, level):
    sim.configure(delivery_delay=3600.0)  # the devices never report
    visit = make_visit(host_user, level)
    enrollment.enroll_visit(visit, client_for(app))
    first = visit.delivery_due_at
    client = client_for(app)

    delivery.follow_deliveries(client, now=first)
    visit = reload(db, visit)
    assert (visit.delivery, visit.delivery_checks) == ("pending", 1)
    assert visit.delivery_due_at == first + timedelta(seconds=30)
    # Not due yet: nothing is asked.
    delivery.follow_deliveries(client, now=first + timedelta(seconds=10))
    assert sim.stats()["calls"][DELIVERY] == 1

    delivery.follow_deliveries(client, now=visit.delivery_due_at)
    visit = reload(db, visit)
    assert visit.delivery_due_at == first + timedelta(seconds=30 + 120)
    delivery.follow_deliveries(client, now=visit.delivery_due_at)
    visit = reload(db, visit)
    assert (visit.delivery, visit.delivery_checks, visit.delivery_due_at) == (
        "not_reported",
        3,
        None,
    )
    assert sim.stats()["calls"][DELIVERY] == 3  # at most DELIVERY_CHECKS per visit


def test_checks_of_many_visits_go_in_one_run(app, db, sim, host_user, level):
    sim.configure(delivery_delay=0.0)
    visits = [make_visit(host_user, level, guest=make_guest(f"Guest Check{n}")) for n in range(4)]
    enrollment.enroll_visit(visits[0], client_for(app))
    due = max(reload(db, v).delivery_due_at for v in visits)
    summary = delivery.follow_deliveries(client_for(app), now=due)
    assert summary["checks"] == {"applied": 4}
    assert sim.stats()["calls"][DELIVERY] == 4


def test_a_person_the_server_does_not_report_is_not_pending_for_ever(
    app, db, sim, host_user, level
):
    visit = make_visit(host_user, level)
    enrollment.enroll_visit(visit, client_for(app))
    # A server that has no delivery record of ordinary persons (seen live).
    sim.configure(unsupported_paths=[DELIVERY])
    delivery.follow_deliveries(client_for(app), now=visit.delivery_due_at)
    visit = reload(db, visit)
    assert (visit.delivery, visit.delivery_checks, visit.delivery_due_at) == (
        "not_reported",
        1,
        None,
    )


def test_a_failed_reapplication_leaves_the_visit_enrolled_and_is_retried(
    app, db, sim, host_user, level, impatient_client
):
    app.config["REAPPLY_RETRY_DELAYS"] = [30, 120]
    visit = make_visit(host_user, level)
    # add and grant answer, the re-application fails (as a live server did with code 1).
    sim.configure(fault_script=["none", "none", "code_5"])
    result = enrollment.enroll_visit(visit, impatient_client)

    visit = reload(db, visit)
    assert result["outcome"] == "enrolled"
    assert (visit.state, visit.delivery, visit.delivery_checks) == ("enrolled", "not_confirmed", 1)
    assert sim.person(visit.person_code)["access_levels"] == ["1"]
    retry_at = visit.delivery_due_at

    delivery.follow_deliveries(impatient_client, now=retry_at)
    visit = reload(db, visit)
    assert visit.delivery == "pending"  # re-applied; a check follows
    assert sim.stats()["calls"][REAPPLY] == 2


def test_reapplication_retries_run_out_and_leave_the_button(
    app, db, sim, host_user, level, impatient_client
):
    app.config["REAPPLY_RETRY_DELAYS"] = [30]
    visit = make_visit(host_user, level)
    sim.configure(fault_script=["none", "none", "code_5", "code_5"])
    enrollment.enroll_visit(visit, impatient_client)
    delivery.follow_deliveries(impatient_client, now=reload(db, visit).delivery_due_at)
    visit = reload(db, visit)
    assert (visit.delivery, visit.delivery_checks, visit.delivery_due_at) == (
        "not_confirmed",
        2,
        None,
    )


@responses.activate
def test_reapplications_are_sent_in_chunks_of_the_setting(app, db, host_user, level):
    app.config["REAPPLY_CHUNK_SIZE"] = 2
    url = "https://hik.example"
    responses.post(f"{url}{REAPPLY}", json={"code": "0", "msg": "Success", "data": ""})
    client = HikCentralClient(url, "12345678", "secret", max_retries=0)
    visits = [
        make_visit(host_user, level, state="enrolled", hik_person_id=str(n)) for n in range(5)
    ]
    counts = delivery.reapply(client, visits)
    assert counts == {"reapplied": 5, "not_confirmed": 0}
    sent = [call.request.body for call in responses.calls]
    assert [b'"personIds":"0,1"' in sent[0], b'"personIds":"4"' in sent[2]] == [True, True]
    assert len(sent) == 3


def test_visit_page_says_delivery_not_confirmed_with_the_reapply_button(
    app, db, host_client, host_user, level
):
    visit = make_visit(host_user, level, state="enrolled", hik_person_id="7")
    visit.delivery = "not_confirmed"
    db.session.commit()
    page = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "delivery to the doors not confirmed" in page
    assert "Deliver to the doors again" in page

    visit.delivery = "not_reported"
    db.session.commit()
    page = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "delivery not reported by HikCentral" in page

"""The job page: no empty progress bar for a job without steps, a readable result."""

from portal.services import visits as svc
from tests.fixtures.factories import make_visit


def test_job_without_steps_hides_the_bar_and_labels_its_subject(
    host_client, host_user, access_level, redis_conn
):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p1")
    record = svc.reapply(visit, by=host_user)
    html = host_client.get(f"/jobs/{record.id}").get_data(as_text=True)
    assert "data-job-progress hidden" in html
    assert f">Visit {visit.id}</a>" in html
    listing = host_client.get("/jobs").get_data(as_text=True)
    assert 'data-label="State"' in listing and "Reapply visit" in listing

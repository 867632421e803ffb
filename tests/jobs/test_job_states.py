"""Job and guest-list states: the stored words never change, and every state has its words and
its badge style on the pages that show it."""

import re
import uuid

import pytest
from rq.job import JobStatus
from sqlalchemy import text

from portal.config import ROOT
from portal.i18n import script_texts
from portal.layout import IMPORT_STATE_LABELS, JOB_STATE_LABELS, import_state_label
from portal.models import GuestImport, ImportState, JobRecord, JobState
from tests.events.imports_support import make_event

# What job_records.state and guest_imports.state hold in databases written before the enums:
# renaming a value would need a migration of the rows.
STORED_JOB_STATES = ["queued", "started", "finished", "failed"]
STORED_IMPORT_STATES = [
    "staging",
    "failed",
    "validated",
    "confirmed",
    "enrolling",
    "done",
    "expired",
]

STYLE = (ROOT / "static" / "style.css").read_text(encoding="utf-8")


def stored_state(db, table, row_id):
    """The state column as the database holds it (no enum in between)."""
    query = text(f"SELECT state FROM {table} WHERE id = :id")  # table: a name this file gives
    return db.session.execute(query, {"id": row_id}).scalar_one()


def job_in(db, state, user):
    record = JobRecord(
        rq_job_id=uuid.uuid4().hex, kind="enroll_visit", state=state.value, created_by_id=user.id
    )
    db.session.add(record)
    db.session.commit()
    return record


def test_the_values_stored_are_unchanged(app, db, admin_user, organizer_user, access_level):
    assert [state.value for state in JobState] == STORED_JOB_STATES
    assert [state.value for state in ImportState] == STORED_IMPORT_STATES
    # Job states are RQ's own words, so a record and its RQ job read alike.
    assert {state.value for state in JobState} <= {status.value for status in JobStatus}

    fresh = JobRecord(rq_job_id=uuid.uuid4().hex, kind="enroll_visit")
    event = make_event(organizer_user, access_level)
    upload = GuestImport(event=event, uploaded_by=organizer_user, filename="guests.csv")
    db.session.add_all([fresh, upload])
    db.session.commit()
    assert stored_state(db, "job_records", fresh.id) == "queued"
    assert stored_state(db, "guest_imports", upload.id) == "validated"
    for state in JobState:
        assert stored_state(db, "job_records", job_in(db, state, admin_user).id) == state.value


@pytest.mark.parametrize("state", list(JobState))
def test_every_job_state_has_its_words_and_badge_on_the_jobs_pages(
    app, db, admin_client, admin_user, state
):
    record = job_in(db, state, admin_user)
    label = str(JOB_STATE_LABELS[state])
    badge = f'<span class="badge badge-{state.value}">{label}</span>'
    listed = admin_client.get(f"/jobs?state={state.value}").get_data(as_text=True)
    assert badge in listed
    assert f'<option value="{state.value}" selected>{label}</option>' in listed
    assert badge in admin_client.get(f"/jobs/{record.id}").get_data(as_text=True)
    assert re.search(rf"\.badge-{state.value}\b[^{{]*\{{[^}}]*background", STYLE), state
    with app.test_request_context():
        assert script_texts()["states"][state.value] == label  # the live page relabels with it


@pytest.mark.parametrize("state", list(ImportState))
def test_every_import_state_has_its_words(app, state):
    assert set(IMPORT_STATE_LABELS) == set(ImportState)
    with app.test_request_context():
        assert import_state_label(state.value) == str(IMPORT_STATE_LABELS[state])
        assert import_state_label(state) == import_state_label(state.value)

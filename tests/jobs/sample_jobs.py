"""Small jobs that exercise the worker wrapper (enqueued by dotted name in the tests)."""

from jobs import current_record, job, report_progress
from portal.extensions import db
from portal.hikvision.errors import BadRequestError
from portal.models import Visit
from portal.services.jobs import JobFailure


@job
def count_to(total):
    for done in range(1, total + 1):
        report_progress(done, total, failed=1 if done > 2 else 0)
    record = current_record()
    return {"items": [{"key": "a", "ok": True, "action": "created"}], "record": record.id}


@job
def read_visit(visit_id):
    return {"state": db.session.get(Visit, visit_id).state}


@job
def crash():
    raise KeyError("secret-token-123 must not leak")


@job
def refuse():
    raise BadRequestError("personCode is too long", detail="personCode too long")


@job
def stop_with_sentence():
    raise JobFailure("The sheet has no guests.", result={"rows": 0})


@job
def no_record():
    return {"record": current_record()}

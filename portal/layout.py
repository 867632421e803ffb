"""Template helpers for the page layout: labels of states and kinds, navigation, page links."""

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l

from portal.models import ImportState, JobState, VisitState

# Visit state -> the words shown in its badge.
VISIT_STATE_LABELS = {
    VisitState.AWAITING_PHOTO: _l("Waiting for photo"),
    VisitState.PENDING: _l("Pending"),
    VisitState.ENROLLING: _l("Enrolling"),
    VisitState.ENROLLED: _l("Enrolled"),
    VisitState.ON_SITE: _l("On site"),
    VisitState.LEFT: _l("Left"),
    VisitState.CANCELLED: _l("Cancelled"),
    VisitState.EXPIRED: _l("Expired"),
    VisitState.FAILED: _l("Failed"),
}

# Job state -> the words in its badge; job badges share the visit badges' styles (style.css),
# and job-progress.js relabels them from script_texts().
JOB_STATE_LABELS = {
    JobState.QUEUED: _l("Queued"),
    JobState.STARTED: _l("Running"),
    JobState.FINISHED: _l("Finished"),
    JobState.FAILED: _l("Failed"),
}

STATE_LABELS = {**VISIT_STATE_LABELS, **JOB_STATE_LABELS}

# A job's kind -> what it does.
JOB_KIND_LABELS = {
    "enroll_visit": _l("Enroll visit"),
    "update_validity": _l("Update validity"),
    "revoke_visit": _l("Revoke visit"),
    "reapply_visit": _l("Reapply visit"),
    "enroll_import": _l("Enroll import"),
    "stage_import": _l("Check guest sheet"),
    "monitor_passages": _l("Monitor passages"),
    "expire_visits": _l("Expire visits"),
    "purge_personal_data": _l("Purge personal data"),
}

# A passage's direction and result.
DIRECTION_LABELS = {"in": _l("In"), "out": _l("Out"), "unknown": _l("Unknown")}
KIND_LABELS = {"granted": _l("Granted"), "refused": _l("Refused")}

# What a job is about.
SUBJECT_LABELS = {"visit": _l("Visit"), "import": _l("Guest list"), "event": _l("Event")}

# Keys and words of a job's result (its details page).
RESULT_LABELS = {
    "visit": _l("visit"),
    "outcome": _l("outcome"),
    "state": _l("state"),
    "person": _l("person"),
    "hik_person_id": _l("HikCentral person id"),
    "delivery": _l("delivery"),
    "attempts": _l("attempts"),
    "value": _l("value"),
    "import": _l("guest list"),
    "rows_total": _l("rows read"),
    "rows_valid": _l("valid guests"),
    "rows_invalid": _l("rows with errors"),
    "total": _l("total"),
    "done": _l("done"),
    "enrolled_now": _l("enrolled now"),
    "failed": _l("failed"),
    "failed_now": _l("failed now"),
    "enrolled": _l("enrolled"),
    "unchanged": _l("unchanged"),
    "skipped": _l("skipped"),
    "expired": _l("expired"),
    "revoked": _l("revoked"),
    "revoked_after_change": _l("revoked after a change"),
    "nothing_to_revoke": _l("nothing to revoke"),
    "reapplied": _l("delivered again"),
    "updated": _l("updated"),
    "created": _l("created"),
    "found": _l("found"),
    "applied": _l("applied"),
    "pending": _l("pending"),
    "deleted": _l("deleted"),
    "granted": _l("granted"),
}

# Guest list (GuestImport) state -> its words.
IMPORT_STATE_LABELS = {
    ImportState.STAGING: _l("Checking the sheet"),
    ImportState.FAILED: _l("Failed"),
    ImportState.VALIDATED: _l("Checked, waiting for import"),
    ImportState.CONFIRMED: _l("Confirmed"),
    ImportState.ENROLLING: _l("Enrolling"),
    ImportState.DONE: _l("Done"),
    ImportState.EXPIRED: _l("Expired"),
}

ROLE_LABELS = {
    "host": _l("Host"),
    "organizer": _l("Organizer"),
    "security": _l("Security"),
    "admin": _l("Admin"),
}


def has_blueprint(name):
    """Whether the app registered blueprint ``name`` (some exist only in development)."""
    return name in current_app.blueprints


def nav_active(url):
    """Whether ``url`` is the current page or a page under it."""
    if not url:
        return False
    path = request.path
    return path == url or (url != "/" and path.startswith(url.rstrip("/") + "/"))


def page_url(number, param="page"):
    """The current page's URL with ``param`` set to ``number`` (other query args kept)."""
    args = request.args.to_dict()
    args[param] = number
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def state_label(state):
    """A human label for a visit or job state."""
    state = str(state or "")
    return str(STATE_LABELS.get(state, state.replace("_", " ").capitalize()))


def job_kind_label(kind):
    """What a job does, in the viewer's language."""
    kind = str(kind or "")
    return str(JOB_KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()))


def subject_label(subject_type):
    subject_type = str(subject_type or "")
    return str(SUBJECT_LABELS.get(subject_type, subject_type.capitalize()))


def result_label(word):
    """A key or word of a job's result in the viewer's language (others as they are)."""
    word = str(word or "")
    return str(RESULT_LABELS.get(word, word.replace("_", " ")))


def direction_label(direction):
    return str(DIRECTION_LABELS.get(direction or "unknown", DIRECTION_LABELS["unknown"]))


def import_state_label(state):
    """A guest list's state in the viewer's language."""
    state = str(state or "")
    return str(IMPORT_STATE_LABELS.get(state, state.replace("_", " ").capitalize()))


# A role inside a sentence ("... was added as organizer").
ROLE_WORDS = {
    "host": _l("host"),
    "organizer": _l("organizer"),
    "security": _l("security"),
    "admin": _l("admin"),
}


def role_word(role):
    role = str(role or "")
    return str(ROLE_WORDS.get(role, role))


def role_label(role):
    """A role's name in the viewer's language."""
    role = str(role or "")
    return str(ROLE_LABELS.get(role, role.capitalize()))


def register(app):
    app.add_template_global(has_blueprint)
    app.add_template_global(nav_active)
    app.add_template_global(page_url)
    # Templates compare states to these, never to literals.
    for states in (VisitState, JobState, ImportState):
        app.add_template_global(states, states.__name__)
    app.add_template_filter(state_label, "state_label")
    app.add_template_filter(role_label, "role_label")
    app.add_template_filter(import_state_label, "import_state_label")
    app.add_template_filter(job_kind_label, "job_kind_label")
    app.add_template_filter(direction_label, "direction_label")
    app.add_template_filter(subject_label, "subject_label")
    app.add_template_filter(result_label, "result_label")

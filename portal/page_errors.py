"""How pages show a service's refusal: sentences beside their fields, the rest as a flash.

The HTML twin of the API's ``service_errors()`` (portal/api/views.py); the error idiom is in
docs/architecture.md (§2, "Views").
"""

from contextlib import contextmanager

from flask import flash

from portal.extensions import db
from portal.i18n import shown
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services.errors import FieldErrors, ServiceError


class Refusal:
    """What ``service_errors`` caught: ``error`` (a ServiceError or QueueUnavailable) or None."""

    def __init__(self):
        self.error = None
        self.on_form = False  # some sentence stands beside a field: show the form again


def show_errors(form, fields):
    """Put each sentence beside its field; flash those whose field the form lacks.

    A field that already shows its own error (a date that did not parse) keeps it alone: the
    service's sentence about the same field would only repeat it less precisely.
    """
    placed = False
    for name, message in fields.items():
        field = form[name] if form is not None and name in form else None
        if field is None:
            flash(message, "error")
            continue
        if not field.errors:
            field.errors = [message]
        placed = True
    return placed


@contextmanager
def service_errors(form=None, *, queue_down=QUEUE_DOWN_MESSAGE, queue_category="error"):
    """Show a ServiceError (or FieldErrors) raised inside, or the queue being down; yield a Refusal.

    ``queue_down`` is flashed when the job queue cannot be reached; when the change was saved all
    the same, say so (``saved_but_queue_down``) and make it a warning: that is not a refusal.
    """
    refusal = Refusal()
    try:
        yield refusal
    except ServiceError as error:
        refusal.error = error
        db.session.rollback()  # a refused action leaves nothing half-written for the page
        fields = error.fields if isinstance(error, FieldErrors) else {}
        refusal.on_form = show_errors(form, fields)
        if not fields:
            flash(error.message, "error")
    except QueueUnavailable as error:
        refusal.error = error
        flash(queue_down, queue_category)


def saved_but_queue_down(sentence):
    """``sentence`` (what was saved all the same) followed by why nothing follows yet."""
    return f"{sentence} {shown(QUEUE_DOWN_MESSAGE)}"

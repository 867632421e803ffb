"""The development-only Mailbox: what the local SMTP sink of `make run` received.

Registered only when GATEHOUSE_ENV is development and MAILBOX_DIR is set; admins only.
"""

from flask import Blueprint, current_app, render_template

from portal.auth.roles import role_required
from portal.mailsink import read_mailbox
from portal.models import Role

bp = Blueprint("devmail", __name__)


def _summary(message):
    text = message.get_body(("plain",))
    return {
        "to": message["To"],
        "subject": message["Subject"],
        "date": message["Date"],
        "text": text.get_content() if text is not None else "",
    }


@bp.get("/dev/mailbox")
@role_required(Role.ADMIN)
def mailbox():
    messages = [_summary(m) for m in read_mailbox(current_app.config["MAILBOX_DIR"])]
    return render_template("devmail/mailbox.html", messages=messages)

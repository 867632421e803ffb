"""Outgoing e-mail over SMTP. Messages are sent only from background jobs (jobs/mail.py), never
inside a request; each has a subject, a plain-text and an HTML part rendered from templates/mail/
in the recipient's language (``language`` of ``render_mail``).

A refusal that a later try cannot change (a refused address) is permanent; a server that is
down or busy is transient, and the job is retried.
"""

import logging
import smtplib
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app, render_template

from portal.i18n import N_, in_language
from portal.services.jobs import JobFailure

log = logging.getLogger(__name__)

NOT_CONFIGURED = N_("E-mail is not set up on this portal: an administrator must set MAIL_SERVER.")
SERVER_DOWN = N_("The mail server could not be reached.")
ADDRESS_REFUSED = N_("The mail server refused the address %(address)s.")
SERVER_REFUSED = N_("The mail server refused the message.")


class MailError(JobFailure):
    """A message that could not be sent; ``transient`` says whether to try again later."""

    def __init__(self, message, *, transient=False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


def mail_configured(config=None):
    """Whether this portal can send e-mail (MAIL_SERVER is set)."""
    config = config if config is not None else current_app.config
    return bool(config.get("MAIL_SERVER"))


def one_line(value):
    """A header-safe text: line breaks and control characters become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())


def render_mail(template, *, to, language, **context):
    """A Mail from templates/mail/<template>.subject.txt, .txt and .html, in ``language``.

    ``language`` is the recipient's (None: DEFAULT_LANGUAGE); dates come out in the site's zone.
    The HTML is autoescaped.
    """
    with in_language(language):
        return Mail(
            to=to,
            subject=one_line(render_template(f"mail/{template}.subject.txt", **context)),
            text=render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
        )


def build_message(mail, config):
    """The MIME message: multipart/alternative with the text part first, then the HTML."""
    message = EmailMessage()
    message["From"] = formataddr(
        (one_line(config.get("MAIL_FROM_NAME") or "Gatehouse"), config["MAIL_FROM"])
    )
    message["To"] = one_line(mail.to)
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def send(mail, config=None, *, connection=None):
    """Send one message (over ``connection`` when given, else a new one); raises MailError."""
    config = config if config is not None else current_app.config
    if not mail_configured(config):
        raise MailError(NOT_CONFIGURED)
    message = build_message(mail, config)
    with _smtp_errors(mail.to):
        if connection is not None:
            connection.send_message(message)
            return
        with _connect(config) as smtp:
            smtp.send_message(message)


@contextmanager
def connection(config=None):
    """One SMTP session for a batch of messages; raises MailError when it cannot be opened."""
    config = config if config is not None else current_app.config
    if not mail_configured(config):
        raise MailError(NOT_CONFIGURED)
    with _smtp_errors(None):
        smtp = _connect(config)
    try:
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


@contextmanager
def _smtp_errors(address):
    """Turn smtplib's errors into MailError: permanent for a refusal, transient otherwise."""
    try:
        yield
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(ADDRESS_REFUSED % {"address": one_line(address)}) from exc
    except smtplib.SMTPResponseException as exc:
        # 4xx: the server is busy or greylisting; 5xx: it will not take this message.
        log.warning("SMTP answered %s", exc.smtp_code)
        raise MailError(SERVER_REFUSED, transient=400 <= exc.smtp_code < 500) from exc
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("SMTP server unreachable: %s", type(exc).__name__)
        raise MailError(SERVER_DOWN, transient=True) from exc


def _connect(config):
    smtp = smtplib.SMTP(
        config["MAIL_SERVER"],
        int(config.get("MAIL_PORT") or 25),
        timeout=config["MAIL_TIMEOUT"],
    )
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp

"""A local SMTP server that keeps what it receives: the development sink of `make run` (shown
on the Mailbox page) and the real SMTP server of the tests and of `bench invitations`."""

import email
import logging
import socket
import threading
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller

# aiosmtpd logs every connection at INFO; the sink's own record is the messages it keeps.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class MailSink:
    """An aiosmtpd handler: keeps every message (and writes it to ``folder`` when given);
    refuses the addresses in ``refused`` as a real server refuses an unknown mailbox."""

    def __init__(self, folder=None):
        self.folder = Path(folder) if folder else None
        self.refused = set()
        self.messages = []
        self._lock = threading.Lock()
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            number = len(self.messages)
        if self.folder:
            (self.folder / f"{number:06d}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"

    def clear(self):
        """Forget the messages kept so far."""
        with self._lock:
            self.messages.clear()


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_sink(folder=None, host="127.0.0.1", port=None):
    """Start a MailSink on ``host``:``port`` (a free one by default); returns the Controller."""
    controller = Controller(MailSink(folder), hostname=host, port=port or free_port(host))
    controller.start()
    return controller


def read_mailbox(folder, limit=50):
    """The newest messages the sink wrote to ``folder``, newest first (for the Mailbox page)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), reverse=True)[:limit]
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]

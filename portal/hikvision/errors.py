"""Typed errors for everything that can go wrong talking to HikCentral.

``transient`` errors are worth retrying; the others are permanent. ``ambiguous`` marks a failure
after which the server may or may not have carried the request out (a create must then look
before it repeats). Messages never carry credentials.
"""

import re

# The detail is the outermost trailing bracket; it may hold brackets itself ("faces[0]...").
_BRACKETED = re.compile(r"\[(.*)\]\s*$", re.DOTALL)


class HikvisionError(Exception):
    """Base class: a HikCentral call failed."""

    transient = False

    def __init__(
        self, message, *, code=None, path=None, ambiguous=False, server_message=None, detail=None
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path
        self.ambiguous = ambiguous
        # The server's own msg (secret scrubbed), for the administrator's self-test report.
        self.server_message = server_message
        # The bracketed reason of that msg ("[personCode parameter error]"), if any.
        self.detail = detail if detail is not None else bracketed(server_message)

    def said(self):
        """The detail and the message in lower case, to look for what the server objected to."""
        # The whole message too: a detail cut at nested brackets ("faces[0]...") says too little.
        return " ".join(part for part in (self.detail, self.message) if part).lower()

    def __str__(self):
        where = f" ({self.path})" if self.path else ""
        code = f" [code {self.code}]" if self.code not in (None, "") else ""
        return f"{self.message}{code}{where}"


class AuthenticationError(HikvisionError):
    """Bad key or secret, signature refused, or the partner lacks permission (64, 17, 401/403)."""


class NotFoundError(HikvisionError):
    """The resource does not exist (code 128)."""


class UnsupportedError(HikvisionError):
    """This HikCentral version does not implement the call (code 8)."""


class BadRequestError(HikvisionError):
    """A parameter was refused (code 2); ``detail`` is the bracketed reason, if any."""


class ProtocolError(HikvisionError):
    """The server answered something that is not a HikCentral envelope."""


class TlsError(ProtocolError):
    """The TLS handshake failed: an untrusted certificate, or one that does not match the pin."""


class RateLimitedError(HikvisionError):
    """HTTP 429 or the gateway's frequency-limit codes; ``retry_after`` in seconds when known."""

    transient = True

    def __init__(self, message, *, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnavailableError(HikvisionError):
    """Timeouts, refused or dropped connections, HTTP 5xx, code 5."""

    transient = True


class RateLimitTimeout(HikvisionError):
    """No rate-limit slot became free within the allowed wait."""

    transient = True


def bracketed(server_message):
    """The bracketed detail at the end of a server message, or None."""
    found = _BRACKETED.search(server_message or "")
    return found.group(1).strip() if found else None

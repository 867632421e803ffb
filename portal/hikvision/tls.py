"""TLS to HikCentral without turning verification off: a CA bundle, or a pinned certificate.

HikCentral servers ship self-signed certificates. Rather than ``verify=False``, an administrator
gives the CA that signed the certificate (``HIKCENTRAL_CA_BUNDLE``) or the SHA-256 fingerprint
of the certificate itself (``HIKCENTRAL_TLS_FINGERPRINT``). With a pin, urllib3 compares the
fingerprint during the handshake, before any request byte is sent, so a mismatch sends nothing.
"""

import hashlib
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from requests.adapters import HTTPAdapter

from portal.i18n import N_

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# OpenSSL's verify codes for a certificate that signs itself (alone, or at the top of a chain).
SELF_SIGNED_CODES = {18, 19}
PIN_MISMATCH_TEXT = "fingerprints did not match"


class TlsSettingError(ValueError):
    """A TLS setting that cannot be used."""


def normalize_fingerprint(value):
    """The pin as 64 lower-case hex digits (colons, spaces and a ``sha256:`` prefix allowed)."""
    text = (value or "").strip().lower()
    text = text.removeprefix("sha256:").removeprefix("sha256=")
    text = re.sub(r"[\s:]", "", text)
    if not _HEX64.match(text):
        raise TlsSettingError(
            "HIKCENTRAL_TLS_FINGERPRINT must be the certificate's SHA-256 fingerprint "
            "(64 hex digits, colons allowed)"
        )
    return text


def fingerprint_of(der):
    """SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class PinnedAdapter(HTTPAdapter):
    """An adapter whose connections must present the certificate with the pinned fingerprint."""

    def __init__(self, fingerprint, **kwargs):
        self.fingerprint = normalize_fingerprint(fingerprint)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["assert_fingerprint"] = self.fingerprint
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def session_verify(verify_tls, ca_bundle, fingerprint):
    """What ``requests`` gets as ``verify``: a pin checks the certificate itself instead."""
    if fingerprint:
        return False  # the chain of a self-signed certificate cannot verify; the pin does
    if ca_bundle:
        return ca_bundle
    return bool(verify_tls)


def is_pin_mismatch(exc):
    """Whether a requests/urllib3 SSL error is the pinned fingerprint not matching."""
    return PIN_MISMATCH_TEXT in str(exc).lower()


@dataclass(frozen=True)
class CertificateReport:
    """What the admin page shows about HikCentral's certificate and the handshake."""

    subject: str | None = None
    issuer: str | None = None
    not_after: datetime | None = None
    fingerprint: str | None = None
    self_signed: bool = False
    verified: bool = False
    pinned: bool = False
    pin_matches: bool | None = None
    problem: str | None = None

    @property
    def expired(self):
        return self.not_after is not None and self.not_after <= datetime.now(UTC)


def _peer_certificate(host, port, timeout):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def _verify_handshake(host, port, timeout, ca_bundle):
    context = ssl.create_default_context(cafile=ca_bundle or None)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host):
            return None


def _verify_problem(error):
    if getattr(error, "verify_code", None) in SELF_SIGNED_CODES:
        return N_(
            "HikCentral's certificate is self-signed, so it cannot be verified: set "
            "HIKCENTRAL_TLS_FINGERPRINT to the fingerprint shown here (after comparing it with "
            "the one on the server), or HIKCENTRAL_CA_BUNDLE to the CA that signed it."
        )
    if getattr(error, "verify_code", None) == 10:
        return N_("HikCentral's certificate has expired: renew it on the server.")
    if "hostname" in str(getattr(error, "verify_message", "")).lower():
        return N_(
            "HikCentral's certificate is for another host name than the one in HIKCENTRAL_URL."
        )
    return N_(
        "HikCentral's certificate is not trusted: it was not signed by a CA this machine "
        "(or HIKCENTRAL_CA_BUNDLE) trusts."
    )


def describe_certificate(url, *, ca_bundle=None, fingerprint=None, timeout=5.0):
    """Subject, expiry and fingerprint of the server's certificate, and whether we trust it."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return CertificateReport(
            problem=N_("HIKCENTRAL_URL uses plain HTTP: nothing is encrypted.")
        )
    host, port = parts.hostname, parts.port or 443
    try:
        der = _peer_certificate(host, port, timeout)
    except (OSError, ssl.SSLError) as error:
        return CertificateReport(
            problem=N_("No TLS handshake with HikCentral was possible (%(error)s).")
            % {"error": type(error).__name__}
        )
    cert = x509.load_der_x509_certificate(der)
    report = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc,
        "fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "self_signed": cert.issuer == cert.subject,
    }
    if fingerprint:
        matches = normalize_fingerprint(fingerprint) == hashlib.sha256(der).hexdigest()
        problem = (
            None
            if matches
            else N_(
                "The server's certificate does not match HIKCENTRAL_TLS_FINGERPRINT: the portal "
                "sends nothing to it. Compare the fingerprint shown here with the server's."
            )
        )
        return CertificateReport(
            **report, pinned=True, pin_matches=matches, verified=matches, problem=problem
        )
    try:
        _verify_handshake(host, port, timeout, ca_bundle)
    except ssl.SSLCertVerificationError as error:
        return CertificateReport(**report, problem=_verify_problem(error))
    except (OSError, ssl.SSLError) as error:
        return CertificateReport(
            **report,
            problem=N_("The verified handshake failed (%(error)s).")
            % {"error": type(error).__name__},
        )
    return CertificateReport(**report, verified=True)

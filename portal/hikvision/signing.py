"""HikCentral OpenAPI ("Artemis") request signing and its verifier.

The string to sign is the method, then Accept, Content-MD5, Content-Type and Date (each only when
sent), then one ``name:value`` line per signed custom header (sorted), then the path with its
sorted query. It is signed with HMAC-SHA256 under the app secret and sent Base64-encoded in
``X-Ca-Signature``.
"""

import base64
import hashlib
import hmac
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

STANDARD_HEADERS = ("accept", "content-md5", "content-type", "date")
# Headers that are never part of the signed custom-header lines.
UNSIGNABLE = {
    "x-ca-signature",
    "x-ca-signature-headers",
    "accept",
    "content-md5",
    "content-type",
    "date",
    "content-length",
    "host",
    "connection",
    "user-agent",
    "accept-encoding",
}
# Our client always signs these three.
CLIENT_SIGNED = ("x-ca-key", "x-ca-nonce", "x-ca-timestamp")


class SignatureError(Exception):
    """A request's signature, key, body checksum or timestamp was refused."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def content_md5(body):
    """Base64 of the MD5 of the raw body bytes, as sent in ``Content-MD5``."""
    return base64.b64encode(hashlib.md5(body or b"").digest()).decode("ascii")


def canonical_path(path):
    """The path with its query parameters sorted by key (a key without value has no ``=``)."""
    parts = urlsplit(path)
    if not parts.query:
        return parts.path
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{k}={v}" if v != "" else k for k, v in pairs)
    return f"{parts.path}?{query}"


def string_to_sign(method, path, headers, signed_headers):
    """Build the exact text that is signed; ``headers`` maps names (any case) to values."""
    lowered = {name.lower(): value for name, value in headers.items()}
    lines = [method.upper()]
    lines += [lowered[name] for name in STANDARD_HEADERS if name in lowered]
    custom = "".join(
        f"{name}:{str(lowered.get(name, '')).strip()}\n" for name in sorted(signed_headers)
    )
    return "\n".join(lines) + "\n" + custom + canonical_path(path)


def compute_signature(secret, text):
    """Base64 HMAC-SHA256 of ``text`` under ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_headers(
    method, path, body, app_key, app_secret, *, accept, content_type, now=None, nonce=None
):
    """Return every header a signed request carries: key, nonce, timestamp, MD5 and signature."""
    timestamp = str(int((time.time() if now is None else now) * 1000))
    headers = {
        "Accept": accept,
        "Content-MD5": content_md5(body),
        "Content-Type": content_type,
        "x-ca-key": app_key,
        "x-ca-nonce": nonce or str(uuid.uuid4()),
        "x-ca-timestamp": timestamp,
    }
    headers["x-ca-signature-headers"] = ",".join(CLIENT_SIGNED)
    text = string_to_sign(method, path, headers, CLIENT_SIGNED)
    headers["x-ca-signature"] = compute_signature(app_secret, text)
    return headers


class SignatureVerifier:
    """Checks signed requests the way the Artemis gateway does (used by the simulator)."""

    def __init__(self, credentials, max_skew_seconds=900.0, clock=time.time):
        self.credentials = dict(credentials)  # app key -> app secret
        self.max_skew_seconds = max_skew_seconds
        self.clock = clock

    def verify(self, method, path, headers, body):
        """Raise ``SignatureError`` unless the request is signed correctly; return the app key."""
        lowered = {name.lower(): value for name, value in headers.items()}
        key = lowered.get("x-ca-key")
        if not key:
            raise SignatureError("AppKey is empty")
        secret = self.credentials.get(key)
        if secret is None:
            raise SignatureError("no partner for this AppKey")
        signature = lowered.get("x-ca-signature")
        if not signature:
            raise SignatureError("signature is empty")
        if "content-md5" in lowered and lowered["content-md5"] != content_md5(body):
            raise SignatureError("body does not match Content-MD5")
        self._check_timestamp(lowered.get("x-ca-timestamp"))
        signed = [
            name.strip().lower()
            for name in lowered.get("x-ca-signature-headers", "").split(",")
            if name.strip()
        ]
        if any(name in UNSIGNABLE for name in signed):
            raise SignatureError("a standard header is listed as signed")
        expected = compute_signature(secret, string_to_sign(method, path, lowered, signed))
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("signature incorrect")
        return key

    def _check_timestamp(self, timestamp):
        if timestamp is None:
            return  # optional: anti-replay only when sent
        try:
            sent = int(timestamp) / 1000.0
        except ValueError:
            raise SignatureError("timestamp is not a number") from None
        if abs(self.clock() - sent) > self.max_skew_seconds:
            raise SignatureError("timestamp outside the allowed clock skew")

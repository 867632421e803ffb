"""TLS to HikCentral without turning verification off: a CA bundle or a pinned certificate."""

import datetime as dt
import hashlib
import ipaddress
import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal.config import ConfigError, check, from_environment
from portal.hikvision import operations as ops
from portal.hikvision import tls
from portal.hikvision.client import HikCentralClient
from portal.hikvision.errors import TlsError
from portal.hikvision.simulator.server import SimulatorServer

KEY, SECRET = "12345678", "tls-test-secret-0001"


def self_signed(tmp_path):
    """A self-signed certificate for 127.0.0.1 as HikCentral ships one; (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hcp.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "hcp.pem", tmp_path / "hcp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def self_signed_server(tmp_path_factory):
    cert_path, key_path, digest = self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = SimulatorServer(app_key=KEY, app_secret=SECRET, ssl_context=context).start()
    server.fingerprint = digest.hexdigest()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca_signed_server(tmp_path_factory):
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = SimulatorServer(app_key=KEY, app_secret=SECRET, ssl_context=context).start()
    server.bundle = str(bundle)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_stats(self_signed_server, ca_signed_server):
    for server in (self_signed_server, ca_signed_server):
        server.simulator.reset()


def client_of(server, **options):
    return HikCentralClient(server.url, KEY, SECRET, max_retries=0, **options)


def calls(server):
    return server.simulator.knobs.stats_json()["calls"]


def test_a_pinned_certificate_is_trusted_without_a_ca(self_signed_server):
    pin = ":".join(self_signed_server.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    client = client_of(self_signed_server, tls_fingerprint=pin)
    assert ops.version(client)["product"]
    client.close()


def test_a_pin_that_does_not_match_is_refused_and_nothing_is_sent(self_signed_server):
    client = client_of(self_signed_server, tls_fingerprint="ab" * 32)
    with pytest.raises(TlsError, match="does not match HIKCENTRAL_TLS_FINGERPRINT"):
        ops.version(client)
    assert calls(self_signed_server) == {}  # refused in the handshake, before any request
    client.close()


def test_a_self_signed_certificate_is_refused_with_the_settings_to_use(self_signed_server):
    client = client_of(self_signed_server)
    with pytest.raises(TlsError) as refused:
        ops.version(client)
    assert "HIKCENTRAL_TLS_FINGERPRINT" in str(refused.value)
    assert calls(self_signed_server) == {}
    client.close()


def test_a_ca_bundle_verifies_the_server(ca_signed_server):
    client = client_of(ca_signed_server, ca_bundle=ca_signed_server.bundle)
    assert ops.version(client)["product"]
    assert calls(ca_signed_server) == {"/artemis/api/common/v1/version": 1}
    client.close()


def test_the_certificate_report_of_a_self_signed_server(self_signed_server):
    report = tls.describe_certificate(self_signed_server.url)
    assert report.subject == "CN=hcp.local" and report.self_signed
    assert report.fingerprint.replace(":", "").lower() == self_signed_server.fingerprint
    assert report.not_after > dt.datetime.now(dt.UTC) and not report.verified
    assert "self-signed" in report.problem and "HIKCENTRAL_TLS_FINGERPRINT" in report.problem


def test_the_certificate_report_with_a_pin(self_signed_server):
    good = tls.describe_certificate(
        self_signed_server.url, fingerprint=self_signed_server.fingerprint
    )
    assert good.verified and good.pinned and good.problem is None
    bad = tls.describe_certificate(self_signed_server.url, fingerprint="cd" * 32)
    assert not bad.verified and "does not match" in bad.problem


def test_the_certificate_report_with_a_ca_bundle(ca_signed_server):
    report = tls.describe_certificate(ca_signed_server.url, ca_bundle=ca_signed_server.bundle)
    assert report.verified and not report.self_signed and report.problem is None


def test_plain_http_is_said_to_be_unencrypted():
    assert "plain HTTP" in tls.describe_certificate("http://127.0.0.1:1").problem


@pytest.mark.parametrize(
    "pin", ["sha256:" + "AB" * 32, ":".join(["ab"] * 32), " " + "ab" * 32 + " "]
)
def test_fingerprints_are_read_in_the_usual_spellings(pin):
    assert tls.normalize_fingerprint(pin) == "ab" * 32


def test_settings_that_cannot_work_refuse_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEHOUSE_ENV", "testing")
    monkeypatch.setenv("HIKCENTRAL_TLS_FINGERPRINT", "not-a-fingerprint")
    with pytest.raises(ConfigError, match="SHA-256"):
        check(from_environment())
    monkeypatch.delenv("HIKCENTRAL_TLS_FINGERPRINT")
    monkeypatch.setenv("HIKCENTRAL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="HIKCENTRAL_CA_BUNDLE"):
        check(from_environment())
    monkeypatch.delenv("HIKCENTRAL_CA_BUNDLE")
    monkeypatch.setenv("HIKCENTRAL_PERSON_CODE_PREFIX", "G-")
    with pytest.raises(ConfigError, match="A-Z and 0-9"):
        check(from_environment())


def test_the_admin_page_shows_the_certificate_and_the_self_signed_sentence(
    app, admin_client, self_signed_server
):
    app.config["HIKCENTRAL_URL"] = self_signed_server.url
    app.extensions.pop("hikcentral", None)
    html = admin_client.get("/admin/connection").get_data(as_text=True)
    assert "CN=hcp.local" in html and "Self-signed" in html
    pin = self_signed_server.fingerprint.upper()
    assert ":".join(pin[i : i + 2] for i in range(0, 64, 2)) in html
    assert "is self-signed, so it cannot be verified" in html

"""What the administrator's connection page and ``hik check`` ask about HikCentral."""

from sqlalchemy import select

from portal.extensions import db
from portal.hikvision import selftest, tls
from portal.models import LIVE_STATES, Visit, VisitState

# A guest who went out keeps access until the window ends, so a wrong window still matters.
WINDOW_STATES = [*LIVE_STATES, VisitState.LEFT]

MAX_LISTED = 50


def windows_not_applied(limit=MAX_LISTED):
    """Live visits whose window HikCentral did not take (newest first)."""
    return db.session.scalars(
        select(Visit)
        .where(Visit.window_not_applied.is_(True), Visit.state.in_(WINDOW_STATES))
        .order_by(Visit.id.desc())
        .limit(limit)
    ).all()


def self_test(client, config, *, write=False):
    """Run the connection self-test with the site's settings; returns the Report."""
    return selftest.run_check(
        client,
        write=write,
        org_code=config.get("HIKCENTRAL_ORG_CODE", "1"),
        code_prefix=config.get("HIKCENTRAL_PERSON_CODE_PREFIX", "GH"),
        code_length=config.get("HIKCENTRAL_PERSON_CODE_LENGTH", 10),
    )


def certificate(config):
    """The server certificate's subject, expiry and fingerprint, and whether it is trusted."""
    return tls.describe_certificate(
        config["HIKCENTRAL_URL"],
        ca_bundle=config.get("HIKCENTRAL_CA_BUNDLE"),
        fingerprint=config.get("HIKCENTRAL_TLS_FINGERPRINT"),
        timeout=3.0,
    )

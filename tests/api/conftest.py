"""API test helpers: Bearer headers for users and a client without any session."""

import pytest

from portal.extensions import db


def bearer(user):
    """Authorization headers carrying a fresh API token of ``user``."""
    token = user.rotate_api_token()
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(app):
    """A test client that is logged in to nothing: only its headers authenticate."""
    return app.test_client()


@pytest.fixture
def host_headers(host_user):
    return bearer(host_user)


@pytest.fixture
def security_headers(security_user):
    return bearer(security_user)


@pytest.fixture
def admin_headers(admin_user):
    return bearer(admin_user)

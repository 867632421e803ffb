"""Security headers on every answer, no inline script or style, cookie flags, proxy, secret key."""

import re

import pytest

from portal import create_app
from portal.config import ConfigError
from tests.fixtures.app import csrf_token

TEMPLATES = __import__("pathlib").Path(__file__).resolve().parents[2] / "templates"
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<[^>]*\sstyle\s*=|<style\b", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("url", ["/login", "/visits", "/jobs", "/api/v1/visits", "/healthz"])
def test_every_answer_carries_the_security_headers(host_client, url):
    response = host_client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    # Plain HTTP in tests: no HSTS (it would pin a site that has no certificate).
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_only_over_https(anon_client):
    response = anon_client.get("/login", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_error_pages_carry_the_headers_too(host_client):
    response = host_client.get("/visits/999999")
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: path.name)
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    assert not INLINE_HANDLER.search(text), "inline event handler"
    assert not INLINE_STYLE.search(text), "inline style"
    assert not INLINE_SCRIPT.search(text), "inline script"


def test_rendered_jobs_page_has_no_inline_code(host_client):
    page = host_client.get("/jobs").get_data(as_text=True)
    assert "onchange" not in page
    assert "data-autosubmit" in page
    assert not INLINE_STYLE.search(page)


def production_config(app_config, **overrides):
    config = dict(app_config, GATEHOUSE_ENV="production", TESTING=False)
    config["SECRET_KEY"] = "k" * 40
    return config | overrides


def test_session_cookie_is_secure_in_production(app_config, monkeypatch):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    app = create_app(production_config(app_config))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_an_operator_may_turn_secure_cookies_off(app_config, monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    app = create_app(production_config(app_config))
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_cookies_are_not_secure_in_tests(app):
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_secure_session_cookie_is_sent_with_the_flag(app_config, monkeypatch):
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    app = create_app(production_config(app_config))
    response = app.test_client().get("/login", base_url="https://portal.example")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_short_secret_key_is_refused_in_production(app_config):
    with pytest.raises(ConfigError, match="at least 32 characters"):
        create_app(production_config(app_config, SECRET_KEY="short-but-set"))


def test_forwarded_proto_is_ignored_without_proxy_fix(anon_client):
    response = anon_client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_forwarded_proto_is_believed_behind_a_configured_proxy(app_config):
    app = create_app(dict(app_config, PROXY_FIX=True))
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_csrf_token_changes_at_log_in(anon_client, host_user):
    before = csrf_token(anon_client, "/login")
    response = anon_client.post(
        "/login",
        data={"email": host_user.email, "password": "correct horse battery", "csrf_token": before},
    )
    assert response.status_code == 302
    # The token seen before log-in (perhaps planted by someone else) no longer works.
    assert anon_client.post("/logout", data={"csrf_token": before}).status_code == 400
    after = csrf_token(anon_client, "/profile")
    assert after != before
    assert anon_client.post("/logout", data={"csrf_token": after}).status_code == 302

"""Gatehouse: the application factory, built from small named steps."""

import logging
from zoneinfo import ZoneInfo

import redis
from flask import Flask, request

from portal import config as settings
from portal.config import ROOT

# Libraries that log routine set-up at INFO on every command.
QUIET_LOGGERS = ("alembic.runtime.plugins",)

# Endpoints that take guest sheets with photo archives: MAX_IMPORT_UPLOAD instead of
# MAX_CONTENT_LENGTH.
LARGE_UPLOAD_ENDPOINTS = {"events.upload_import", "api.upload_import"}

BLUEPRINTS = ("auth", "visits", "events", "security", "jobs_ui", "admin", "api")


def create_app(config=None):
    """Build the Flask app from the environment plus ``config`` overrides."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.INSTANCE_DIR),
    )
    configure(app, config)
    register_http_policy(app)
    register_extensions(app)
    register_sessions(app)
    register_languages(app)
    register_redis(app)
    register_blueprints(app)
    register_top_level_pages(app)
    register_upload_limits(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def configure(app, overrides):
    """Load settings, apply overrides and refuse unsafe combinations."""
    app.config.update(settings.from_environment())
    app.config.update(overrides or {})
    settings.check(app.config)
    app.config["TIMEZONE"] = ZoneInfo(app.config["GATEHOUSE_TIMEZONE"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        settings.INSTANCE_DIR.mkdir(exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def register_http_policy(app):
    """Security headers, the proxy, bounded ids and JSON: before any route is added."""
    from portal import bounds, http_policy

    bounds.register(app)
    http_policy.register(app)


def register_extensions(app):
    from portal import models  # noqa: F401  (the models must be known to Alembic)
    from portal.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    # The JSON API answers 401 instead of redirecting to the log-in page.
    login_manager.blueprint_login_views["api"] = None


def register_sessions(app):
    """Sessions that end: generation and idle time checked by the user loader, use noted."""
    from portal.auth import sessions

    sessions.register(app)


def register_languages(app):
    from portal import i18n

    i18n.register(app)


def register_redis(app):
    """One Redis connection pool per process, shared by the queue and the rate limiter."""
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])


def register_blueprints(app):
    from importlib import import_module

    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"portal.{name}.views").bp)


def register_top_level_pages(app):
    """Pages outside the blueprints' prefixes: /metrics and /healthz, and the bell (/notices)."""
    from portal.admin import health
    from portal.security import views as security

    health.register_collector()
    app.register_blueprint(health.bp)
    security.register_notices(app)


def register_upload_limits(app):
    """Raise the body limit for sheet uploads before anything (CSRF included) reads the form."""

    @app.url_value_preprocessor
    def allow_large_uploads(endpoint, values):
        if endpoint in LARGE_UPLOAD_ENDPOINTS:
            request.max_content_length = app.config["MAX_IMPORT_UPLOAD"]


def register_errorhandlers(app):
    from portal import errors

    errors.register(app)


def register_template_helpers(app):
    from portal import formatting, layout

    formatting.register(app)
    layout.register(app)


def register_commands(app):
    from portal import cli

    cli.register(app)

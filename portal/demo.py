"""``flask seed-demo``: the demo admin that ``make run`` prints, created when no user exists."""

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.config import INSTANCE_DIR
from portal.extensions import db
from portal.models import Role, User
from portal.services.accounts import AccountError, create_user

PASSWORD_FILE = INSTANCE_DIR / "demo-admin-password"


def demo_admin_password():
    """The configured demo password, else one generated once and kept under instance/."""
    configured = current_app.config.get("GATEHOUSE_ADMIN_PASSWORD")
    if configured:
        return configured
    if not PASSWORD_FILE.exists():
        PASSWORD_FILE.write_text(secrets.token_urlsafe(12))
        PASSWORD_FILE.chmod(0o600)
    return PASSWORD_FILE.read_text().strip()


def known_demo_password(email):
    """The demo admin's password if it still works, without generating one."""
    configured = current_app.config.get("GATEHOUSE_ADMIN_PASSWORD")
    password = configured or (PASSWORD_FILE.read_text().strip() if PASSWORD_FILE.exists() else None)
    admin = db.session.query(User).filter_by(email=email).one_or_none()
    if password and admin is not None and admin.check_password(password):
        return password
    return None


def ensure_demo_admin():
    """Create the demo admin when the database has no user; returns (email, password or None)."""
    email = current_app.config["GATEHOUSE_ADMIN_EMAIL"]
    if db.session.query(User.id).first() is not None:
        return email, known_demo_password(email)
    password = demo_admin_password()
    create_user(email=email, name="Demo Admin", role=Role.ADMIN, password=password)
    return email, password


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Create the demo admin when no user exists and print how to log in."""
    try:
        email, password = ensure_demo_admin()
    except AccountError as error:
        raise click.ClickException(f"demo admin: {error.message}") from None
    if password:
        click.echo(f"  log in as   {email} / {password}")
    else:
        click.echo(f"  log in as   {email} (or another existing account)")

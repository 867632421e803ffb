"""``flask seed-demo``: the demo admin that ``make run`` prints, created when no user exists."""

import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.config import INSTANCE_DIR
from portal.extensions import db
from portal.models import Role, User

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


def ensure_demo_admin():
    """Create the demo admin when the database has no user; returns (email, password or None)."""
    email = current_app.config["GATEHOUSE_ADMIN_EMAIL"]
    if db.session.query(User.id).first() is not None:
        existing = db.session.query(User).filter_by(email=email).one_or_none()
        known = existing is not None and existing.check_password(demo_admin_password())
        return email, demo_admin_password() if known else None
    password = demo_admin_password()
    admin = User(email=email, name="Demo Admin", role=Role.ADMIN.value)
    admin.set_password(password)
    db.session.add(admin)
    db.session.commit()
    return email, password


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Create the demo admin when no user exists and print how to log in."""
    email, password = ensure_demo_admin()
    if password:
        click.echo(f"  log in as   {email} / {password}")
    else:
        click.echo(f"  log in as   {email} (or another existing account)")

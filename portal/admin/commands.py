"""Flask commands for administrators: sync from HikCentral, demo data."""

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

log = logging.getLogger(__name__)


@click.command("sync")
@with_appcontext
def sync():
    """Copy access levels and doors from HikCentral (upsert; the ones gone are deactivated)."""
    from portal import hikvision
    from portal.admin.views import friendly_error
    from portal.extensions import db
    from portal.hikvision.errors import HikvisionError
    from portal.services import sync as sync_service

    try:
        counts = sync_service.sync_access_levels_and_doors(hikvision.client_for(current_app))
    except HikvisionError as error:
        db.session.rollback()
        log.warning("sync from HikCentral failed: %s", error)
        raise click.ClickException(f"Sync failed. {friendly_error(error)}") from None
    click.echo(sync_service.describe(counts))


@click.group("hik")
def hik():
    """HikCentral connection commands."""


@hik.command("check")
@click.option("--write", is_flag=True, help="Also enroll and delete a test person.")
@with_appcontext
def check(write):
    """Self-test of the HikCentral connection: each step, what it means, a verdict."""
    from portal import hikvision
    from portal.admin.views import public_url
    from portal.hikvision import selftest
    from portal.services import connection

    config = current_app.config
    report = connection.self_test(hikvision.client_for(current_app), config, write=write)
    for line in selftest.report_lines(report, public_url(config["HIKCENTRAL_URL"])):
        click.echo(line)
    if report.verdict == selftest.Verdict.NOT_READY:
        raise SystemExit(1)


@click.command("seed-demo")
def seed_demo():
    """Not built yet."""
    raise click.ClickException("seed-demo is not built yet")

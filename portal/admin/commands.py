"""Flask commands for administrators: sync from HikCentral, demo data."""

import click


@click.command("sync")
def sync():
    """Not built yet."""
    raise click.ClickException("sync is not built yet")


@click.command("seed-demo")
def seed_demo():
    """Not built yet."""
    raise click.ClickException("seed-demo is not built yet")

"""Benchmark: enroll (not built yet)."""

import click


@click.command("enroll")
def enroll():
    """Not built yet."""
    raise click.ClickException("bench enroll is not built yet")

"""Benchmark: limiter (not built yet)."""

import click


@click.command("limiter")
def limiter():
    """Not built yet."""
    raise click.ClickException("bench limiter is not built yet")

"""Flask command: sim."""

import click


@click.command("sim")
def sim():
    """Not built yet."""
    raise click.ClickException("sim is not built yet")

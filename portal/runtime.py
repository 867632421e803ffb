"""Flask commands that run the background processes: the RQ worker and the scheduler."""

import click


@click.command("worker")
def worker():
    """Not built yet."""
    raise click.ClickException("worker is not built yet")


@click.command("scheduler")
def scheduler():
    """Not built yet."""
    raise click.ClickException("scheduler is not built yet")

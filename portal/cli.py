"""Flask commands (``flask --app wsgi ...``); each reads the same configuration as the web app.

Their output is English: it is the operator's console. What a command leaves for users speaks
each user's language when they read it: sentences are stored in English and translated when
shown, and the e-mails ``worker`` sends are rendered in their recipient's language.
"""

from portal.admin.commands import hik, sync
from portal.auth.commands import users
from portal.bench import bench
from portal.demo import seed_demo
from portal.hikvision.simulator.cli import sim
from portal.runtime import scheduler, worker

COMMANDS = (users, sync, hik, seed_demo, worker, scheduler, sim, bench)


def register(app):
    for command in COMMANDS:
        app.cli.add_command(command)

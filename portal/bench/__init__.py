"""``flask bench ...``: benchmarks against the simulator, each printing one JSON object."""

import click

from portal.bench.enroll import enroll
from portal.bench.imports import import_
from portal.bench.limiter import limiter
from portal.bench.passages import passages
from portal.bench.photo import photo
from portal.bench.rush import rush
from portal.bench.soak import soak
from portal.bench.strict import strict
from portal.bench.visit import visit


@click.group("bench")
def bench():
    """Benchmarks against the simulator, each printing one JSON object."""


for command in (enroll, limiter, import_, visit, passages, strict, photo, rush, soak):
    bench.add_command(command)

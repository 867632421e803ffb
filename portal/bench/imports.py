"""Benchmark: guest imports. ``--validate-rows N`` times reading + validating an N-row XLSX.

``--guests N`` confirms an import of N guests and enrolls it against the simulator
(portal/bench/import_enroll.py).
"""

import json
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import click
from flask import current_app, has_app_context
from flask.cli import ScriptInfo
from openpyxl import Workbook

from portal.bench.common import parse_rate
from portal.bench.import_enroll import run_import_enrollment
from portal.models import utcnow
from portal.sheets import read_sheet, validate_rows

HEADERS = ["ФИО", "E-mail", "Телефон", "Компания", "Начало", "Окончание"]
INVALID_EVERY = 100  # one row in a hundred has a bad e-mail, as real lists do


def _zone():
    return current_app.config["TIMEZONE"] if has_app_context() else UTC


def event_window(zone, days_ahead=7):
    """An event a week from now, 10:00-18:00 local time."""
    day = utcnow().astimezone(zone).date() + timedelta(days=days_ahead)
    return (
        datetime.combine(day, clock(10), zone).astimezone(UTC),
        datetime.combine(day, clock(18), zone).astimezone(UTC),
    )


def write_guest_xlsx(path, rows, window, zone):
    """A realistic guest sheet (no photos); every INVALID_EVERY-th row has a bad e-mail."""
    start, end = (moment.astimezone(zone).replace(tzinfo=None) for moment in window)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Гости")
    sheet.append(HEADERS)
    for n in range(1, rows + 1):
        email = f"guest{n}@example" if n % INVALID_EVERY == 0 else f"guest{n}@example.com"
        sheet.append(
            [f"Гость{n} Тестовый", email, f"+7 900 {n:07d}", f"Компания {n % 50}", start, end]
        )
    book.save(path)


def run_validation(rows, *, trace_memory=False) -> dict:
    """Generate an ``rows``-row XLSX, then time read_sheet + validate_rows on it."""
    zone = _zone()
    window = event_window(zone)
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        path = Path(tmp) / "guests.xlsx"
        started = time.perf_counter()
        write_guest_xlsx(path, rows, window, zone)
        generate_seconds = time.perf_counter() - started
        size = path.stat().st_size
        report, seconds = _timed_validation(path, window, zone)
        traced = _traced_peak(path, window, zone) if trace_memory else None
    result = {
        "bench": "import",
        "part": "validate",
        "rows": report.rows_total,
        "seconds": round(seconds, 3),
        "rows_per_second": round(report.rows_total / seconds) if seconds else None,
        "rows_valid": report.rows_valid,
        "rows_invalid": report.rows_invalid,
        "errors": len(report.errors),
        "file_bytes": size,
        "generate_seconds": round(generate_seconds, 3),
        # Process-wide peak resident memory (includes generating the file).
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if traced is not None:
        result["peak_traced_mb"] = round(traced / (1024 * 1024), 2)
    return result


def _validate(path, window, zone):
    with read_sheet(path, path.name) as sheet:
        return validate_rows(sheet, event_window=window, now=utcnow(), timezone=zone)


def _timed_validation(path, window, zone):
    started = time.perf_counter()
    report = _validate(path, window, zone)
    return report, time.perf_counter() - started


def _traced_peak(path, window, zone):
    """Peak Python memory of one more validation run (tracemalloc slows it, so not timed)."""
    tracemalloc.start()
    try:
        _validate(path, window, zone)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@click.command("import")
@click.option(
    "--validate-rows",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Time parsing and validating a generated XLSX of this many guests (default 5000).",
)
@click.option(
    "--trace-memory", is_flag=True, help="Also report tracemalloc's peak for the validation."
)
@click.option(
    "--guests",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Confirm an import of this many guests and enroll it against the simulator.",
)
@click.option("--latency-ms", default=300.0, show_default=True, type=click.FloatRange(0, 10_000))
@click.option("--rate", default="10/1", show_default=True, help="CALLS/SECONDS, both sides.")
def import_(validate_rows, trace_memory, guests, latency_ms, rate):
    """Benchmark guest imports; prints one JSON object."""
    if guests is not None:
        result = run_import_enrollment(guests, latency_ms, parse_rate(rate), redis_url=_redis_url())
        if validate_rows is not None:
            result["validation"] = run_validation(validate_rows, trace_memory=trace_memory)
        click.echo(json.dumps(result))
        return
    result = run_validation(validate_rows or 5000, trace_memory=trace_memory)
    click.echo(json.dumps(result))


def _redis_url():
    if has_app_context():
        return current_app.config["REDIS_URL"]
    return click.get_current_context().ensure_object(ScriptInfo).load_app().config["REDIS_URL"]

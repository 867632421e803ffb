"""/metrics and /healthz: operations endpoints outside the /admin prefix.

/metrics serves the default Prometheus registry (HikCentral client metrics) plus numbers read
from the database and Redis at scrape time. It needs an admin session unless the setting
METRICS_PUBLIC is true (for a Prometheus server that scrapes without logging in; then restrict
it at the network level). /healthz needs no log-in and says only whether the database and
Redis answer.
"""

import logging
import threading

import redis
from flask import Blueprint, Response, current_app, has_app_context, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from rq import Queue
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

import portal.hikvision.metrics  # noqa: F401  (registers the HikCentral metrics)
from portal.auth.roles import role_required
from portal.extensions import db
from portal.models import JobRecord, Role, Visit

log = logging.getLogger(__name__)

bp = Blueprint("ops", __name__)

QUEUE_NAMES = ("high", "default", "low")


class PortalCollector:
    """Job outcomes, visit states and queue depths, read when Prometheus scrapes."""

    def collect(self):
        if not has_app_context():
            return
        yield from self._jobs()
        yield from self._visits()
        yield from self._queues()

    def _jobs(self):
        family = GaugeMetricFamily(
            "gatehouse_jobs",
            "Background jobs recorded, by kind and state.",
            labels=["kind", "state"],
        )
        try:
            rows = db.session.execute(
                select(JobRecord.kind, JobRecord.state, func.count()).group_by(
                    JobRecord.kind, JobRecord.state
                )
            ).all()
        except SQLAlchemyError:
            log.warning("metrics: job counts unavailable", exc_info=True)
            db.session.rollback()
            return
        for kind, state, count in rows:
            family.add_metric([kind, state], count)
        yield family

    def _visits(self):
        family = GaugeMetricFamily("gatehouse_visits", "Visits by state.", labels=["state"])
        try:
            rows = db.session.execute(select(Visit.state, func.count()).group_by(Visit.state)).all()
        except SQLAlchemyError:
            log.warning("metrics: visit counts unavailable", exc_info=True)
            db.session.rollback()
            return
        for state, count in rows:
            family.add_metric([state], count)
        yield family

    def _queues(self):
        family = GaugeMetricFamily(
            "gatehouse_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        connection = current_app.extensions["redis"]
        try:
            for name in QUEUE_NAMES:
                family.add_metric([name], Queue(name, connection=connection).count)
        except redis.RedisError:
            log.warning("metrics: queue depth unavailable", exc_info=True)
            return
        yield family


_registered = False
_register_lock = threading.Lock()


def register_collector():
    """Add the portal collector to the default registry once per process."""
    global _registered
    with _register_lock:
        if not _registered:
            REGISTRY.register(PortalCollector())
            _registered = True


def _metrics_text():
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/metrics")
def metrics():
    if current_app.config.get("METRICS_PUBLIC"):
        return _metrics_text()
    return role_required(Role.ADMIN)(_metrics_text)()


def database_ok():
    """Whether the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        log.warning("health: database unreachable", exc_info=True)
        db.session.rollback()
        return False


def redis_ok():
    """Whether Redis answers a ping."""
    try:
        return bool(current_app.extensions["redis"].ping())
    except redis.RedisError:
        log.warning("health: Redis unreachable", exc_info=True)
        return False


@bp.get("/healthz")
def healthz():
    database, queue = database_ok(), redis_ok()
    healthy = database and queue
    body = {"status": "ok" if healthy else "degraded", "database": database, "redis": queue}
    return jsonify(body), 200 if healthy else 503

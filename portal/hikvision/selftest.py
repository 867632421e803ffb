"""The connection self-test an administrator runs before the first visitor (``hik check``).

Read-only by default: version, access levels, doors, one door-event read for the last hour.
With ``write`` a round trip with a test person: add with face, grant, reapply, change and read
back the window, delivery status, delete (always attempted once the person exists, and checked).
Each step records HikCentral's code and message and what it means for the portal; the report
ends with a verdict. Every call is made once: a self-test must not wait through backoffs.
"""

import enum
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw

from portal.hikvision import answers, identifiers
from portal.hikvision import operations as ops
from portal.hikvision.errors import (
    AuthenticationError,
    BadRequestError,
    HikvisionError,
    NotFoundError,
    RateLimitedError,
    TlsError,
    UnavailableError,
    UnsupportedError,
)
from portal.i18n import N_

log = logging.getLogger(__name__)

TEST_NAME = ("Gatehouse", "Selftest")


class Outcome(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verdict(enum.StrEnum):
    READY = "ready"
    READY_WITH_WARNINGS = "ready with warnings"
    NOT_READY = "not ready"


@dataclass
class Step:
    """One step of the self-test: what was asked, what HikCentral said, what it means."""

    name: str
    outcome: Outcome
    meaning: str
    code: str = "0"
    message: str = "Success"
    seconds: float = 0.0


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)
    write: bool = False
    left_behind: bool = False

    @property
    def verdict(self):
        outcomes = {step.outcome for step in self.steps}
        if Outcome.FAILED in outcomes or self.left_behind:
            return Verdict.NOT_READY
        if Outcome.WARNING in outcomes:
            return Verdict.READY_WITH_WARNINGS
        return Verdict.READY

    @property
    def verdict_sentence(self):
        if self.left_behind:
            return N_("Not ready: the test person could not be deleted; remove it on HikCentral.")
        failed = next((s for s in self.steps if s.outcome == Outcome.FAILED), None)
        if failed is not None:
            return N_("Not ready: %(why)s") % {"why": failed.meaning}
        if self.verdict == Verdict.READY_WITH_WARNINGS:
            return N_("Ready, with the warnings above: visitors can be enrolled.")
        if self.write:
            return N_("Ready: enrolling a test person worked end to end.")
        return N_("Ready: reads work.")


class OneAttempt:
    """A client whose calls are not retried: the self-test reports the first answer, and a page
    must not wait through backoffs."""

    def __init__(self, client):
        self._client = client

    def call(self, path, body=None, *, retry=True):
        return self._client.call(path, body, retry=False)

    def __getattr__(self, name):
        return getattr(self._client, name)


def _cause(exc):
    """One sentence naming the cause of a failed call, for an administrator."""
    if isinstance(exc, TlsError):
        if "HIKCENTRAL_TLS_FINGERPRINT;" in exc.message or "does not match" in exc.message:
            return N_(
                "HikCentral's certificate does not match HIKCENTRAL_TLS_FINGERPRINT; nothing "
                "was sent."
            )
        return N_(
            "The TLS handshake failed: HikCentral's certificate is not trusted (self-signed?); "
            "set HIKCENTRAL_TLS_FINGERPRINT or HIKCENTRAL_CA_BUNDLE."
        )
    if isinstance(exc, AuthenticationError):
        if exc.code == "17":
            return N_("The partner key lacks permission for this API group on HikCentral.")
        return N_(
            "HikCentral refused the portal's credentials: HIKCENTRAL_APP_KEY or "
            "HIKCENTRAL_APP_SECRET is wrong (or the partner is disabled)."
        )
    if isinstance(exc, RateLimitedError):
        return N_("HikCentral is rate limiting the portal; lower HIKCENTRAL_RATE_LIMIT_CALLS.")
    if isinstance(exc, UnavailableError):
        return N_("HikCentral could not be reached or did not answer: check HIKCENTRAL_URL.")
    if isinstance(exc, UnsupportedError):
        return N_("This HikCentral version does not offer this call.")
    if isinstance(exc, NotFoundError):
        return N_("HikCentral does not know what this step named.")
    return ops.describe(exc)


def _code_message(exc):
    code = "" if exc.code is None else str(exc.code)
    return code or "-", exc.server_message or _cause(exc)


class _Run:
    def __init__(self, client, report):
        self.client = client
        self.report = report

    def step(self, name, func, meaning_ok, *, warn=None):
        """Run ``func``; record the step; returns func's value, or None when it failed.

        ``warn(exc)`` may turn a failure into a warning by returning the sentence for it.
        """
        started = time.monotonic()
        try:
            value = func()
        except HikvisionError as exc:
            seconds = time.monotonic() - started
            code, message = _code_message(exc)
            sentence = warn(exc) if warn else None
            outcome = Outcome.WARNING if sentence else Outcome.FAILED
            meaning = sentence or _cause(exc)
            self.report.steps.append(Step(name, outcome, meaning, code, message, seconds))
            log.info("self-test step %s: %s (code %s)", name, outcome, code)
            return None
        meaning = meaning_ok(value) if callable(meaning_ok) else meaning_ok
        outcome = Outcome.OK
        if isinstance(meaning, tuple):
            outcome, meaning = meaning
        seconds = time.monotonic() - started
        self.report.steps.append(Step(name, outcome, meaning, seconds=seconds))
        return value

    def skip(self, name, meaning):
        self.report.steps.append(Step(name, Outcome.SKIPPED, meaning, "-", N_("not run")))


def test_face():
    """A plain JPEG shaped like a portrait, within what HikCentral accepts for faces."""
    image = Image.new("RGB", (300, 400), (205, 180, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((70, 60, 230, 280), fill=(225, 195, 170))
    draw.ellipse((110, 140, 130, 160), fill=(60, 40, 30))
    draw.ellipse((170, 140, 190, 160), fill=(60, 40, 30))
    draw.arc((115, 200, 185, 240), 20, 160, fill=(120, 60, 60), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def run_check(client, *, write=False, org_code="1", code_prefix="GH", code_length=10, now=None):
    """Run the self-test against ``client``'s HikCentral; returns the Report."""
    now = now or datetime.now(UTC)
    report = Report(write=write)
    run = _Run(OneAttempt(client), report)
    reads = _reads(run, now)
    if reads is None:
        for name in (N_("access levels"), N_("doors"), "door events"):
            run.skip(name, N_("Not run: the version call failed."))
        return report
    levels, doors = reads
    if write:
        _round_trip(run, org_code, levels, identifiers.new_person_code(code_prefix, code_length))
    return report


def _reads(run, now):
    info = run.step(
        N_("version"),
        lambda: ops.version(run.client),
        lambda v: (
            N_("%(product)s %(version)s answers signed calls with these credentials.")
            % {"product": v["product"], "version": v["version"]}
        ),
    )
    if info is None:
        return None
    levels = run.step(
        N_("access levels"),
        lambda: ops.list_access_levels(run.client),
        lambda found: (
            (
                Outcome.OK,
                N_("%(num)d access levels can be offered to visitors.") % {"num": len(found)},
            )
            if found
            else (Outcome.WARNING, N_("No access levels: create one for visitors on HikCentral."))
        ),
    )
    doors = run.step(
        N_("doors"),
        lambda: ops.list_doors(run.client),
        lambda found: (
            (Outcome.OK, N_("%(num)d doors are known.") % {"num": len(found)})
            if found
            else (Outcome.WARNING, N_("No doors: passages cannot be followed."))
        ),
    )
    door_ids = [d.hik_id for d in doors or []][: ops.MAX_DOORS_PER_QUERY]
    body = {
        "startTime": ops.iso(now - timedelta(hours=1)),
        "endTime": ops.iso(now),
        "eventType": ops.EVENT_FACE_GRANTED,
        "doorIndexCodes": door_ids,
        "pageNo": 1,
        "pageSize": 1,
    }
    run.step(
        N_("door events (last hour)"),
        lambda: run.client.call(ops.DOOR_EVENTS, body),
        lambda data: (
            N_("Door events can be read (%(num)d face passages in the last hour).")
            % {"num": _total(data)}
        ),
    )
    return levels or [], doors or []


def _total(data):
    return answers.as_int(answers.field(data, "total")) or 0 if isinstance(data, dict) else 0


def _round_trip(run, org_code, levels, code):
    if not levels:
        run.skip(N_("add test person"), N_("Not run: there is no access level to grant."))
        return
    begin = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    spec = ops.PersonSpec(code, TEST_NAME[0], TEST_NAME[1], begin, begin + timedelta(hours=1))
    person_id = _add(run, spec, org_code)
    if person_id is None:
        return
    try:
        _grant_and_follow(run, levels[0].hik_id, person_id, spec)
    finally:
        _delete(run, person_id, code)


def _add(run, spec, org_code):
    body = ops._add_body(run.client, spec, org_code)
    body["faces"] = [{"faceData": ops._face_data(run.client, test_face())}]
    data = run.step(
        N_("add test person with face"),
        lambda: run.client.call(ops.PERSON_ADD, body),
        N_("Persons with a face can be created (person code %(code)s).")
        % {"code": spec.person_code},
        warn=_face_warning,
    )
    if data is None and run.report.steps[-1].outcome == Outcome.WARNING:
        body.pop("faces")
        data = run.step(
            N_("add test person without face"),
            lambda: run.client.call(ops.PERSON_ADD, body),
            N_("Persons can be created."),
        )
    return (
        answers.text(answers.field(data, "personId"))
        if isinstance(data, dict)
        else answers.text(data)
    )


def _face_warning(exc):
    if isinstance(exc, BadRequestError) and "face" in (exc.server_message or "").lower():
        return N_(
            "HikCentral refused the test picture, which shows no real face; guests' photos "
            "are checked when they are enrolled."
        )
    return None


def _grant_and_follow(run, level_id, person_id, spec):
    body = {"privilegeGroupId": level_id, "type": ops.PERSON_TYPE, "list": [{"id": person_id}]}
    run.step(
        N_("grant access level"),
        lambda: run.client.call(ops.ADD_PERSONS, body),
        N_("Access levels can be granted."),
    )
    run.step(
        N_("reapply to devices"),
        lambda: ops.reapply(run.client, [person_id]),
        N_("Access can be pushed to the devices."),
        warn=lambda exc: (
            N_(
                "The push to the devices failed after a good grant (seen on live servers): the "
                "portal keeps such visits enrolled and delivery unconfirmed."
            )
            if not exc.transient and not isinstance(exc, AuthenticationError)
            else None
        ),
    )
    item = (person_id, spec.person_code, spec.begin, spec.end + timedelta(hours=1))
    run.step(
        N_("change and read back validity"),
        lambda: ops.update_validity(run.client, [item]),
        _window_meaning,
    )
    run.step(
        N_("delivery status"),
        lambda: ops.summarize_delivery(
            ops.element_statuses(run.client.call(ops.DELIVERY, {"id": person_id}))
        ),
        lambda status: N_("Delivery to the devices is reported (%(status)s).") % {"status": status},
        warn=_delivery_warning,
    )


def _window_meaning(results):
    [result] = results
    if not result.ok:
        return Outcome.FAILED, result.error or N_("The validity change failed.")
    if not result.window_applied:
        return (
            Outcome.WARNING,
            N_(
                "HikCentral answered Success but kept the old window, even with the whole "
                "person: changed visits will be marked 'window not applied'."
            ),
        )
    if result.action == ops.UPDATED_ON_SECOND_TRY:
        return (
            Outcome.WARNING,
            N_(
                "HikCentral kept the old window at first and took it when sent the whole "
                "person: the portal reads every change back and does so."
            ),
        )
    return N_("Validity changes are stored (read back and compared).")


def _delivery_warning(exc):
    if isinstance(exc, NotFoundError | UnsupportedError | BadRequestError):
        return N_(
            "HikCentral does not report the delivery of persons (a visitor-only call on live "
            "servers): visits will show delivery as not reported."
        )
    return None


def _delete(run, person_id, code):
    run.step(
        N_("delete test person"),
        lambda: run.client.call(ops.PERSON_DELETE, {"personId": person_id}),
        N_("Persons can be deleted when visits end."),
    )
    try:
        gone = ops._lookup(run.client, code) is None
    except HikvisionError as exc:
        log.warning("self-test could not confirm the deletion: %s", type(exc).__name__)
        gone = False
    run.report.left_behind = not gone


def report_lines(report, url):
    """The report as plain text lines (the ``hik check`` output)."""
    mode = "read-only" if not report.write else "with a test person (--write)"
    lines = [f"HikCentral self-test of {url}, {mode}"]
    for number, step in enumerate(report.steps, 1):
        lines.append(
            f"{number:>2}. {step.name:<30} {step.outcome.upper():<8} "
            f"code {step.code:<4} {step.message} ({step.seconds * 1000:.0f} ms)"
        )
        lines.append(f"    {step.meaning}")
    if report.write:
        left = "the test person is still there" if report.left_behind else "none"
        lines.append(f"Test person left behind: {left}")
    lines.append(f"Verdict: {report.verdict.upper()}. {report.verdict_sentence}")
    return lines

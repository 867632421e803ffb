"""A HikCentral Professional OpenAPI simulator for development, demos, tests and benchmarks.

Modules: ``app`` (the Flask app and the /sim control API), ``api`` (the endpoints), ``state``
(seed site and in-memory data), ``knobs`` (latency, rate limit, faults, statistics),
``validation`` (request checks), ``strict`` (the strict profile), ``server`` (a threaded socket
server), ``control`` (a client for /sim), ``cli`` (``flask --app wsgi sim``).

This is the friendly profile. ``profile="strict"`` (``sim --profile strict``) answers the way
live servers were seen to instead, where they differ: see ``strict.py``.

Behaviour where the integration notes leave a choice (kept stable; tests rely on it):

- Signature refused (empty/unknown AppKey, empty/incorrect signature, Content-MD5 mismatch,
  timestamp outside ``max_skew_seconds``): HTTP 200, code "64" "User authentication failed"; the
  reason is only in the ``X-Sim-Auth-Reason`` response header.
- Unknown ``/artemis`` path: HTTP 404. Paths the notes list as missing on HCP (and any in
  ``unsupported_paths``): code "8" "This product version is not supported".
- Duplicate personCode on add (or update): code "2",
  "Incorrect request parameter. [personCode already exists]".
- addPersons/deletePersons naming persons that do not exist: code "2",
  "Incorrect request parameter. [person does not exist: <id>,<id>]" and nothing changes;
  an unknown privilegeGroupId is code "128" "... [privilege group does not exist]". Adding a
  member again or removing a non-member succeeds. At most ``max_batch`` (1000) ids per call;
  ``type`` must be 1 or 2 and every access level accepts both.
- Faces: Base64 JPEG, at least 100 px on each side, at most 200 KB, else code "2" whose detail
  names the field and the reason (not a JPEG / not valid Base64 / NxM px, smaller than 100 px /
  N KB, larger than 200 KB). ``person/single/update`` ignores ``personPhoto``/``faces`` and still
  answers Success (as HCP does).
- Times must be ``YYYY-MM-DDTHH:MM:SS±HH:MM`` (no fractions, no ``Z``, colon in the offset).
- Delivery to devices: a new person, and any change to a person's names, validity, face or
  access levels, is pending (elementStatus 1) until ``visitor/v1/auth/reapplication`` names the
  person (or names nobody: then every changed person); ``delivery_delay`` seconds later it is
  applied (0), or failed (2) when the person's id or code is in ``delivery_failures``.
  elementDownloadDetail lists one entry per device (one per door) of the person's access
  levels, each with a ``personInfo`` element and, when a face is stored, a ``face`` element; a
  person without access levels has no entries. Unknown ids in ``personIds`` are skipped.
- door/events: newest first unless ``orderType`` is 0; ``personName`` is a case-insensitive
  "contains" filter (so are ``personCode``/``personName`` on advance/personList); event times
  are reported in the devices' offset (``utc_offset_minutes``, default UTC).
- Server-side rate limit: a token bucket (capacity CALLS, refilled at CALLS/SECONDS); an empty
  bucket answers HTTP 429 with ``Retry-After`` (whole seconds). Latency applies to every
  /artemis call. Faults (``fault_rate`` with ``fault_seed``, or ``fault_script`` for exact
  sequences): ``http_500``, ``code_5`` (envelope "Service exception..."), ``drop`` (the TCP
  connection is closed without an answer; nothing is done) and ``slow`` (waits
  ``slow_seconds``, then performs the call and answers: the client cannot know it happened).
- Statistics count every /artemis call by path (including refused and faulted ones); the /sim
  control API is never limited, delayed, faulted or counted.
"""

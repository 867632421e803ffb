"""Copy HikCentral's access levels and doors (architecture.md, flow 8; ``flask sync``)."""

import logging

from flask_babel import gettext, ngettext
from sqlalchemy import func, select

from portal.extensions import db
from portal.hikvision import operations
from portal.models import AccessLevel, Door, utcnow

log = logging.getLogger(__name__)

# Markers in a door's name that say what its reader means (lower-case). The explicit "(in)" /
# "(out)" suffixes win over words, since "entrance" is often a place ("Main entrance (out)").
ENTRY_MARKERS = ("(in)", "[in]")
EXIT_MARKERS = ("(out)", "[out]")
ENTRY_WORDS = ("entry", "entrance")
EXIT_WORDS = ("exit",)


def guess_direction(name):
    """entry | exit | both, guessed from a door's name ("Lobby (in)", "Exit gate")."""
    text = (name or "").lower()
    for markers, direction in (
        (EXIT_MARKERS, "exit"),
        (ENTRY_MARKERS, "entry"),
        (EXIT_WORDS, "exit"),
        (ENTRY_WORDS, "entry"),
    ):
        if any(marker in text for marker in markers):
            return direction
    return "both"


def sync_access_levels_and_doors(client):
    """Upsert access levels and doors by hik_id, deactivate the ones gone; commit; counts."""
    # Read both lists before writing anything: a failed read leaves the tables as they were.
    levels = operations.list_access_levels(client)
    doors = operations.list_doors(client)
    now = utcnow()
    counts = {
        "access_levels": _upsert(AccessLevel, levels, now, _apply_level),
        "doors": _upsert(Door, doors, now, _apply_door),
    }
    db.session.commit()
    log.info("synced from HikCentral: %s", counts)
    return counts


def _upsert(model, infos, now, apply):
    existing = {row.hik_id: row for row in db.session.scalars(select(model))}
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
    for info in infos:
        row = existing.pop(info.hik_id, None)
        if row is None:
            row = model(hik_id=info.hik_id)
            db.session.add(row)
            apply(row, info, created=True)
            counts["created"] += 1
        elif apply(row, info, created=False) or not row.active:
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
        row.active = True
        row.synced_at = now
    for row in existing.values():
        if row.active:
            row.active = False
            counts["deactivated"] += 1
    counts["active"] = len(infos)
    return counts


def _apply_level(level, info, *, created):
    changed = level.name != info.name or level.description != info.description
    level.name = info.name
    level.description = info.description
    return changed


def _apply_door(door, info, *, created):
    # The direction is guessed once, or again when the name changes; it is kept otherwise, so
    # a direction corrected in the database survives the next sync.
    changed = door.name != info.name
    if created or changed:
        door.direction = guess_direction(info.name)
    door.name = info.name
    return changed


def synced_counts():
    """How many active access levels and doors the portal knows."""
    return {
        "access_levels": db.session.scalar(
            select(func.count()).select_from(AccessLevel).where(AccessLevel.active)
        ),
        "doors": db.session.scalar(select(func.count()).select_from(Door).where(Door.active)),
    }


def describe(counts):
    """One sentence summing up a sync's counts, for a flash message or the command line.

    Said at once in the request's language (the command line's: ``DEFAULT_LANGUAGE``).
    """

    def detail(c):
        changes = [
            text % {"num": c[key]}
            for key, text in (
                ("created", gettext("%(num)d created")),
                ("updated", gettext("%(num)d updated")),
                ("deactivated", gettext("%(num)d deactivated")),
            )
            if c[key]
        ]
        return ", ".join(changes) if changes else gettext("no changes")

    levels, doors = counts["access_levels"], counts["doors"]
    return gettext(
        "Synced %(levels)s (%(levels_detail)s) and %(doors)s (%(doors_detail)s).",
        levels=ngettext("%(num)d access level", "%(num)d access levels", levels["active"]),
        levels_detail=detail(levels),
        doors=ngettext("%(num)d door", "%(num)d doors", doors["active"]),
        doors_detail=detail(doors),
    )

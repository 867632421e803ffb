"""A ZIP of guest photos, read one member at a time and guarded against ZIP bombs."""

import io
import logging
import os
import posixpath
import zipfile
import zlib
from pathlib import Path

from portal.i18n import N_, N_plural

log = logging.getLogger(__name__)

MAX_TOTAL_BYTES = 500 * 1024 * 1024  # everything unpacked
MAX_RATIO = 100  # uncompressed : compressed, per member
RATIO_FLOOR = 1024 * 1024  # members smaller than this cannot be bombs whatever their ratio
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 20 * 1024 * 1024  # one photo
CHUNK = 64 * 1024
UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1

# What zipfile raises on a damaged archive or member.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


PHOTO_ARCHIVE = N_("The photo archive")


class PhotoArchiveError(ValueError):
    """An archive (or one member of it) that cannot be used; the message is for the organizer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def open_zip(source, *, what=PHOTO_ARCHIVE):
    """Open ``source`` (bytes, a path or a binary stream) as a ZipFile or raise a clear error."""
    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        source = Path(source)
    try:
        return zipfile.ZipFile(source)
    except ZIP_ERRORS as exc:
        log.info("zip refused: %s", type(exc).__name__)
        raise PhotoArchiveError(
            N_("%(what)s is not a valid ZIP file (damaged or incomplete).") % {"what": what}
        ) from exc


def check_zip_limits(
    archive: zipfile.ZipFile,
    *,
    max_total_bytes=MAX_TOTAL_BYTES,
    max_ratio=MAX_RATIO,
    max_members=MAX_MEMBERS,
    what=PHOTO_ARCHIVE,
) -> None:
    """Refuse an archive whose headers announce a ZIP bomb (size, ratio or member count)."""
    members = archive.infolist()
    if len(members) > max_members:
        raise PhotoArchiveError(
            N_plural(
                "%(what)s has more than %(num)d file.",
                "%(what)s has more than %(num)d files.",
                max_members,
            )
            % {"what": what, "num": max_members}
        )
    total = 0
    for info in members:
        total += info.file_size
        if total > max_total_bytes:
            raise PhotoArchiveError(
                N_("%(what)s unpacks to more than %(num)d MB.")
                % {"what": what, "num": max_total_bytes // (1024 * 1024)}
            )
        if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise PhotoArchiveError(
                N_(
                    "%(what)s is compressed suspiciously well (%(name)s unpacks more than "
                    "%(ratio)d times its size): refused as a possible ZIP bomb."
                )
                % {"what": what, "name": repr(info.filename), "ratio": max_ratio}
            )


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it (Windows archivers use cp866 for Cyrillic)."""
    name = info.filename
    if info.flag_bits & UTF8_FLAG or name.isascii():
        return name
    raw = name.encode("cp437")
    for encoding in ("utf-8", "cp866"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return name


def is_safe_member(name: str) -> bool:
    """A plain file inside the archive: no traversal, no absolute path, no macOS metadata."""
    name = name.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
        return False
    base = parts[-1]
    return bool(base) and parts[0] != "__MACOSX" and not base.startswith(".")


def _key(name):
    return name.replace("\\", "/").strip().casefold()


class PhotoArchive:
    """Photos in a ZIP, matched by file name (case-insensitive, in any folder)."""

    def __init__(
        self,
        source,
        *,
        max_total_bytes=MAX_TOTAL_BYTES,
        max_ratio=MAX_RATIO,
        max_members=MAX_MEMBERS,
        max_member_bytes=MAX_MEMBER_BYTES,
    ):
        self._zip = open_zip(source)
        try:
            check_zip_limits(
                self._zip,
                max_total_bytes=max_total_bytes,
                max_ratio=max_ratio,
                max_members=max_members,
            )
        except PhotoArchiveError:
            self._zip.close()
            raise
        self.max_member_bytes = max_member_bytes
        self.ignored: list[str] = []
        self._by_path: dict[str, zipfile.ZipInfo] = {}
        self._by_base: dict[str, list[zipfile.ZipInfo]] = {}
        self._by_stem: dict[str, list[zipfile.ZipInfo]] = {}
        self._names: dict[int, str] = {}
        self._index()

    def _index(self):
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            name = member_name(info)
            if not is_safe_member(name):
                self.ignored.append(name)
                continue
            self._names[id(info)] = name
            key = _key(name)
            base = posixpath.basename(key)
            self._by_path[key] = info
            self._by_base.setdefault(base, []).append(info)
            self._by_stem.setdefault(posixpath.splitext(base)[0], []).append(info)

    def names(self) -> list[str]:
        """The usable member names, as written in the archive."""
        return list(self._names.values())

    def __len__(self):
        return len(self._names)

    def resolve(self, name: str) -> str | None:
        """The archive member ``name`` refers to, or None; raises when the name is ambiguous."""
        info = self._lookup(name)
        return self._names[id(info)] if info is not None else None

    def _lookup(self, name):
        key = _key(name or "").lstrip("/")
        if not key:
            return None
        if key in self._by_path:
            return self._by_path[key]
        base = posixpath.basename(key)
        # A name without an extension ("ivanov") may still name exactly one photo.
        candidates = self._by_base.get(base) or (
            self._by_stem.get(base) if not posixpath.splitext(base)[1] else None
        )
        if not candidates:
            return None
        if len(candidates) > 1:
            found = ", ".join(sorted(self._names[id(i)] for i in candidates)[:3])
            raise PhotoArchiveError(
                N_(
                    "Several files in the photo archive match %(name)s (%(found)s): "
                    "give the folder too or rename one."
                )
                % {"name": repr(name), "found": found}
            )
        return candidates[0]

    def find(self, name: str) -> bytes | None:
        """The bytes of the photo ``name`` names (read on its own, size-bounded), or None."""
        info = self._lookup(name)
        if info is None:
            return None
        return self._read(info)

    def _read(self, info):
        shown = self._names[id(info)]
        if info.flag_bits & ENCRYPTED_FLAG:
            raise PhotoArchiveError(
                N_("%(name)s is password-protected in the photo archive.") % {"name": shown}
            )
        if info.file_size > self.max_member_bytes:
            raise PhotoArchiveError(
                N_("%(name)s is larger than %(num)d MB.") % {"name": shown, "num": self._limit_mb()}
            )
        # Never trust the header: read at most one byte past what it (and our limit) allows.
        limit = min(info.file_size, self.max_member_bytes)
        buf = bytearray()
        try:
            with self._zip.open(info) as member:
                while len(buf) <= limit:
                    chunk = member.read(min(CHUNK, limit + 1 - len(buf)))
                    if not chunk:
                        break
                    buf += chunk
        except ZIP_ERRORS as exc:
            log.info("zip member refused: %s", type(exc).__name__)
            raise PhotoArchiveError(
                N_("%(name)s is damaged in the photo archive.") % {"name": shown}
            ) from exc
        if len(buf) > limit:
            raise PhotoArchiveError(
                N_("%(name)s is larger than its archive entry says: refused.") % {"name": shown}
            )
        return bytes(buf)

    def _limit_mb(self):
        return max(1, self.max_member_bytes // (1024 * 1024))

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

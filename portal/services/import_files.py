"""Where an import's uploaded files wait (a private folder per upload), and their deletion."""

import logging
import shutil
import uuid
from pathlib import Path

from flask import current_app

from portal.extensions import db

log = logging.getLogger(__name__)


def imports_dir() -> Path:
    """Where uploaded sheets and photo archives wait for their import (private to the portal)."""
    configured = current_app.config["IMPORT_FILES_DIR"]
    return Path(configured) if configured else Path(current_app.instance_path) / "imports"


def new_folder() -> Path:
    """A new private folder for one upload's files."""
    directory = imports_dir() / uuid.uuid4().hex
    directory.mkdir(parents=True, mode=0o700)
    return directory


def delete_archive(path, import_id=None) -> bool:
    """Delete the folder of a stored upload file (sheet or archive); only ever one of our own."""
    directory = Path(path).parent
    if directory.resolve().parent != imports_dir().resolve():
        log.warning("import %s points outside the imports folder; file left", import_id)
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


def purge_import_files(guest_import) -> bool:
    """Delete the import's stored photo archive (its photos live on in the guests); commits."""
    path = guest_import.photos_path
    if not path:
        return False
    delete_archive(path, guest_import.id)
    guest_import.photos_path = None
    db.session.commit()
    return True

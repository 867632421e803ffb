"""Which person code a visit is sent to HikCentral under (safe codes, older visits kept)."""

from portal.hikvision import identifiers


def code_settings(config):
    """(prefix, length) of new person codes from the HIKCENTRAL_PERSON_CODE_* settings."""
    return (
        config.get("HIKCENTRAL_PERSON_CODE_PREFIX", identifiers.DEFAULT_CODE_PREFIX),
        config.get("HIKCENTRAL_PERSON_CODE_LENGTH", identifiers.DEFAULT_CODE_LENGTH),
    )


def code_to_send(visit, config):
    """(code, legacy code or None) for ``visit``'s person on HikCentral.

    A visit already on HikCentral keeps its code whatever it looks like: the server accepted it.
    One made before codes were safe and not on HikCentral yet gets a safe code derived from the
    old one (the same on every run), and the old one is looked up first in case an earlier run
    added it.
    """
    prefix, length = code_settings(config)
    code = visit.person_code
    if visit.hik_person_id or identifiers.is_safe_code(code, length):
        return code, None
    return identifiers.safe_code_for(code, prefix, length), code

"""Every error a service raises for people derives from one of the two bases."""

import pytest

from portal.services import accounts, events, imports, invitations, passages, photos, visits
from portal.services.errors import CORRECT_FIELDS, FieldErrors, ServiceError
from portal.sheets import photo_archive, reader, values

# The error class -> its base: FieldErrors when a sentence belongs beside an input.
BASES = {
    accounts.AccountError: FieldErrors,
    visits.VisitValidationError: FieldErrors,
    events.EventValidationError: FieldErrors,
    imports.ImportFileError: FieldErrors,
    visits.VisitStateError: ServiceError,
    passages.PassageError: ServiceError,
    events.EventStateError: ServiceError,
    imports.ImportStateError: ServiceError,
    photos.PhotoError: ServiceError,
    photo_archive.PhotoArchiveError: ServiceError,
    reader.SheetError: ServiceError,
    values.CellError: ServiceError,
    invitations.InvitationRefused: ServiceError,
}


@pytest.mark.parametrize("error_class", list(BASES), ids=lambda cls: cls.__name__)
def test_each_service_error_has_its_base(error_class):
    assert issubclass(error_class, BASES[error_class])
    assert issubclass(error_class, ServiceError)  # one except clause catches them all


def test_every_error_class_of_the_services_is_listed():
    modules = (accounts, events, imports, invitations, passages, photos, visits)
    modules += (photo_archive, reader, values)
    found = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceError)
        and value not in (ServiceError, FieldErrors)
    }
    assert found == set(BASES)


def test_field_errors_say_a_summary_and_a_sentence_per_field():
    error = visits.VisitValidationError({"email": "Enter a valid e-mail address."})
    assert error.fields == {"email": "Enter a valid e-mail address."}
    assert error.message == CORRECT_FIELDS


def test_an_account_error_stands_beside_its_field_or_alone():
    assert accounts.AccountError("Too short.", field="password").fields == {
        "password": "Too short."
    }
    alone = accounts.AccountError("You cannot disable your own account.")
    assert alone.fields == {}
    assert alone.message == "You cannot disable your own account."


def test_an_import_file_error_stands_beside_its_upload(app):
    error = imports.ImportFileError("The photo archive is damaged.", field="photos")
    assert error.fields == {"photos": "The photo archive is damaged."}
    assert error.message == "The photo archive is damaged."

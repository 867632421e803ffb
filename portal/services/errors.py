"""The two bases of the errors services raise for people (docs/architecture.md §2, "Views").

A service refuses with one of them, never with bare text: ``ServiceError`` carries one sentence
for the user (an action the state does not allow, a file that cannot be read); ``FieldErrors``
carries a sentence per input at fault, plus a summary sentence. The sentences are English
message ids filled with ``%`` (``N_()``); the edge shows them in the viewer's language. Pages
show them with ``portal.shown_errors``, the API answers them with 409 and 400.
"""

from portal.i18n import N_

CORRECT_FIELDS = N_("Please correct the highlighted fields.")


class ServiceError(Exception):
    """An action refused as a whole; ``message`` is one sentence for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class FieldErrors(ServiceError):
    """Input refused field by field; ``fields`` maps an input's name to its sentence."""

    def __init__(self, fields, message=None):
        self.fields = dict(fields)
        super().__init__(message or CORRECT_FIELDS)

"""JSON errors of the API: {"error": sentence, "fields": {name: message}}, never exception text."""

from flask import jsonify
from werkzeug.exceptions import HTTPException

from portal.i18n import N_, shown

# English unless the client's Accept-Language asks for another offered language (portal/i18n.py).
MESSAGES = {
    400: N_("The request is not valid."),
    401: N_("A valid API token is required."),
    403: N_("Your role does not allow this action."),
    404: N_("Not found."),
    405: N_("This method is not allowed on this resource."),
    413: N_("The request body is larger than allowed."),
    409: N_("The resource's state does not allow this action."),
    429: N_("Too many requests; try again later."),
    500: N_("Something went wrong on our side. The error has been logged."),
    503: N_("The service is briefly unavailable; try again in a minute."),
}
FAILED = N_("The request failed.")


class ApiError(Exception):
    """An error answered as JSON with ``status``; ``fields`` names the offending inputs."""

    def __init__(self, status, message=None, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message or MESSAGES.get(status, FAILED)
        self.fields = fields or {}
        self.headers = headers or {}


def json_error(status, message=None, fields=None):
    """A JSON error response."""
    response = jsonify(
        error=shown(message or MESSAGES.get(status, FAILED)),
        fields={
            name: shown(text) if isinstance(text, str) else text
            for name, text in (fields or {}).items()
        },
    )
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gatehouse"'
    return response


def handle_api_error(error):
    response = json_error(error.status, error.message, error.fields)
    response.headers.update(error.headers)
    return response


def handle_http_exception(error):
    response = json_error(error.code or 500)
    # Keep the headers that matter to clients (Allow on 405), nothing from the message.
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected(error):
    # Flask has already logged the original exception with its traceback.
    return json_error(500)


def register(bp):
    """Answer every error raised inside the blueprint's views as JSON."""
    bp.register_error_handler(ApiError, handle_api_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(500, handle_unexpected)

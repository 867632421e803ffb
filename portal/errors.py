"""HTTP error pages: HTML for pages, JSON for the API; never an exception's text."""

from flask import jsonify, render_template, request

from portal.i18n import N_, shown

MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have access to this page."),
    404: N_("This page does not exist."),
    405: N_("This action is not allowed here."),
    413: N_("The upload is larger than allowed."),
    500: N_("Something went wrong on our side. The error has been logged."),
}
FAILED = N_("The request failed.")


def wants_json():
    return request.path.startswith("/api/")


def render_error(error):
    code = getattr(error, "code", 500) or 500
    message = shown(MESSAGES.get(code, FAILED))
    if wants_json():
        return jsonify(error=message, fields={}), code
    return render_template("error.html", code=code, message=message), code


def register(app):
    for code in MESSAGES:
        app.register_error_handler(code, render_error)

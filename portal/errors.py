"""HTTP error pages: HTML for pages, JSON for the API; never an exception's text."""

from flask import jsonify, render_template, request

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "This page does not exist.",
    405: "This action is not allowed here.",
    413: "The upload is larger than allowed.",
    500: "Something went wrong on our side. The error has been logged.",
}


def wants_json():
    return request.path.startswith("/api/")


def render_error(error):
    code = getattr(error, "code", 500) or 500
    message = MESSAGES.get(code, "The request failed.")
    if wants_json():
        return jsonify(error=message, fields={}), code
    return render_template("error.html", code=code, message=message), code


def register(app):
    for code in MESSAGES:
        app.register_error_handler(code, render_error)

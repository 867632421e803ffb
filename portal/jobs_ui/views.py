"""Views of the jobs_ui blueprint."""

from flask import Blueprint

bp = Blueprint("jobs_ui", __name__)

"""Views of the security blueprint."""

from flask import Blueprint

bp = Blueprint("security", __name__, url_prefix="/security")

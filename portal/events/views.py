"""Views of the events blueprint."""

from flask import Blueprint

bp = Blueprint("events", __name__)

"""The HikCentral OpenAPI simulator as a Flask app (placeholder: control API only)."""

from flask import Flask, jsonify


def create_simulator(app_key, app_secret, **options):
    """Build the simulator app."""
    app = Flask(__name__)

    @app.post("/sim/reset")
    def reset():
        return jsonify(ok=True)

    return app

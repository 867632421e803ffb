"""Run the simulator on a real socket in a background thread (tests, benchmarks, ``make run``)."""

import threading

from werkzeug.serving import make_server

from portal.hikvision.simulator.app import create_simulator


class SimulatorServer:
    """A simulator listening on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(
        self,
        app_key="12345678",
        app_secret="simulator-secret-000",
        host="127.0.0.1",
        port=0,
        **options,
    ):
        self.app_key = app_key
        self.app_secret = app_secret
        self.app = create_simulator(app_key=app_key, app_secret=app_secret, **options)
        self._server = make_server(host, port, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join(timeout=5)

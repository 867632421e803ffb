"""Run the simulator on a real socket in a background thread (tests, benchmarks, ``make run``)."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from portal.hikvision.simulator.app import create_simulator
from portal.hikvision.simulator.control import SimulatorControl


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (benchmarks make thousands)."""

    def log_request(self, code="-", size="-"):
        pass


class SimulatorServer:
    """A simulator listening on ``host:port`` (port 0 picks a free one) in a daemon thread.

    ``options`` go to ``create_simulator`` (latency_ms, rate_limit, fault_rate, ...); with an
    ``ssl_context`` it serves HTTPS (TLS tests)."""

    def __init__(
        self,
        app_key="12345678",
        app_secret="simulator-secret-000",
        host="127.0.0.1",
        port=0,
        quiet=True,
        ssl_context=None,
        **options,
    ):
        self.app_key = app_key
        self.app_secret = app_secret
        self.app = create_simulator(app_key=app_key, app_secret=app_secret, **options)
        handler = QuietRequestHandler if quiet else WSGIRequestHandler
        self._server = make_server(
            host, port, self.app, threaded=True, request_handler=handler, ssl_context=ssl_context
        )
        # Threads serving slow calls must not keep the process alive.
        self._server.daemon_threads = True
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def simulator(self):
        """The in-process ``Simulator`` (state and knobs), for white-box checks."""
        return self.app.extensions["simulator"]

    def control(self):
        """A ``SimulatorControl`` for this server."""
        return SimulatorControl(self.url)

    def start(self):
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in the calling thread until interrupted (the ``sim`` command)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self):
        """Stop serving and release the port (safe when never started)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

"""A client for the simulator's unsigned control API (design §5)."""

import requests


class SimulatorControl:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def reset(self):
        self.session.post(f"{self.url}/sim/reset", timeout=5).raise_for_status()

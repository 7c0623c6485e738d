"""Serving the app with uvicorn: in the foreground (``wirewatch web``) or beside the workers
(``wirewatch run`` with ``[web] port``, ``wirewatch demo --serve``).

In: the settings, a host and a port. Out: a running server; :class:`BackgroundServer` runs one in a
thread and stops it on :meth:`~BackgroundServer.stop`.
"""

from __future__ import annotations

import threading
import time

import uvicorn

from wirewatch.app.web.app import build_app
from wirewatch.config import Settings


def _config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(build_app(settings), host=host, port=port, log_level="warning", access_log=False,
                          server_header=False, proxy_headers=False)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.Server(_config(settings, host, port)).run()


class BackgroundServer:
    """The app in a thread of this process."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.server = uvicorn.Server(_config(settings, host, port))
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web app did not start (is the port taken?)")
            time.sleep(0.05)
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

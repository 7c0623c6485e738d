"""A loopback HTTP site: a dict of paths to responses, served from a thread.

In: :class:`Resource` per path. Out: a server on 127.0.0.1 and a free port. Used by the demo and by
the tests (feeds, pages, error statuses, wrong content types) — never a mock of HTTP, a real server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between 16-byte pieces: a slow-loris server


class LoopbackSite:
    """``with LoopbackSite(resources) as site: site.url('/feed.xml')``; resources may change while serving."""

    def __init__(self, resources: dict[str, Resource] | None = None, host: str = "127.0.0.1",
                 keep_requests: bool = True, port: int = 0) -> None:
        self.resources: dict[str, Resource] = dict(resources or {})
        self.requests: list[tuple[str, dict[str, str]]] = []  # each request's path and headers, if kept
        self.served = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.served += 1
                if keep_requests:
                    site.requests.append((self.path, dict(self.headers.items())))
                res = site.resources.get(self.path.split("?", 1)[0])
                if res is None:
                    res = Resource(b"not found", "text/plain", 404)
                etag = res.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(res.status)
                self.send_header("Content-Type", res.content_type)
                self.send_header("Content-Length", str(len(res.body)))
                for key, value in res.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not res.trickle:
                    self.wfile.write(res.body)
                    return
                for i in range(0, len(res.body), 16):
                    try:
                        self.wfile.write(res.body[i:i + 16])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(res.trickle)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="loopback-site", daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> LoopbackSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LoopbackSite:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

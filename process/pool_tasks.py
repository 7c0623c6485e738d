"""The calls the extract stage hands its worker processes, from a module its own process imports for nothing.

In: a page's bytes, address and whether its date must be searched for (or nothing, for the warm-up); at a
worker's start, the stage process's pid (:func:`follow_stage`). Out: what ``process.page_text`` gives.
A function handed to a process pool is pickled by its module and name, so the process that submits it imports
that module: these import ``process.page_text`` (trafilatura, htmldate, py3langid, about
0.4 s of CPU) only when they run, in a worker whose fork server has loaded it already (``process.pool_preload``).
The stage's own process then never loads trafilatura unless it extracts a page itself.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Any

ORPHAN_POLL_SECONDS = 1.0  # where a process cannot be waited for by its pidfd: how often it is looked for


def extract_page(content: bytes, url: str, need_date: bool = True) -> dict[str, Any] | str:
    """``page_text.extract_page`` in the worker."""
    from wirewatch.process.page_text import extract_page as extract

    return extract(content, url, need_date)


def warm_up() -> None:
    """``page_text.warm_up`` in the worker: a first page extracted, so that the worker is ready when the stage is."""
    from wirewatch.process.page_text import warm_up as first_page

    first_page()


def follow_stage(pid: int) -> None:
    """The pool's initializer: the worker exits when the stage's process ``pid`` is gone, however it ended.

    A worker holds both ends of its task queue, so a stage killed by SIGKILL (or the OOM killer) never closes
    it: without this the worker waited for tasks forever, and kept its fork server (about 130 MB each) and the
    resource tracker alive with it. The wait is a pidfd (Linux ≥ 5.3: no polling, no pid reused), else a look
    every :data:`ORPHAN_POLL_SECONDS`."""
    threading.Thread(target=_exit_after, args=(pid,), name="follow-stage", daemon=True).start()


def _exit_after(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)  # gone already
    except (AttributeError, OSError):  # no pidfd here: look for the process now and then
        while True:
            time.sleep(ORPHAN_POLL_SECONDS)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # alive, another user's (cannot be ours, but never exit on it)
    select.select([fd], [], [])  # readable once the process has exited
    os._exit(0)

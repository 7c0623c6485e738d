"""The calls the extract stage hands its worker processes, from a module its own process imports for nothing.

In: a page's bytes, address and whether its date must be searched for (or nothing, for the warm-up). Out: what
``process.page_text`` gives. A function handed to a process pool is pickled by its module and name, so the process
that submits it imports that module: these import ``process.page_text`` (trafilatura, htmldate, py3langid, about
0.4 s of CPU) only when they run, in a worker whose fork server has loaded it already (``process.pool_preload``).
The stage's own process then never loads trafilatura unless it extracts a page itself.
"""

from __future__ import annotations

from typing import Any


def extract_page(content: bytes, url: str, need_date: bool = True) -> dict[str, Any] | str:
    """``page_text.extract_page`` in the worker."""
    from wirewatch.process.page_text import extract_page as extract

    return extract(content, url, need_date)


def warm_up() -> None:
    """``page_text.warm_up`` in the worker: a first page extracted, so that the worker is ready when the stage is."""
    from wirewatch.process.page_text import warm_up as first_page

    first_page()

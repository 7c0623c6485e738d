"""Lazy exports: a stage's ``tools`` module names what the app may use of it, imported at first use.

In: a mapping ``public name -> (module, attribute)``. Out: a module-level ``__getattr__`` (PEP 562)
that imports the module when the name is first read, so that ``wirewatch --help`` loads none of the
stages' heavy modules (trafilatura, scikit-learn), and an unknown name says which names there are.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(owner: str, names: Mapping[str, tuple[str, str]]) -> Callable[[str], object]:
    """The ``__getattr__`` of module ``owner``: ``names[name]`` imported on first access."""

    def __getattr__(name: str) -> object:
        try:
            module, attribute = names[name]
        except KeyError:
            raise AttributeError(f"{owner} offers no {name!r}; it offers {', '.join(sorted(names))}") from None
        return getattr(importlib.import_module(module), attribute)

    return __getattr__

"""The ``wirewatch`` command's entry point, and ``python -m wirewatch``: the command line of :mod:`wirewatch.app.cli`.

In: the command line. Out: what the command does. The ``wirewatch`` script calls :func:`main` of this
small module, which imports the command line only when called. That matters for the extraction
workers: a fork-server or spawned worker runs its parent's main script again, and under the
``wirewatch`` script that re-run now imports this module and nothing else, instead of the whole command
line (click, pydantic, SQLAlchemy, Alembic, kafka-python: about 1 s of CPU per worker).
"""

from __future__ import annotations


def main() -> None:
    from wirewatch.app.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()

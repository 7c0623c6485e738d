"""The command line: ``wirewatch run | poll | extract | classify | alert | broker | demo | feeds | watch | ...``.

In: options, environment and an optional TOML config file. Out: running workers or a report.
Configuration errors and unreachable services end the command with one clear line and exit code 2,
not a traceback. Each module of this package adds one family of commands to the group of
:mod:`wirewatch.app.cli.root`, which imports a family when one of its commands is asked for
(:data:`~wirewatch.app.cli.root.FAMILIES`).
"""

from wirewatch.app.cli.root import main

__all__ = ["main"]

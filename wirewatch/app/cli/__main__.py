"""``python -m wirewatch.app.cli``: the same command line as the ``wirewatch`` script."""

from wirewatch.app.cli import main

main()

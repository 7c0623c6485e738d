"""``python -m wirewatch``: the same command line as the ``wirewatch`` script."""

from wirewatch.app.cli import main

main()

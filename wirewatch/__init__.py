"""wirewatch: the shared core of the pipeline.

In: nothing of its own. Out: what every stage needs and nothing a stage does — the message schema
(``schema``), the configuration (``config``), the Kafka wiring (``kafka``, ``broker``), the database
(``database``) with the state that crosses stages (``entry_progress``, ``heartbeats``), and the command
line (``app.cli``). The stages live in the top-level packages ``ingest``,
``process`` and ``alerts``; they import this core, never each other.
"""

__version__ = "0.1.0"

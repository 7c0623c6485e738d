"""The root of the command line: the ``wirewatch`` group, its context and how commands fail.

In: ``--config``, ``--data-dir`` and the environment. Out: :class:`Context` (settings read once, logging set
up), :func:`open_store`, and :func:`fail` / :func:`reported`, which end a command with one line and exit code 2.
The group imports each family of commands (a module of this package, :data:`FAMILIES`) when one of its
commands is asked for, so that ``wirewatch feeds list`` imports neither the pipeline nor kafka-python.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from wirewatch.app import registry
from wirewatch.stage import StageError

if TYPE_CHECKING:
    from wirewatch.app.state import AppState
    from wirewatch.config import Settings

log = logging.getLogger("wirewatch")

#: the failures a command ends with one line, by module and name: a module not imported raised none of them
EXPECTED: tuple[tuple[str, str], ...] = (
    ("wirewatch.config", "ConfigError"), ("wirewatch.broker", "BrokerError"),
    ("wirewatch.kafka", "BrokerUnavailable"), ("wirewatch.database", "StorageError"))

#: each command of the root group -> the module of this package that adds it (imported when it is asked for),
#: and the name of the command in it when the module does not add it to the group itself
FAMILIES: Mapping[str, tuple[str, str]] = {
    **{name: ("wirewatch.app.cli.workers", "") for name in ("run", *registry.NAMES, "broker", "demo")},
    "feeds": ("wirewatch.app.cli.feeds", ""),
    **{name: ("wirewatch.app.cli.ops", "") for name in ("status", "db", "deadletter")},
    **{name: ("wirewatch.app.cli.people", "") for name in ("subscribers", "feedback", "export-feedback", "watch")},
    **{name: ("wirewatch.app.cli.topics", "") for name in ("train", "backtest", "evaluate", "rules")},
    "web": ("wirewatch.app.web.commands", "web"), "users": ("wirewatch.app.web.commands", "users"),
}


class CommandFamilies(click.Group):
    """The ``wirewatch`` group: its commands are those of :data:`FAMILIES`, each module imported at first need."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(FAMILIES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in FAMILIES:
            module, attribute = FAMILIES[cmd_name]
            imported = importlib.import_module(module)  # a family adds its commands to this group
            if attribute:
                self.add_command(getattr(imported, attribute))
        return super().get_command(ctx, cmd_name)

    def load_all(self) -> None:
        """Import every family (``wirewatch --help`` lists them all anyway; tests)."""
        for name in FAMILIES:
            self.get_command(click.Context(self), name)


def expected_failures() -> tuple[type[Exception], ...]:
    """The expected failures' classes among the modules imported so far (StageError: PipelineError too)."""
    found = [getattr(sys.modules[module], name) for module, name in EXPECTED if module in sys.modules]
    return (StageError, *found)


def setup_logging(level: str, json_logs: str = "auto") -> None:
    from wirewatch.app.observability import ArticleContext, JsonLogFormatter

    handler = logging.StreamHandler(sys.stderr)
    if json_logs == "always" or (json_logs == "auto" and not sys.stderr.isatty()):
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    handler.addFilter(ArticleContext())
    logging.basicConfig(level=getattr(logging, level), handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its own retries are not ours to report
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.WARNING)
    logging.getLogger("htmldate").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-step chatter; ours says what changed


def stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: draining and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def topic_names(rules_dir: str) -> set[str] | None:
    """The topics a rules folder defines ('' = the bundled pack): one per ``*.rules`` file; None when
    there is no such folder (that is reported when the classifier starts)."""
    folder = Path(rules_dir) if rules_dir else registry.process.bundled_rules_dir()
    return {p.stem for p in folder.glob(f"*{registry.process.RULES_SUFFIX}")} if folder.is_dir() else None


class Context:
    def __init__(self, config: str | None, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._settings: Settings | None = None

    def reload_settings(self) -> Settings:
        """The configuration read again from the same file and environment (for SIGHUP)."""
        from wirewatch.config import load_settings

        return load_settings(self.config, overrides={"data_dir": self.data_dir} if self.data_dir else {},
                             topics=topic_names)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self.reload_settings()
            setup_logging(self._settings.log_level, self._settings.observability.json_logs)
        return self._settings


def fail(exc: Exception) -> NoReturn:
    database = sys.modules.get("wirewatch.database")  # not imported: none of its failures can have happened
    if database is not None and isinstance(exc, database.UNAVAILABLE):  # the driver's words, not SQLAlchemy's
        exc = database.StorageError(f"the database is unreachable: {' '.join(str(getattr(exc, 'orig', exc)).split())}")
    click.echo(f"wirewatch: {exc}", err=True)
    sys.exit(2)


@contextmanager
def reported(*also: type[Exception]) -> Iterator[None]:
    """Expected failures (config, broker, database, ...) end the command with one line, exit code 2."""
    try:
        yield
    except Exception as exc:
        database = sys.modules.get("wirewatch.database")
        unavailable = database.UNAVAILABLE if database is not None else ()
        if not isinstance(exc, (*expected_failures(), *unavailable, *also)):
            raise
        fail(exc)


@click.group(cls=CommandFamilies)
@click.option("--config", "-c", envvar="WIREWATCH_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file  [env: WIREWATCH_CONFIG]")
@click.option("--data-dir", envvar="WIREWATCH_DATA_DIR", help="state, model and outbox  [env: WIREWATCH_DATA_DIR]")
@click.version_option(package_name="wirewatch")
@click.pass_context
def main(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """wirewatch: watch news feeds and email analysts about the stories they follow."""
    ctx.obj = Context(config, data_dir)
    gc.freeze()  # the command's modules are imported: the collections of its start-up need not walk them again
    # at exit (after the threads are joined, before the modules are torn down), the objects left are frozen:
    # the interpreter's last collections then skip them instead of walking the ~200,000 objects of a run's
    # modules and stages, about 0.4 s of CPU per `run --once`; they are freed with the process as before
    atexit.unregister(gc.freeze)  # once, however many commands one process runs (tests)
    atexit.register(gc.freeze)


def open_store(ctx: Context, read_only: bool = False) -> AppState:
    """The database; ``read_only`` for commands that only show it (they never create or migrate one)."""
    from wirewatch.app.state import AppState

    settings = ctx.settings
    if read_only:
        return AppState.open(settings.database_url, read_only=True)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return AppState.of(settings)


def ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (when - datetime.now(UTC)).total_seconds()
    span = abs(seconds)
    text = f"{span / 3600:.1f}h" if span >= 3600 else f"{span / 60:.0f}m" if span >= 60 else f"{span:.0f}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"

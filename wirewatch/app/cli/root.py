"""The root of the command line: the ``wirewatch`` group, its context and how commands fail.

In: ``--config``, ``--data-dir`` and the environment. Out: :class:`Context` (settings read once, logging set
up), :func:`open_store`, and :func:`fail` / :func:`reported`, which end a command with one line and exit code 2.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from wirewatch.app import registry
from wirewatch.app.observability import ArticleContext, JsonLogFormatter
from wirewatch.app.state import AppState
from wirewatch.broker import BrokerError
from wirewatch.config import ConfigError, Settings, load_settings
from wirewatch.database import UNAVAILABLE, StorageError
from wirewatch.kafka import BrokerUnavailable
from wirewatch.stage import StageError

log = logging.getLogger("wirewatch")

EXPECTED = (ConfigError, StageError, BrokerError, BrokerUnavailable, StorageError)  # StageError: PipelineError too


def setup_logging(level: str, json_logs: str = "auto") -> None:
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
        return load_settings(self.config, overrides={"data_dir": self.data_dir} if self.data_dir else {},
                             topics=topic_names)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self.reload_settings()
            setup_logging(self._settings.log_level, self._settings.observability.json_logs)
        return self._settings


def fail(exc: Exception) -> NoReturn:
    if isinstance(exc, UNAVAILABLE):  # the driver's words, not SQLAlchemy's statement and help link
        exc = StorageError(f"the database is unreachable: {' '.join(str(getattr(exc, 'orig', exc)).split())}")
    click.echo(f"wirewatch: {exc}", err=True)
    sys.exit(2)


@contextmanager
def reported(*also: type[Exception]) -> Iterator[None]:
    """Expected failures (config, broker, database, ...) end the command with one line, exit code 2."""
    try:
        yield
    except (*EXPECTED, *also) as exc:
        fail(exc)


@click.group()
@click.option("--config", "-c", envvar="WIREWATCH_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file  [env: WIREWATCH_CONFIG]")
@click.option("--data-dir", envvar="WIREWATCH_DATA_DIR", help="state, model and outbox  [env: WIREWATCH_DATA_DIR]")
@click.version_option(package_name="wirewatch")
@click.pass_context
def main(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """wirewatch: watch news feeds and email analysts about the stories they follow."""
    ctx.obj = Context(config, data_dir)


def open_store(ctx: Context, read_only: bool = False) -> AppState:
    """The database; ``read_only`` for commands that only show it (they never create or migrate one)."""
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

"""The command line: ``wirewatch run | poll | extract | classify | alert | broker | demo | train | rules``.

In: options, environment and an optional TOML config file. Out: running workers or a report.
Configuration errors and unreachable services end the command with one clear line and exit code 2,
not a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from wirewatch.broker import BrokerError, EmbeddedBroker
from wirewatch.config import ConfigError, Settings, load_settings
from wirewatch.kafka import BrokerUnavailable
from wirewatch.pipeline import Pipeline, PipelineError
from wirewatch.storage import StorageError

log = logging.getLogger("wirewatch")

EXPECTED = (ConfigError, PipelineError, BrokerError, BrokerUnavailable, StorageError)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("trafilatura").setLevel(logging.WARNING)
    logging.getLogger("htmldate").setLevel(logging.WARNING)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s: draining and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


class Context:
    def __init__(self, config: str | None, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            overrides = {"data_dir": self.data_dir} if self.data_dir else {}
            self._settings = load_settings(self.config, overrides=overrides)
            _setup_logging(self._settings.log_level)
        return self._settings


def _fail(exc: Exception) -> None:
    click.echo(f"wirewatch: {exc}", err=True)
    sys.exit(2)


@click.group()
@click.option("--config", "-c", envvar="WIREWATCH_CONFIG", type=click.Path(dir_okay=False),
              help="TOML configuration file  [env: WIREWATCH_CONFIG]")
@click.option("--data-dir", envvar="WIREWATCH_DATA_DIR", help="state, model and outbox  [env: WIREWATCH_DATA_DIR]")
@click.version_option(package_name="wirewatch")
@click.pass_context
def main(ctx: click.Context, config: str | None, data_dir: str | None) -> None:
    """wirewatch: watch news feeds and email analysts about the stories they follow."""
    ctx.obj = Context(config, data_dir)


def _run(ctx: Context, stages: tuple[str, ...], embedded: bool, once: bool = False) -> None:
    try:
        settings = ctx.settings
        with Pipeline(settings, allow_embedded=embedded) as pipeline:
            pipeline.run(stages, _stop_on_signals(), poll_once=once, until_idle=once)
            click.echo(json.dumps(pipeline.progress.snapshot()), err=True)
    except EXPECTED as exc:
        _fail(exc)


@main.command()
@click.option("--once", is_flag=True, help="poll every feed once, process everything, then exit")
@click.pass_obj
def run(ctx: Context, once: bool) -> None:
    """Run every stage in one process (with the embedded broker when none is configured)."""
    _run(ctx, ("poll", "extract", "classify", "alert"), embedded=True, once=once)


@main.command()
@click.option("--once", is_flag=True, help="poll every feed once, then exit")
@click.pass_obj
def poll(ctx: Context, once: bool) -> None:
    """Poll the configured feeds and publish new entries on `entries`."""
    _run(ctx, ("poll",), embedded=False, once=once)


def _stage_command(stage: str, doc: str) -> None:
    @main.command(name=stage, help=doc)
    @click.pass_obj
    def command(ctx: Context) -> None:
        _run(ctx, (stage,), embedded=False)


_stage_command("extract", "Fetch and extract articles: `entries` -> `articles`.")
_stage_command("classify", "Tag articles with topics: `articles` -> `tagged`.")
_stage_command("alert", "Link tagged articles to watched stories and send email.")


@main.command()
@click.option("--port", type=int, default=9092, show_default=True)
def broker(port: int) -> None:
    """Run the bundled Kafka-compatible broker in the foreground (memory only), for separate workers."""
    _setup_logging("INFO")
    try:
        with EmbeddedBroker(port=port) as b:
            click.echo(f"broker listening on {b.bootstrap}; export KAFKA_BOOTSTRAP_SERVERS={b.bootstrap}")
            _stop_on_signals().wait()
    except BrokerError as exc:
        _fail(exc)


@main.command()
@click.pass_obj
def demo(ctx: Context) -> None:
    """Serve the bundled demo corpus on loopback and run the whole pipeline over it."""
    from wirewatch.demo.run import run_demo

    try:
        settings = ctx.settings
        if settings.log_level == "INFO":  # the demo's report is the output; log only what went wrong
            logging.getLogger().setLevel(logging.WARNING)
        if settings.kafka.bootstrap_servers or settings.database.url or settings.smtp.host:
            click.echo("note: using the configured broker/database/SMTP instead of the embedded defaults", err=True)
        run_demo(settings, sys.stdout)
    except EXPECTED as exc:
        _fail(exc)


@main.command()
@click.argument("data", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--no-bootstrap", is_flag=True, help="train on DATA only, without the bundled examples")
@click.pass_obj
def train(ctx: Context, data: tuple[str, ...], no_bootstrap: bool) -> None:
    """Train the topic model on the bundled examples plus DATA (JSONL) and save it."""
    from process.model import bundled_training_file, read_examples, save
    from process.model import train as fit

    try:
        settings = ctx.settings
        examples = [] if no_bootstrap else read_examples(bundled_training_file())
        for path in data:
            examples += read_examples(path)
        model = fit(examples)
        save(model, settings.model_file)
    except (ValueError, *EXPECTED) as exc:
        _fail(exc)
    click.echo(f"saved {settings.model_file}: {json.dumps(model.meta)}")


@main.group()
def rules() -> None:
    """Check the topic rules that editors keep."""


@rules.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.pass_obj
def rules_check(ctx: Context, folder: str | None) -> None:
    """Report every error in the rule files of FOLDER (default: the configured or bundled rules)."""
    from process.rules import RuleError, bundled_rules_dir, load_rules

    try:
        target = Path(folder or ctx.settings.classify.rules_dir or bundled_rules_dir())
        pack = load_rules(target)
    except RuleError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except EXPECTED as exc:
        _fail(exc)
    for topic, rules_ in pack.topics.items():
        click.echo(f"{rules_.path}: topic {topic}: {len(rules_.patterns)} patterns, threshold {rules_.threshold:g}")
    click.echo(f"ok (rules version {pack.version})")


if __name__ == "__main__":
    main()

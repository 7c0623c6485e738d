"""Commands that run workers: ``run``, one command per stage of the registry (``poll``, ``extract``,
``classify``, ``alert``), ``broker`` and ``demo``.

In: the settings. Out: stages running until SIGTERM (or, with ``--once``, until the pipeline is idle).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click

from wirewatch.app import registry
from wirewatch.app.cli.root import (
    Context,
    fail,
    log,
    main,
    reported,
    setup_logging,
    stop_on_signals,
)
from wirewatch.app.pipeline import Pipeline
from wirewatch.broker import BrokerError, EmbeddedBroker
from wirewatch.config import Settings


def _run(ctx: Context, stages: tuple[str, ...], embedded: bool, once: bool = False) -> None:
    with reported():
        settings = ctx.settings
        stop = stop_on_signals()
        reload_requested = threading.Event()  # a SIGHUP during start-up is kept for when the workers run
        signal.signal(signal.SIGHUP, lambda _signum, _frame: reload_requested.set())
        with Pipeline(settings, allow_embedded=embedded, load_config=ctx.reload_settings,
                      reload_requested=reload_requested) as pipeline, web_beside(settings, once):
            # idle is decided by the counters (each batch's outputs are counted before its records), not by time
            pipeline.run(stages, stop, poll_once=once, until_idle=once, idle_grace=0.5)
            click.echo(json.dumps(pipeline.progress.snapshot()), err=True)


@contextmanager
def web_beside(settings: Settings, once: bool) -> Iterator[None]:
    """The web app in this process too, when ``[web] port`` is set (not for a one-off --once run)."""
    if not settings.web.port or once:
        yield
        return
    from wirewatch.app.web.server import BackgroundServer

    with BackgroundServer(settings, settings.web.host, settings.web.port):
        log.info("web app on http://%s:%s/", settings.web.host, settings.web.port)
        yield


@main.command()
@click.option("--once", is_flag=True, help="poll every feed once, process everything, then exit")
@click.pass_obj
def run(ctx: Context, once: bool) -> None:
    """Run every stage in one process (with the embedded broker when none is configured)."""
    _run(ctx, registry.NAMES, embedded=True, once=once)


def _stage_command(stage: str, doc: str) -> None:
    @main.command(name=stage, help=doc)
    @click.pass_obj
    def command(ctx: Context) -> None:
        _run(ctx, (stage,), embedded=False)


def _source_command(stage: str, doc: str) -> None:
    @main.command(name=stage, help=doc)
    @click.option("--once", is_flag=True, help="one cycle (every due feed polled once), then exit")
    @click.pass_obj
    def command(ctx: Context, once: bool) -> None:
        _run(ctx, (stage,), embedded=False, once=once)


for _stage in registry.stages():
    (_source_command if registry.is_source(_stage.name) else _stage_command)(_stage.name, _stage.help)


@main.command()
@click.option("--port", type=int, default=9092, show_default=True)
def broker(port: int) -> None:
    """Run the bundled Kafka-compatible broker in the foreground (memory only), for separate workers."""
    setup_logging("INFO")
    try:
        with EmbeddedBroker(port=port) as b:
            click.echo(f"broker listening on {b.bootstrap}; export KAFKA_BOOTSTRAP_SERVERS={b.bootstrap}")
            stop_on_signals().wait()
    except BrokerError as exc:
        fail(exc)


@main.command()
@click.option("--serve", is_flag=True, help="then keep the web app up on the demo's data (Ctrl-C ends it)")
@click.option("--port", type=int, default=8080, show_default=True, help="the web app's port, with --serve")
@click.pass_obj
def demo(ctx: Context, serve: bool, port: int) -> None:
    """Serve the bundled demo corpus on loopback and run the whole pipeline over it."""
    from wirewatch.app.demo import DEMO_DIR, run_demo

    with reported():
        settings = ctx.settings
        if ctx.data_dir is None and settings.data_dir == Settings.model_fields["data_dir"].default:
            settings = settings.model_copy(update={"data_dir": DEMO_DIR})  # never the real ./wirewatch-data
        if settings.log_level == "INFO":  # the demo's report is the output; log only what went wrong
            logging.getLogger().setLevel(logging.WARNING)
        if settings.kafka.bootstrap_servers or settings.database.url or settings.smtp.host:
            click.echo("note: using the configured broker/database/SMTP instead of the embedded defaults", err=True)
        run_demo(settings, sys.stdout)
        if serve:
            from wirewatch.app.web.demo import serve_demo

            serve_demo(settings, port, sys.stdout)

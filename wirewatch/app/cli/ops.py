"""Commands for operators: ``status``, ``db current | upgrade`` and ``deadletter list | replay``.

In: the database and the broker the workers use. Out: one screen or JSON on stdout; messages sent again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wirewatch.app.cli.root import (
    Context,
    main,
    open_store,
    reported,
)
from wirewatch.database import UNAVAILABLE, StorageError

if TYPE_CHECKING:
    from wirewatch.config import Settings
    from wirewatch.schema import DeadLetter


@main.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of text")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """One screen on the running pipeline: workers, lag, feeds, entries, outbox, alert delay."""
    from wirewatch.app.status import collect, render

    with reported(*UNAVAILABLE):
        report = collect(open_store(ctx, read_only=True))
    click.echo(json.dumps(report) if as_json else render(report))


@main.group()
def db() -> None:
    """The database schema: `current`, `upgrade` (run once per release when auto_migrate is off)."""


def _engine(ctx: Context, read_only: bool = False) -> Any:
    from sqlalchemy import create_engine

    settings = ctx.settings
    url = settings.database_url
    if read_only and url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise StorageError(f"no database at {url.removeprefix('sqlite:///')} (a mistyped path or data directory?); "
                           "nothing was created")
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return create_engine(url)


@db.command("current")
@click.pass_obj
def db_current(ctx: Context) -> None:
    """The database's schema revision and the one this version of wirewatch needs."""
    from wirewatch import migrate

    with reported(*UNAVAILABLE), _engine(ctx, read_only=True).connect() as conn:
        revision = migrate.current(conn)
    click.echo(f"database at {revision or 'none (empty)'}; this version needs {migrate.head()}")


@db.command("upgrade")
@click.option("--to", "target", default="head", show_default=True, help="the revision to reach")
@click.pass_obj
def db_upgrade(ctx: Context, target: str) -> None:
    """Migrate the schema (safe to run while workers run: one migration at a time, in one transaction)."""
    from wirewatch import migrate

    with reported(*UNAVAILABLE):
        before, after = migrate.upgrade(_engine(ctx), target)
    click.echo(f"database schema: {before or 'none'} -> {after}")


@main.group()
def deadletter() -> None:
    """Show and re-drive the messages that a stage could not process (topic `deadletter`)."""


def _dead_letters(settings: Settings, timeout: float = 5.0) -> list[tuple[int, int, DeadLetter]]:
    from wirewatch.kafka import KafkaWiring, read_dead_letters

    if not settings.kafka.bootstrap_servers:
        from wirewatch.app.pipeline import PipelineError

        raise PipelineError("set KAFKA_BOOTSTRAP_SERVERS: dead letters live on the broker the workers use")
    wiring = KafkaWiring(settings.kafka, settings.kafka.bootstrap_servers)
    wiring.check_reachable()
    return read_dead_letters(wiring, quiet=timeout)


@deadletter.command("list")
@click.option("--stage", help="only this stage's")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def deadletter_list(ctx: Context, stage: str | None, as_json: bool) -> None:
    """Every dead letter: when, which stage, why, where it came from."""
    with reported():
        letters = [x for x in _dead_letters(ctx.settings) if stage is None or x[2].stage == stage]
    for partition, offset, letter in letters:
        if as_json:
            data = {"partition": partition, "offset": offset, **letter.model_dump()}
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            click.echo(f"{letter.failed_at} {letter.stage:<8} {letter.reason:<16} {letter.source_topic}"
                       f"[{letter.partition}]@{letter.offset}: {letter.error[:160]}")
    if not as_json:
        click.echo(f"{len(letters)} dead letters")


@deadletter.command("replay")
@click.option("--stage", help="only this stage's")
@click.option("--reason", help="only this reason (e.g. processing_error)")
@click.pass_obj
def deadletter_replay(ctx: Context, stage: str | None, reason: str | None) -> None:
    """Publish dead letters' original messages again, with their original keys, to the topic they came from
    (after a fix): through the workers' delivery path, so it ends only when the broker has them all."""
    from wirewatch.kafka import KafkaWiring, TransientFailure, replay_dead_letters

    with reported(TransientFailure):
        settings = ctx.settings
        letters = [x[2] for x in _dead_letters(settings)
                   if (stage is None or x[2].stage == stage) and (reason is None or x[2].reason == reason)]
        whole = [d for d in letters if d.whole]
        if len(whole) < len(letters):
            click.echo(f"not replayed: {len(letters) - len(whole)} dead letters without their whole message "
                       "(a tombstone, or a record too large, kept in part)", err=True)
        sent = replay_dead_letters(KafkaWiring(settings.kafka, settings.kafka.bootstrap_servers), whole)
    click.echo(f"replayed {sent} messages")

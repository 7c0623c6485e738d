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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import EmailStr, ValidationError

from wirewatch.broker import BrokerError, EmbeddedBroker
from wirewatch.config import ConfigError, FeedSettings, Settings, WatchSettings, load_settings
from wirewatch.kafka import BrokerUnavailable
from wirewatch.observability import ArticleContext, JsonLogFormatter
from wirewatch.pipeline import Pipeline, PipelineError, build_classifier
from wirewatch.storage import UNAVAILABLE, StorageError, Store

log = logging.getLogger("wirewatch")

EXPECTED = (ConfigError, PipelineError, BrokerError, BrokerUnavailable, StorageError)


def _setup_logging(level: str, json_logs: str = "auto") -> None:
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


def _stop_on_signals() -> threading.Event:
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
    from process.rules import RULES_SUFFIX, bundled_rules_dir

    folder = Path(rules_dir) if rules_dir else bundled_rules_dir()
    return {p.stem for p in folder.glob(f"*{RULES_SUFFIX}")} if folder.is_dir() else None


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
            _setup_logging(self._settings.log_level, self._settings.observability.json_logs)
        return self._settings


def _fail(exc: Exception) -> NoReturn:
    if isinstance(exc, UNAVAILABLE):  # the driver's words, not SQLAlchemy's statement and help link
        exc = StorageError(f"the database is unreachable: {' '.join(str(getattr(exc, 'orig', exc)).split())}")
    click.echo(f"wirewatch: {exc}", err=True)
    sys.exit(2)


@contextmanager
def _reported(*also: type[Exception]) -> Iterator[None]:
    """Expected failures (config, broker, database, ...) end the command with one line, exit code 2."""
    try:
        yield
    except (*EXPECTED, *also) as exc:
        _fail(exc)


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
    with _reported():
        settings = ctx.settings
        stop = _stop_on_signals()
        reload_requested = threading.Event()  # a SIGHUP during start-up is kept for when the workers run
        signal.signal(signal.SIGHUP, lambda _signum, _frame: reload_requested.set())
        with Pipeline(settings, allow_embedded=embedded, load_config=ctx.reload_settings,
                      reload_requested=reload_requested) as pipeline, _web_beside(settings, once):
            pipeline.run(stages, stop, poll_once=once, until_idle=once)
            click.echo(json.dumps(pipeline.progress.snapshot()), err=True)


@contextmanager
def _web_beside(settings: Settings, once: bool) -> Iterator[None]:
    """The web app in this process too, when ``[web] port`` is set (not for a one-off --once run)."""
    if not settings.web.port or once:
        yield
        return
    from wirewatch.web.server import BackgroundServer

    with BackgroundServer(settings, settings.web.host, settings.web.port):
        log.info("web app on http://%s:%s/", settings.web.host, settings.web.port)
        yield


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
@click.option("--serve", is_flag=True, help="then keep the web app up on the demo's data (Ctrl-C ends it)")
@click.option("--port", type=int, default=8080, show_default=True, help="the web app's port, with --serve")
@click.pass_obj
def demo(ctx: Context, serve: bool, port: int) -> None:
    """Serve the bundled demo corpus on loopback and run the whole pipeline over it."""
    from wirewatch.demo.run import DEMO_DIR, run_demo

    with _reported():
        settings = ctx.settings
        if ctx.data_dir is None and settings.data_dir == Settings.model_fields["data_dir"].default:
            settings = settings.model_copy(update={"data_dir": DEMO_DIR})  # never the real ./wirewatch-data
        if settings.log_level == "INFO":  # the demo's report is the output; log only what went wrong
            logging.getLogger().setLevel(logging.WARNING)
        if settings.kafka.bootstrap_servers or settings.database.url or settings.smtp.host:
            click.echo("note: using the configured broker/database/SMTP instead of the embedded defaults", err=True)
        run_demo(settings, sys.stdout)
        if serve:
            from wirewatch.web.demo import serve_demo

            serve_demo(settings, port, sys.stdout)


@main.command()
@click.argument("data", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--no-bootstrap", is_flag=True, help="train on DATA only, without the bundled examples")
@click.pass_obj
def train(ctx: Context, data: tuple[str, ...], no_bootstrap: bool) -> None:
    """Train the topic model on the bundled examples plus DATA (JSONL) and save it."""
    from process.model import bundled_training_file, read_examples, save
    from process.model import train as fit

    with _reported(ValueError):
        settings = ctx.settings
        examples = [] if no_bootstrap else read_examples(bundled_training_file())
        for path in data:
            examples += read_examples(path)
        model = fit(examples)
        save(model, settings.model_file)
    click.echo(f"saved {settings.model_file}: {json.dumps(model.meta)}")


def _store(ctx: Context, read_only: bool = False) -> Store:
    """The database; ``read_only`` for commands that only show it (they never create or migrate one)."""
    settings = ctx.settings
    if read_only:
        return Store(settings.database_url, read_only=True)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return Store(settings.database_url, auto_migrate=settings.database.auto_migrate)


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (when - datetime.now(UTC)).total_seconds()
    span = abs(seconds)
    text = f"{span / 3600:.1f}h" if span >= 3600 else f"{span / 60:.0f}m" if span >= 60 else f"{span:.0f}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


@main.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object instead of text")
@click.pass_obj
def status(ctx: Context, as_json: bool) -> None:
    """One screen on the running pipeline: workers, lag, feeds, entries, outbox, alert delay."""
    from wirewatch.status import collect, render

    with _reported(*UNAVAILABLE):
        report = collect(_store(ctx, read_only=True))
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

    with _reported(*UNAVAILABLE), _engine(ctx, read_only=True).connect() as conn:
        revision = migrate.current(conn)
    click.echo(f"database at {revision or 'none (empty)'}; this version needs {migrate.head()}")


@db.command("upgrade")
@click.option("--to", "target", default="head", show_default=True, help="the revision to reach")
@click.pass_obj
def db_upgrade(ctx: Context, target: str) -> None:
    """Migrate the schema (safe to run while workers run: one migration at a time, in one transaction)."""
    from wirewatch import migrate

    with _reported(*UNAVAILABLE):
        before, after = migrate.upgrade(_engine(ctx), target)
    click.echo(f"database schema: {before or 'none'} -> {after}")


@main.group()
def feeds() -> None:
    """Manage the feeds that are polled (kept in the database, beside those of the config file)."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", default="", help="a display name")
@click.pass_obj
def feeds_add(ctx: Context, url: str, name: str) -> None:
    """Add a feed; it is polled at the next cycle."""
    try:
        FeedSettings(url=url)
        store = _store(ctx)
        added = store.add_feed(url, name, interval=ctx.settings.poll.interval_seconds)
    except ValidationError as exc:
        _fail(ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")))
    except EXPECTED as exc:
        _fail(exc)
    click.echo(f"added {url}" if added else f"{url} is already a feed")


@feeds.command("remove")
@click.argument("url")
@click.pass_obj
def feeds_remove(ctx: Context, url: str) -> None:
    """Remove a feed (a feed of the config file comes back at the next start: remove it there too)."""
    with _reported():
        removed = _store(ctx).remove_feed(url)
    if not removed:
        click.echo(f"wirewatch: no feed {url}", err=True)
        sys.exit(1)
    in_config = any(f.url == url for f in ctx.settings.feeds)
    click.echo(f"removed {url}" + (" (it is also in the config file, which will add it again)" if in_config else ""))


@feeds.command("list")
@click.pass_obj
def feeds_list(ctx: Context) -> None:
    """One line per feed: health, URL, name."""
    with _reported():
        rows = _store(ctx, read_only=True).list_feeds()
    for row in rows:
        click.echo(f"{row.health:<9} {row.url}" + (f"  ({row.name})" if row.name else ""))
    click.echo(f"{len(rows)} feeds")


@feeds.command("status")
@click.argument("url", required=False)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per feed")
@click.pass_obj
def feeds_status(ctx: Context, url: str | None, as_json: bool) -> None:
    """Last poll, HTTP status, entries, errors, next poll and health of each feed (or of URL)."""
    with _reported():
        rows = [r for r in _store(ctx, read_only=True).list_feeds() if url is None or r.url == url]
    if url and not rows:
        _fail(ValueError(f"no feed {url}"))
    for row in rows:
        if as_json:
            data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.__dict__.items()}
            click.echo(json.dumps(data))
            continue
        click.echo(f"{row.url}\n  health {row.health}, failures in a row {row.failures}; "
                   f"last poll {_ago(row.last_polled)}, HTTP {row.last_status or '-'}; "
                   f"entries {row.entries_total} ({row.last_new} new last time); "
                   f"next poll {_ago(row.next_poll)} (interval {row.interval_seconds / 60:.0f} min)"
                   + (f"\n  error: {row.last_error}" if row.last_error else "")
                   + (f"\n  warning: {row.last_warning}" if row.last_warning else ""))
    counts = Counter(r.health for r in rows)
    if not as_json:
        click.echo(f"{len(rows)} feeds: " + ", ".join(f"{n} {h}" for h, n in sorted(counts.items())))


@feeds.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def feeds_import(ctx: Context, opml_file: str) -> None:
    """Add every feed of an OPML file."""
    from ingest.opml import OpmlError, read_opml

    with _reported(OpmlError):
        found = read_opml(Path(opml_file).read_bytes(), opml_file)
        store = _store(ctx)
    added = skipped = 0
    for url, name in found:
        try:
            FeedSettings(url=url)
        except ValidationError:
            click.echo(f"skipped {url!r}: not an http(s) URL", err=True)
            skipped += 1
            continue
        added += store.add_feed(url, name, origin="opml", interval=ctx.settings.poll.interval_seconds)
    click.echo(f"{added} feeds added, {len(found) - added - skipped} already there, {skipped} skipped")


@feeds.command("export")
@click.argument("opml_file", required=False, type=click.Path(dir_okay=False))
@click.pass_obj
def feeds_export(ctx: Context, opml_file: str | None) -> None:
    """Write the feeds as OPML (to OPML_FILE, or standard output)."""
    from ingest.opml import write_opml

    with _reported():
        data = write_opml((r.url, r.name) for r in _store(ctx, read_only=True).list_feeds())
    if opml_file:
        Path(opml_file).write_bytes(data)
    else:
        click.echo(data.decode("utf-8"), nl=False)


@feeds.command("discover")
@click.argument("url")
@click.option("--add", is_flag=True, help="add the feeds found")
@click.pass_obj
def feeds_discover(ctx: Context, url: str, add: bool) -> None:
    """Find the feeds of a site from one of its pages."""
    from ingest.discover import discover
    from ingest.feed_parsing import FeedError
    from wirewatch.http import AddressPolicy, make_client

    http = ctx.settings.http
    with _reported(FeedError):
        with make_client(ctx.settings.poll.timeout_seconds, http.agent, http.max_redirects,
                         AddressPolicy.from_strings(http.allow_networks)) as client:
            found = discover(client, url)
        store = _store(ctx) if add else None
    if not found:
        click.echo(f"no feed found for {url}", err=True)
        sys.exit(1)
    for feed_url, title in found:
        note = ""
        if store is not None:
            note = "  (added)" if store.add_feed(feed_url, title) else "  (already a feed)"
        click.echo(f"{feed_url}  {title}{note}")


@main.group()
def subscribers() -> None:
    """Manage who gets alerts: topics with a minimum score, watched stories, and a delivery mode."""


def _topic_option(value: str) -> tuple[str, float]:
    topic, _, score = value.partition(":")
    try:
        return topic.strip(), float(score) if score else 0.6
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected TOPIC or TOPIC:MIN_SCORE, e.g. energy_strikes:0.7") from None


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--mode", type=click.Choice(["immediate", "hourly", "daily"]), default="immediate", show_default=True)
@click.option("--topic", "topics", multiple=True, help="TOPIC or TOPIC:MIN_SCORE (default minimum 0.6); repeatable")
@click.option("--watch", "watch_ids", multiple=True, help="a watch id; repeatable")
@click.pass_obj
def subscribers_add(ctx: Context, email: str, name: str, mode: str, topics: tuple[str, ...],
                    watch_ids: tuple[str, ...]) -> None:
    """Add a subscriber (or update one) with topics and watches."""
    from pydantic import TypeAdapter

    try:
        address = str(TypeAdapter(EmailStr).validate_python(email))
    except ValidationError as exc:
        _fail(ValueError(f"{email!r} is not a valid email address: {exc.errors()[0]['msg']}"))
    parsed = [_topic_option(t) for t in topics]
    with _reported():
        known_topics = topic_names(ctx.settings.classify.rules_dir)
        problems = [f"minimum score of {t} is {m:g}; it is between 0 and 1" for t, m in parsed if not 0 <= m <= 1]
        problems += [f"unknown topic {t!r} (the topics are: {', '.join(sorted(known_topics))})"
                     for t, _ in parsed if known_topics is not None and t not in known_topics]
        if problems:
            _fail(ValueError("; ".join(problems)))
        store = _store(ctx)
        known = {w["id"] for w in store.list_watches()}
        unknown = [w for w in watch_ids if w not in known]
        if unknown:
            _fail(ValueError(f"unknown watch(es): {', '.join(unknown)} (see `wirewatch watch list`)"))
        store.add_subscriber(address, name, mode)
        for topic, min_score in parsed:
            store.subscribe(address, "topic", topic, min_score)
        for watch_id in watch_ids:
            store.subscribe(address, "watch", watch_id)
    click.echo(f"{address}: {mode}; topics {dict(parsed) or '-'}; watches {list(watch_ids) or '-'}")


@subscribers.command("list")
@click.pass_obj
def subscribers_list(ctx: Context) -> None:
    with _reported():
        rows = _store(ctx, read_only=True).list_subscribers()
    for sub in rows:
        topics = ", ".join(f"{t}≥{m:g}" for t, m in sorted(sub["topics"].items())) or "-"
        click.echo(f"{sub['email']}  {sub['mode']}  topics: {topics}  watches: {', '.join(sub['watches']) or '-'}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(ctx: Context, email: str) -> None:
    with _reported():
        removed = _store(ctx).remove_subscriber(email)
    if not removed:
        _fail(ValueError(f"no subscriber {email}"))
    click.echo(f"removed {email}")


@main.command()
@click.argument("ref")
@click.argument("verdict", type=click.Choice(["relevant", "not-relevant"]))
@click.pass_obj
def feedback(ctx: Context, ref: str, verdict: str) -> None:
    """Record an analyst's verdict on an alert: REF is the reference at the foot of its email.

    `wirewatch export-feedback FILE` writes the verdicts as training examples for `wirewatch train`.
    """
    with _reported():
        alert = _store(ctx).record_feedback(ref.strip(), verdict.replace("-", "_"))
    if alert is None:
        _fail(ValueError(f"no alert with reference {ref!r}"))
    click.echo(f"recorded: {verdict} for \"{alert['subject']}\"")


@main.command("export-feedback")
@click.argument("output", type=click.Path(dir_okay=False))
@click.pass_obj
def export_feedback(ctx: Context, output: str) -> None:
    """Write the verdicts as labeled examples (JSONL) for `wirewatch train`."""
    with _reported():
        rows = _store(ctx, read_only=True).feedback_examples()
    with open(output, "w", encoding="utf-8") as fh:
        for row in rows:
            topics = [t["topic"] for t in json.loads(row["facts_json"]).get("topics", [])]
            labels = {t: row["verdict"] == "relevant" for t in topics}
            fh.write(json.dumps({"id": f"feedback-{row['ref']}", "title": row["title"], "text": row["text"],
                                 "labels": labels, "note": f"analyst feedback: {row['verdict']}"},
                                ensure_ascii=False) + "\n")
    click.echo(f"{len(rows)} examples written to {output}")


@main.group()
def watch() -> None:
    """Watch stories: from an article URL, pasted text or a text file."""


@watch.command("add")
@click.option("--id", "watch_id", required=True, help="a short name: letters, digits, - and _")
@click.option("--name", required=True, help="the story's name, shown in every email")
@click.option("--url", default="", help="an article of the story (archived, or to come)")
@click.option("--text", default="", help="the story's text, pasted")
@click.option("--file", "text_file", type=click.Path(exists=True, dir_okay=False), help="a file with the story's text")
@click.option("--story", "story_id", type=int, help="a story id (see the archive's story_id): its articles so far")
@click.option("--topic", "topics", multiple=True, help="the story's topics (a URL seed adds its own)")
@click.pass_obj
def watch_add(ctx: Context, watch_id: str, name: str, url: str, text: str, text_file: str | None,
              story_id: int | None, topics: tuple[str, ...]) -> None:
    """Start watching a story; analysts subscribe to it with `wirewatch subscribers add --watch ID`."""
    if text_file:
        text = Path(text_file).read_text(encoding="utf-8", errors="replace")
    if story_id is not None:
        with _reported():
            members = _store(ctx).story_articles(story_id)
        if not members:
            _fail(ValueError(f"no story {story_id} in the archive"))
        text = "\n\n".join(f"{m['title']}\n{m['text']}" for m in members[:5])
    try:
        WatchSettings(id=watch_id, name=name, seed_url=url, seed_text=text, topics=list(topics))
    except ValidationError as exc:
        _fail(ValueError(f"watch {watch_id!r}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"))
    if not (url or text.strip()):
        _fail(ValueError("a watch needs --url, --text, --file or --story"))
    with _reported():
        added = _store(ctx).add_watch(watch_id, name, url, text, topics)
    if not added:
        _fail(ValueError(f"a watch {watch_id!r} exists already"))
    click.echo(f"watching {watch_id}: {name}")


@watch.command("list")
@click.pass_obj
def watch_list(ctx: Context) -> None:
    with _reported():
        store = _store(ctx, read_only=True)
        rows = store.list_watches()
    for row in rows:
        members = store.story_texts(row["id"])
        follow = sum(m["relation"] == "follow_up" for m in members)
        same = sum(m["relation"] == "same_report" for m in members)
        seed = row["seed_url"] or f"text ({len(row['seed_text'])} chars)"
        click.echo(f"{row['id']}  {row['name']}  seed: {seed}  follow-ups: {follow}, same report: {same}")


@watch.command("remove")
@click.argument("watch_id")
@click.pass_obj
def watch_remove(ctx: Context, watch_id: str) -> None:
    with _reported():
        removed = _store(ctx).remove_watch(watch_id)
    if not removed:
        _fail(ValueError(f"no watch {watch_id}"))
    click.echo(f"stopped watching {watch_id}")


@main.command()
@click.argument("articles", type=click.Path(exists=True, dir_okay=False))
@click.option("--rules", "candidate", type=click.Path(file_okay=False, exists=True),
              help="a candidate rule folder to compare with the live one")
@click.option("--json", "as_json", is_flag=True, help="stable JSON lines: one per article, then a summary")
@click.option("--watch", "watch_seed", help="a story to watch: a text file, or the url of an article in ARTICLES")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="when the watched story began (default: the "
              "seed's date)")
@click.pass_obj
def backtest(ctx: Context, articles: str, candidate: str | None, as_json: bool, watch_seed: str | None,
             since: datetime | None) -> None:
    """Run the classify stage offline over ARTICLES.jsonl and report what fires and why.

    Each line: id, title, text, and optionally url, published, lang and labels (then precision,
    recall and F1 per topic are printed at the end).
    """
    from process.backtest import BacktestInputError, compare, metrics, read_articles, run
    from process.classifier import RuleSource, TopicClassifier
    from process.rules import RuleError

    try:
        settings = ctx.settings
        live = build_classifier(settings)
        skipped: list[str] = []  # bad lines: each said with its place, and the rest goes on
        items = list(read_articles(articles, skipped))
        for problem in skipped:
            click.echo(f"wirewatch: skipped {problem}", err=True)
        if skipped:
            click.echo(f"wirewatch: {len(skipped)} line(s) skipped; back-testing the other {len(items)}", err=True)
        verdicts = run(live, items)
        other = None
        if candidate:
            other = run(TopicClassifier(RuleSource(candidate), live.model, settings.classify.fire_score,
                                               settings.classify.model_alone_probability), items)
    except RuleError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except (BacktestInputError, *EXPECTED) as exc:
        _fail(exc)
    topics = sorted({t.topic for v in verdicts for t in v.tagged.topics})
    changes = {c.id: c for c in compare(verdicts, other)} if other is not None else {}
    stories = _replay_watch(watch_seed, items, verdicts, live, ctx.settings, since) if watch_seed else {}
    for i, verdict in enumerate(verdicts):
        if as_json:
            line = verdict.as_json()
            if verdict.id in stories:
                line["story"] = stories[verdict.id]
            if other is not None:
                line["candidate"] = {"fired": sorted(other[i].fired())}
                change = changes.get(verdict.id)
                line["change"] = {"newly": change.newly if change else [], "stopped": change.stopped if change else []}
            click.echo(json.dumps(line, ensure_ascii=False, sort_keys=True))
            continue
        fired = [t for t in verdict.tagged.topics if t.fired]
        why = "; ".join(f"{t.topic} {t.score:.2f} ({t.explanation})" for t in fired) or "no topic"
        story = stories.get(verdict.id)
        click.echo(f"{verdict.id}: {why}" + (f"; story: {story['relation']} ({story['reason']})" if story else ""))
        change = changes.get(verdict.id)
        if change:
            click.echo(f"    with {candidate}: " + ", ".join(
                [f"+{t}" for t in change.newly] + [f"-{t}" for t in change.stopped]))
    summary: dict[str, Any] = {"articles": len(verdicts), "skipped_lines": len(skipped)}
    if any(v.labels is not None for v in verdicts):
        summary["live"] = {t: s.as_json() for t, s in metrics(verdicts, topics).items()}
        if other is not None:
            summary["candidate"] = {t: s.as_json() for t, s in metrics(other, topics).items()}
    if stories:
        summary["story"] = dict(Counter(s["relation"] for s in stories.values()))
    if other is not None:
        summary["newly_firing"] = sum(len(c.newly) for c in changes.values())
        summary["stopped_firing"] = sum(len(c.stopped) for c in changes.values())
    if as_json:
        click.echo(json.dumps({"summary": summary}, sort_keys=True))
        return
    if other is not None:
        click.echo(f"candidate rules: {summary['newly_firing']} tags would newly fire, "
                   f"{summary['stopped_firing']} would stop firing")
    if stories:
        click.echo("watched story: " + ", ".join(f"{n} {k}" for k, n in sorted(summary["story"].items())))
    for name in ("live", "candidate"):
        for topic, s in summary.get(name, {}).items():
            click.echo(f"{name} {topic}: precision {s['precision']:.3f} recall {s['recall']:.3f} "
                       f"F1 {s['f1']:.3f} (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")


@main.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="precision-recall.png",
              show_default=True, help="where to write the precision-recall plot (PNG)")
@click.option("--no-bootstrap", is_flag=True, help="train the folds on DATA only, without the bundled examples")
@click.pass_obj
def evaluate(ctx: Context, data: str, folds: int, plot_path: str, no_bootstrap: bool) -> None:
    """Cross-validated precision, recall and F1 per topic of rules + model on DATA.jsonl, and a PR plot."""
    from process.backtest import BacktestInputError, read_articles
    from process.classifier import RuleSource
    from process.evaluation import cross_validate, plot_pr
    from process.model import TOPICS, bundled_training_file, read_examples
    from process.rules import RuleError, bundled_rules_dir

    try:
        settings = ctx.settings
        items = list(read_articles(data))
        base = [] if no_bootstrap else read_examples(bundled_training_file())
        rules_ = RuleSource(settings.classify.rules_dir or bundled_rules_dir())
        results = cross_validate(items, rules_, base, TOPICS, folds, fire_score=settings.classify.fire_score,
                                 model_alone=settings.classify.model_alone_probability)
    except RuleError as exc:
        _fail(ValueError("\n".join(exc.problems)))
    except (BacktestInputError, ValueError, *EXPECTED) as exc:
        _fail(exc)
    for topic, res in results.items():
        s = res.scores
        click.echo(f"{topic}: precision {s.precision:.3f} recall {s.recall:.3f} F1 {s.f1:.3f} "
                   f"average precision {res.average_precision:.3f} (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn}; "
                   f"{folds}-fold cross-validation)")
    plot_pr(results, Path(plot_path), f"{Path(data).name}: {folds}-fold cross-validation")
    click.echo(f"precision-recall plot: {plot_path}")


def _replay_watch(seed: str, items: list[Any], verdicts: list[Any], classifier: Any, settings: Settings,
                  since: datetime | None) -> dict[str, dict[str, Any]]:
    """Each article's relation to a watched story, replayed in publication order as the alert stage would."""
    from alerts.replay import PastArticle, replay_story, term_stats
    from process.backtest import InputArticle, as_article
    from wirewatch.schema import parse_time

    by_url = {i.url: i for i in items if i.url}
    if seed.startswith(("http://", "https://")):
        if seed not in by_url:
            _fail(ValueError(f"--watch {seed}: no article with that url in the input"))
        seed_item = by_url[seed]
    elif Path(seed).is_file():
        text = Path(seed).read_text(encoding="utf-8", errors="replace")
        seed_item = InputArticle("watch-seed", text.splitlines()[0][:200] if text else "", text)
    else:
        _fail(ValueError(f"--watch {seed}: neither a file nor the url of an article in the input"))
    seed_topics = {t.topic for t in classifier.tag(as_article(seed_item)).fired()}
    start = since.replace(tzinfo=UTC) if since else parse_time(seed_item.published)
    if start is None:
        _fail(ValueError("--watch: the seed has no date; say when the story began with --since YYYY-MM-DD"))
    seed_text = seed_item.text if seed_item.id == "watch-seed" else f"{seed_item.title}\n{seed_item.text}"
    fired = {v.id: frozenset(v.fired()) for v in verdicts}
    past = [PastArticle(i.id, f"{i.title}\n{i.text}", parse_time(i.published), fired[i.id])
            for i in items if i is not seed_item]
    stats = term_stats(f"{i.title}\n{i.text}" for i in items)
    relations = replay_story(seed_text, seed_topics, start, past, stats, settings.alert.related_threshold,
                             settings.alert.window_days)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if item is seed_item:
            out[item.id] = {"relation": "seed", "similarity": 1.0, "reason": "the watched article"}
            continue
        r = relations[item.id]
        out[item.id] = {"relation": r.kind, "similarity": r.similarity, "reason": r.reason,
                        "new_facts": list(r.new_facts)}
    return out


@main.group()
def deadletter() -> None:
    """Show and re-drive the messages that a stage could not process (topic `deadletter`)."""


def _dead_letters(settings: Settings, timeout: float = 5.0) -> list[Any]:
    from wirewatch.kafka import DEADLETTER, KafkaWiring
    from wirewatch.schema import BadMessage, DeadLetter, decode

    if not settings.kafka.bootstrap_servers:
        raise PipelineError("set KAFKA_BOOTSTRAP_SERVERS: dead letters live on the broker the workers use")
    wiring = KafkaWiring(settings.kafka, settings.kafka.bootstrap_servers)
    wiring.check_reachable()
    letters = []
    for record in wiring.read_topic(DEADLETTER, quiet=timeout, timeout=600):
        try:
            letters.append((record.partition, record.offset, decode(record.value, DeadLetter)))
        except BadMessage as exc:
            log.warning("deadletter[%s]@%s is not a dead letter: %s", record.partition, record.offset, exc)
    return sorted(letters, key=lambda x: x[2].failed_at)


@deadletter.command("list")
@click.option("--stage", help="only this stage's")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def deadletter_list(ctx: Context, stage: str | None, as_json: bool) -> None:
    """Every dead letter: when, which stage, why, where it came from."""
    with _reported():
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
    """Publish dead letters' original messages again to the topic they came from (after a fix)."""
    from wirewatch.kafka import KafkaWiring

    with _reported():
        settings = ctx.settings
        letters = [x[2] for x in _dead_letters(settings)
                   if (stage is None or x[2].stage == stage) and (reason is None or x[2].reason == reason)]
        # a tombstone, or a payload kept only in part (a record too large): nothing whole to send again
        whole = [d for d in letters if (d.payload_bytes < 0 and d.reason != "tombstone" and d.payload)
                 or d.payload_bytes == len(d.payload.encode("utf-8"))]
        if len(whole) < len(letters):
            click.echo(f"not replayed: {len(letters) - len(whole)} dead letters without their whole message "
                       "(a tombstone, or a record too large, kept in part)", err=True)
        letters = whole
        wiring = KafkaWiring(settings.kafka, settings.kafka.bootstrap_servers)
        producer = wiring.producer()
        for letter in letters:
            producer.send(letter.source_topic, key=f"replay:{letter.partition}:{letter.offset}".encode(),
                          value=letter.payload.encode("utf-8"))
        producer.flush()
        producer.close()
    click.echo(f"replayed {len(letters)} messages")


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


def _web_commands() -> None:
    from wirewatch.web.commands import users, web

    main.add_command(web)
    main.add_command(users)


_web_commands()

if __name__ == "__main__":
    main()

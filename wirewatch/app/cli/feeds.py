"""``wirewatch feeds add | remove | list | status | import | export | discover``.

In: URLs and OPML files. Out: rows of the feeds table, and reports on each feed's health.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import click
from pydantic import ValidationError

from wirewatch.app import registry
from wirewatch.app.cli.root import (
    Context,
    ago,
    expected_failures,
    fail,
    main,
    open_store,
    reported,
)
from wirewatch.config import FeedSettings


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
        store = open_store(ctx)
        added = store.ingest.add_feed(url, name, interval=ctx.settings.poll.interval_seconds)
    except ValidationError as exc:
        fail(ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")))
    except expected_failures() as exc:
        fail(exc)
    click.echo(f"added {url}" if added else f"{url} is already a feed")


@feeds.command("remove")
@click.argument("url")
@click.pass_obj
def feeds_remove(ctx: Context, url: str) -> None:
    """Remove a feed (a feed of the config file comes back at the next start: remove it there too)."""
    with reported():
        removed = open_store(ctx).ingest.remove_feed(url)
    if not removed:
        click.echo(f"wirewatch: no feed {url}", err=True)
        sys.exit(1)
    in_config = any(f.url == url for f in ctx.settings.feeds)
    click.echo(f"removed {url}" + (" (it is also in the config file, which will add it again)" if in_config else ""))


@feeds.command("list")
@click.pass_obj
def feeds_list(ctx: Context) -> None:
    """One line per feed: health, URL, name."""
    with reported():
        rows = open_store(ctx, read_only=True).ingest.list_feeds()
    for row in rows:
        click.echo(f"{row.health:<9} {row.url}" + (f"  ({row.name})" if row.name else ""))
    click.echo(f"{len(rows)} feeds")


@feeds.command("status")
@click.argument("url", required=False)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per feed")
@click.pass_obj
def feeds_status(ctx: Context, url: str | None, as_json: bool) -> None:
    """Last poll, HTTP status, entries, errors, next poll and health of each feed (or of URL)."""
    with reported():
        rows = [r for r in open_store(ctx, read_only=True).ingest.list_feeds() if url is None or r.url == url]
    if url and not rows:
        fail(ValueError(f"no feed {url}"))
    for row in rows:
        if as_json:
            data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.__dict__.items()}
            click.echo(json.dumps(data))
            continue
        click.echo(f"{row.url}\n  health {row.health}, failures in a row {row.failures}; "
                   f"last poll {ago(row.last_polled)}, HTTP {row.last_status or '-'}; "
                   f"entries {row.entries_total} ({row.last_new} new last time); "
                   f"next poll {ago(row.next_poll)} (interval {row.interval_seconds / 60:.0f} min)"
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
    with reported(registry.ingest.OpmlError):
        found = registry.ingest.read_opml(Path(opml_file).read_bytes(), opml_file)
        store = open_store(ctx)
    added = skipped = 0
    for url, name in found:
        try:
            FeedSettings(url=url)
        except ValidationError:
            click.echo(f"skipped {url!r}: not an http(s) URL", err=True)
            skipped += 1
            continue
        added += store.ingest.add_feed(url, name, origin="opml", interval=ctx.settings.poll.interval_seconds)
    click.echo(f"{added} feeds added, {len(found) - added - skipped} already there, {skipped} skipped")


@feeds.command("export")
@click.argument("opml_file", required=False, type=click.Path(dir_okay=False))
@click.pass_obj
def feeds_export(ctx: Context, opml_file: str | None) -> None:
    """Write the feeds as OPML (to OPML_FILE, or standard output)."""
    with reported():
        data = registry.ingest.write_opml((r.url, r.name) for r in open_store(ctx, read_only=True).ingest.list_feeds())
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
    from wirewatch.http import AddressPolicy, make_client

    http = ctx.settings.http
    with reported(registry.ingest.FeedError):
        with make_client(ctx.settings.poll.timeout_seconds, http.agent, http.max_redirects,
                         AddressPolicy.from_strings(http.allow_networks)) as client:
            found = registry.ingest.discover(client, url)
        store = open_store(ctx) if add else None
    if not found:
        click.echo(f"no feed found for {url}", err=True)
        sys.exit(1)
    for feed_url, title in found:
        note = ""
        if store is not None:
            note = "  (added)" if store.ingest.add_feed(feed_url, title) else "  (already a feed)"
        click.echo(f"{feed_url}  {title}{note}")

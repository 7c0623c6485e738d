"""Commands on who gets what: ``subscribers``, ``watch``, ``feedback`` and ``export-feedback``.

In: addresses, topics, watched stories and analysts' verdicts. Out: rows of the database; JSONL examples.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from pydantic import EmailStr, ValidationError

from wirewatch.app.cli.root import (
    Context,
    fail,
    main,
    open_store,
    reported,
    topic_names,
)
from wirewatch.config import WatchSettings, thin_seed


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
        fail(ValueError(f"{email!r} is not a valid email address: {exc.errors()[0]['msg']}"))
    parsed = [_topic_option(t) for t in topics]
    with reported():
        known_topics = topic_names(ctx.settings.classify.rules_dir)
        problems = [f"minimum score of {t} is {m:g}; it is between 0 and 1" for t, m in parsed if not 0 <= m <= 1]
        problems += [f"unknown topic {t!r} (the topics are: {', '.join(sorted(known_topics))})"
                     for t, _ in parsed if known_topics is not None and t not in known_topics]
        if problems:
            fail(ValueError("; ".join(problems)))
        store = open_store(ctx)
        known = {w["id"] for w in store.alerts.list_watches()}
        unknown = [w for w in watch_ids if w not in known]
        if unknown:
            fail(ValueError(f"unknown watch(es): {', '.join(unknown)} (see `wirewatch watch list`)"))
        store.alerts.add_subscriber(address, name, mode)
        for topic, min_score in parsed:
            store.alerts.subscribe(address, "topic", topic, min_score)
        for watch_id in watch_ids:
            store.alerts.subscribe(address, "watch", watch_id)
    click.echo(f"{address}: {mode}; topics {dict(parsed) or '-'}; watches {list(watch_ids) or '-'}")


@subscribers.command("list")
@click.pass_obj
def subscribers_list(ctx: Context) -> None:
    with reported():
        rows = open_store(ctx, read_only=True).alerts.list_subscribers()
    for sub in rows:
        topics = ", ".join(f"{t}≥{m:g}" for t, m in sorted(sub["topics"].items())) or "-"
        click.echo(f"{sub['email']}  {sub['mode']}  topics: {topics}  watches: {', '.join(sub['watches']) or '-'}")


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(ctx: Context, email: str) -> None:
    with reported():
        removed = open_store(ctx).alerts.remove_subscriber(email)
    if not removed:
        fail(ValueError(f"no subscriber {email}"))
    click.echo(f"removed {email}")


@main.command()
@click.argument("ref")
@click.argument("verdict", type=click.Choice(["relevant", "not-relevant"]))
@click.pass_obj
def feedback(ctx: Context, ref: str, verdict: str) -> None:
    """Record an analyst's verdict on an alert: REF is the reference at the foot of its email.

    `wirewatch export-feedback FILE` writes the verdicts as training examples for `wirewatch train`.
    """
    with reported():
        alert = open_store(ctx).alerts.record_feedback(ref.strip(), verdict.replace("-", "_"))
    if alert is None:
        fail(ValueError(f"no alert with reference {ref!r}"))
    click.echo(f"recorded: {verdict} for \"{alert['subject']}\"")


@main.command("export-feedback")
@click.argument("output", type=click.Path(dir_okay=False))
@click.pass_obj
def export_feedback(ctx: Context, output: str) -> None:
    """Write the verdicts as labeled examples (JSONL) for `wirewatch train`."""
    with reported():
        rows = open_store(ctx, read_only=True).alerts.feedback_examples()
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
        with reported():
            members = open_store(ctx).alerts.story_articles(story_id)
        if not members:
            fail(ValueError(f"no story {story_id} in the archive"))
        text = "\n\n".join(f"{m['title']}\n{m['text']}" for m in members[:5])
    try:
        WatchSettings(id=watch_id, name=name, seed_url=url, seed_text=text, topics=list(topics))
    except ValidationError as exc:
        fail(ValueError(f"watch {watch_id!r}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"))
    if not (url or text.strip()):
        fail(ValueError("a watch needs --url, --text, --file or --story"))
    with reported():
        added = open_store(ctx).alerts.add_watch(watch_id, name, url, text, topics)
    if not added:
        fail(ValueError(f"a watch {watch_id!r} exists already"))
    click.echo(f"watching {watch_id}: {name}")
    words = thin_seed(text) if not url else None
    if words is not None:
        click.echo(f"warning: the seed of {watch_id} has only {words} word{'s' * (words != 1)}: the watch links only "
                   "articles that share most of them. For a watch that holds across outlets and languages, give "
                   "the report's URL (--url) or its first paragraphs (--text or --file).", err=True)


@watch.command("list")
@click.pass_obj
def watch_list(ctx: Context) -> None:
    with reported():
        store = open_store(ctx, read_only=True)
        rows = store.alerts.list_watches()
    for row in rows:
        members = store.alerts.story_texts(row["id"])
        follow = sum(m["relation"] == "follow_up" for m in members)
        same = sum(m["relation"] == "same_report" for m in members)
        seed = row["seed_url"] or f"text ({len(row['seed_text'])} chars)"
        words = thin_seed(row["seed_text"]) if not row["seed_url"] else None
        if words is not None:
            seed += f" (a thin seed of {words} word{'s' * (words != 1)})"
        if row["seed_url"] and not any(m["relation"] == "seed" for m in members):
            seed += " (not archived yet: the watch links nothing until a feed brings this article)"
        click.echo(f"{row['id']}  {row['name']}  seed: {seed}  follow-ups: {follow}, same report: {same}")


@watch.command("remove")
@click.argument("watch_id")
@click.pass_obj
def watch_remove(ctx: Context, watch_id: str) -> None:
    with reported():
        removed = open_store(ctx).alerts.remove_watch(watch_id)
    if not removed:
        fail(ValueError(f"no watch {watch_id}"))
    click.echo(f"stopped watching {watch_id}")

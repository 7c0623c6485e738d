"""Commands on the topic pack: ``train``, ``backtest``, ``evaluate`` and ``rules check``.

In: rule folders and JSONL articles. Out: a saved model; per-article verdicts, metrics and plots.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from wirewatch.app import registry
from wirewatch.app.cli.root import (
    Context,
    expected_failures,
    fail,
    main,
    reported,
)
from wirewatch.config import Settings


@main.command()
@click.argument("data", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--no-bootstrap", is_flag=True, help="train on DATA only, without the bundled examples")
@click.pass_obj
def train(ctx: Context, data: tuple[str, ...], no_bootstrap: bool) -> None:
    """Train the topic model on the bundled examples plus DATA (JSONL) and save it."""
    with reported(ValueError):
        settings = ctx.settings
        model = registry.process.train_model(registry.process.training_examples(data, bundled=not no_bootstrap))
        registry.process.save(model, settings.model_file)
    click.echo(f"saved {settings.model_file}: {json.dumps(model.meta)}")


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
    try:
        settings = ctx.settings
        live = registry.process.build_classifier(settings)
        skipped: list[str] = []  # bad lines: each said with its place, and the rest goes on
        items = list(registry.process.read_articles(articles, skipped))
        for problem in skipped:
            click.echo(f"wirewatch: skipped {problem}", err=True)
        if skipped:
            click.echo(f"wirewatch: {len(skipped)} line(s) skipped; back-testing the other {len(items)}", err=True)
        verdicts = registry.process.backtest(live, items)
        other = None
        if candidate:
            rival = registry.process.TopicClassifier(registry.process.RuleSource(candidate), live.model,
                                                     settings.classify.fire_score,
                                                     settings.classify.model_alone_probability)
            other = registry.process.backtest(rival, items)
    except registry.process.RuleError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except (registry.process.BacktestInputError, *expected_failures()) as exc:
        fail(exc)
    topics = sorted({t.topic for v in verdicts for t in v.tagged.topics})
    changes = {c.id: c for c in registry.process.compare(verdicts, other)} if other is not None else {}
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
        summary["live"] = {t: s.as_json() for t, s in registry.process.metrics(verdicts, topics).items()}
        if other is not None:
            summary["candidate"] = {t: s.as_json() for t, s in registry.process.metrics(other, topics).items()}
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
    try:
        settings = ctx.settings
        items = list(registry.process.read_articles(data))
        base = registry.process.training_examples(bundled=not no_bootstrap)
        rules_ = registry.process.RuleSource(settings.classify.rules_dir or registry.process.bundled_rules_dir())
        results = registry.process.cross_validate(items, rules_, base, registry.process.TOPICS, folds,
                                                  fire_score=settings.classify.fire_score,
                                                  model_alone=settings.classify.model_alone_probability)
    except registry.process.RuleError as exc:
        fail(ValueError("\n".join(exc.problems)))
    except (registry.process.BacktestInputError, ValueError, *expected_failures()) as exc:
        fail(exc)
    for topic, res in results.items():
        s = res.scores
        click.echo(f"{topic}: precision {s.precision:.3f} recall {s.recall:.3f} F1 {s.f1:.3f} "
                   f"average precision {res.average_precision:.3f} (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn}; "
                   f"{folds}-fold cross-validation)")
    registry.process.plot_pr(results, Path(plot_path), f"{Path(data).name}: {folds}-fold cross-validation")
    click.echo(f"precision-recall plot: {plot_path}")


def _replay_watch(seed: str, items: list[Any], verdicts: list[Any], classifier: Any, settings: Settings,
                  since: datetime | None) -> dict[str, dict[str, Any]]:
    """Each article's relation to a watched story, replayed in publication order as the alert stage would."""
    from wirewatch.canonical_url import canonical_url
    from wirewatch.schema import parse_time

    by_url = {canonical_url(i.url): i for i in items if i.url}
    if seed.startswith(("http://", "https://")):
        if canonical_url(seed) not in by_url:
            fail(ValueError(f"--watch {seed}: no article with that url in the input"))
        seed_item = by_url[canonical_url(seed)]
    elif Path(seed).is_file():
        text = Path(seed).read_text(encoding="utf-8", errors="replace")
        seed_item = registry.process.InputArticle("watch-seed", text.splitlines()[0][:200] if text else "", text)
    else:
        fail(ValueError(f"--watch {seed}: neither a file nor the url of an article in the input"))
    seed_topics = {t.topic for t in classifier.tag(registry.process.as_article(seed_item)).fired()}
    start = since.replace(tzinfo=UTC) if since else parse_time(seed_item.published)
    if start is None:
        fail(ValueError("--watch: the seed has no date; say when the story began with --since YYYY-MM-DD"))
    seed_text = seed_item.text if seed_item.id == "watch-seed" else f"{seed_item.title}\n{seed_item.text}"
    fired = {v.id: frozenset(v.fired()) for v in verdicts}
    past = [registry.alerts.PastArticle(i.id, f"{i.title}\n{i.text}", parse_time(i.published), fired[i.id])
            for i in items if i is not seed_item]
    stats = registry.alerts.term_stats(f"{i.title}\n{i.text}" for i in items)
    relations = registry.alerts.replay_story(seed_text, seed_topics, start, past, stats,
                                             settings.alert.related_threshold, settings.alert.window_days)
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
def rules() -> None:
    """Check the topic rules that editors keep."""


@rules.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.pass_obj
def rules_check(ctx: Context, folder: str | None) -> None:
    """Report every error in the rule files of FOLDER (default: the configured or bundled rules)."""
    try:
        target = Path(folder or ctx.settings.classify.rules_dir or registry.process.bundled_rules_dir())
        pack = registry.process.load_rules(target)
    except registry.process.RuleError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except expected_failures() as exc:
        fail(exc)
    for topic, rules_ in pack.topics.items():
        click.echo(f"{rules_.path}: topic {topic}: {len(rules_.patterns)} patterns, threshold {rules_.threshold:g}")
    click.echo(f"ok (rules version {pack.version})")

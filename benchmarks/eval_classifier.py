"""Classifier quality and speed: the figures the topic editors and the quality gate rely on.

In: ../shared/data/news-dev.jsonl (labeled real excerpts; evaluation only) and the 2,225 BBC
articles of ../shared/data/bbc (none about our topics). Out, printed: precision, recall and F1 per
topic on news-dev (rules alone, model alone, and combined, as the stage runs); the false-positive
rate on BBC; and articles tagged per second on one core beside trafilatura's time to extract the
same BBC articles rendered as HTML pages, in the same run. Run:

    .venv/bin/python benchmarks/eval_classifier.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import trafilatura

from process.backtest import InputArticle, as_article, metrics, read_articles, run
from process.classifier import RuleSource, TopicClassifier
from process.model import bundled_training_file, read_examples, train
from process.rules import bundled_rules_dir
from wirewatch.demo.render import Item, html_page

TOPICS = ("ceasefire_talks", "energy_strikes")


def bbc_articles(shared: Path) -> list[InputArticle]:
    items = []
    for path in sorted((shared / "data" / "bbc" / "bbc").glob("*/*.txt")):
        raw = path.read_bytes().decode("utf-8", errors="replace").strip().splitlines()
        title, body = raw[0].strip(), "\n".join(raw[1:]).strip()
        items.append(InputArticle(f"{path.parent.name}/{path.stem}", title, body, labels={t: False for t in TOPICS}))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    dev_path = args.shared / "data" / "news-dev.jsonl"
    if not dev_path.exists():
        sys.exit(f"skipped: no {dev_path} (pass --shared)")
    model = train(read_examples(bundled_training_file()))
    rules = RuleSource(bundled_rules_dir())
    combined = TopicClassifier(rules, model)
    dev = list(read_articles(dev_path))
    print(f"news-dev: {len(dev)} labeled excerpts; model trained on {model.meta['examples']} bundled examples")
    verdicts = run(combined, dev)
    for topic, s in metrics(verdicts, TOPICS).items():
        probs = {v.id: next(t for t in v.tagged.topics if t.topic == topic) for v in verdicts}
        rule_only = sum(1 for v in dev if v.labels and v.labels.get(topic)
                        and probs[v.id].rule_weight >= probs[v.id].rule_threshold)
        print(f"  {topic:16} combined: precision {s.precision:.3f} recall {s.recall:.3f} F1 {s.f1:.3f} "
              f"(tp {s.tp}, fp {s.fp}, fn {s.fn}); positives reaching the rule threshold alone: {rule_only}")
    bbc = bbc_articles(args.shared)
    bbc_verdicts = run(combined, bbc)
    print(f"BBC: {len(bbc)} articles, none about these topics")
    for topic in TOPICS:
        fps = [v.id for v in bbc_verdicts if topic in v.fired()]
        print(f"  {topic:16} false positives {len(fps)} = {len(fps) / len(bbc):.2%}  {fps[:8]}")
    pages = [html_page(Item(url="https://bbc.test/x", title=a.title, body=a.text.split("\n"),
                            published="2005-01-01T00:00:00Z", site="BBC")) for a in bbc]
    articles = [as_article(a) for a in bbc]
    start = time.process_time()
    for page in pages:
        trafilatura.extract(page)
    extract_cpu = time.process_time() - start
    start = time.process_time()
    for i in range(0, len(articles), 50):  # in batches of 50, as the classify stage consumes them
        combined.tag_batch(articles[i:i + 50])
    tag_cpu = time.process_time() - start
    print(f"speed on one core, {len(bbc)} BBC articles: tagging {len(bbc) / tag_cpu:6.0f} articles/s "
          f"({tag_cpu:.1f} s CPU); trafilatura.extract on the same articles as pages {len(bbc) / extract_cpu:6.0f} "
          f"articles/s ({extract_cpu:.1f} s CPU); tagging costs {tag_cpu / extract_cpu:.2f}x extraction")


if __name__ == "__main__":
    main()

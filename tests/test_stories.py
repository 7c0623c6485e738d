"""Story relation on plain texts: the seeds are one story; Gaza talks in Doha are not part of it."""

from pathlib import Path

from alerts.stories import TermStats, profile_from, relate, terms
from wirewatch.demo.corpus import DemoCorpus

CORPUS = DemoCorpus.load()


def body(art: dict) -> str:  # type: ignore[type-arg]
    return art["title"] + "\n" + "\n".join(art["body"])


def stats_over(texts: list[str]) -> TermStats:
    stats = TermStats()
    for t in texts:
        stats.add(t)
    return stats


def test_terms_drop_stop_words_and_fold() -> None:
    assert terms("The Talks in DOHA were délayed, and 2024") == ["talks", "doha", "delayed"]


def test_demo_follow_ups_are_related_and_noise_is_not() -> None:
    texts = [body(a) for a in CORPUS.articles]
    stats = stats_over(texts)
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    story = profile_from("doha", "Doha talks", [body(seed)])
    related = {a["id"] for a in CORPUS.articles if a is not seed and relate(body(a), story, stats, 0.18, 0.35).related}
    doha = {a["id"] for a in CORPUS.articles if a["labels"]["doha_story"] and a is not seed}
    gaza = {a["id"] for a in CORPUS.articles if a["kind"] == "gaza_doha"}
    assert not related & gaza
    assert len(related & doha) >= 0.5 * len(doha)
    assert len(related - doha) == 0


def test_watching_the_first_seed_links_the_other_four(shared: Path) -> None:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]
    stats = stats_over(seeds + [body(a) for a in CORPUS.articles])
    story = profile_from("doha", "Doha talks", seeds[:1])
    for text in seeds[1:]:
        relation = relate(text, story, stats, 0.18, 0.35)
        assert relation.related, relation
        story.add(text)
    gaza = [a for a in CORPUS.articles if a["kind"] == "gaza_doha"]
    assert not any(relate(body(a), story, stats, 0.18, 0.35).related for a in gaza)

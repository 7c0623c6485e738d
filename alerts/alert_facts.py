"""An alert's facts from a tagged article: what the email says and what its X- headers keep.

In: the :class:`TaggedArticle`, the subscriber, the watch and the linker's
:class:`~alerts.stories.Relation` (for a follow-up), and the follow-up's wording
(:mod:`alerts.story_wording`). Out: :class:`~alerts.compose.AlertFacts` — the topic lines with the
article's own matched words, and for a topic alert the sentence on why it was flagged.
"""

from __future__ import annotations

from wirewatch.alerts.compose import AlertFacts, TopicLine
from wirewatch.alerts.stories import Relation, names
from wirewatch.alerts.story_wording import READ_CHARS, FollowUpWording
from wirewatch.alerts.wording import article_words, why_topics

from wirewatch.config import WatchSettings
from wirewatch.safe_display import one_line, web_link
from wirewatch.schema import TaggedArticle, TopicTag

SNIPPET_CHARS = 600


def snippet(text: str, headline: str = "") -> str:
    """The opening of the article, without its headline when the text repeats it first."""
    text = " ".join(text.split())
    head = " ".join(headline.split())
    if head and text.startswith(head):
        text = text[len(head):].lstrip(" .:—-")
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def name_key(word: str) -> str:
    """The linker's name key of one word, "" when it is no name: how an email finds the article's
    own word for each key the linker compared (the one place the wording depends on the linker)."""
    found = names(f"x {word}")  # a word that does not open a sentence, as names() reads the lead
    return found[0] if found else ""


def source_of(tagged: TaggedArticle) -> str:
    article = tagged.article
    return article.sitename or article.entry.feed_title or article.entry.feed_url


def topic_line(tag: TopicTag, body: str) -> TopicLine:
    """A fired topic, with the article's own words that its rules matched (not the rules)."""
    matched = [word for hit in tag.rules if hit.weight > 0 for word in hit.matched]
    return TopicLine(tag.topic, tag.score, tag.explanation, article_words(body, matched))


def alert_facts(key: str, kind: str, subscriber: str, tagged: TaggedArticle, watch: WatchSettings | None,
                relation: Relation | None, wording: FollowUpWording | None) -> AlertFacts:
    article = tagged.article
    body = f"{article.title}\n{article.text[:READ_CHARS]}"
    topics = [topic_line(t, body) for t in tagged.fired()]
    return AlertFacts(
        alert_id=key, kind=kind, subscriber=subscriber, headline=one_line(article.title) or "(untitled)",
        source=source_of(tagged), published=article.published or "unknown", url=web_link(article.entry.url),
        snippet=snippet(article.text, article.title), topics=topics,
        fallback=article.fetch_error if article.text_source == "feed_summary" else "",
        story_name=watch.name if watch else "", relation=relation.kind if relation else "",
        similarity=relation.similarity if relation else 0.0,
        shared_terms=", ".join(relation.shared_names) if relation else "",
        new_terms=", ".join(relation.new_facts) if relation else "",
        new_sentences=wording.new_sentences if wording else [],
        reason=relation.reason if relation else "",
        also_reported_by=wording.also_reported_by if wording else "",
        why=wording.why if wording else why_topics([(t.name, t.words) for t in topics]),
        article_id=tagged.article_id, watch_id=watch.id if watch else "")

"""Each archived article's keys in the database (alerts/key_store.py): packed and read back unchanged, written
when the alert stage links an article, and a restarted alert worker restores the same stories and name
frequencies from them as it did from the texts — rows written before them (or by other key functions, or
unreadable) are computed from the text and written back."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import wirewatch.alerts.alerter as alerter_module
from sqlalchemy import delete, func, select, update
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.key_store import ArticleKeys, ArticleKeyStore, analyser
from wirewatch.alerts.mailer import OutboxMailer
from wirewatch.alerts.stories import TermStats
from wirewatch.alerts.story_index import StoryIndex, story_keys

from tests.test_alerter import CORPUS, tagged
from wirewatch.config import AlertSettings
from wirewatch.schema import parse_time
from wirewatch.tables import article_keys

BODY = ("Floods cut off Valdoria after the Rimon dam fails\nGovernor Elsa Marquand said 4,200 people were moved "
        "to shelters on 17 August; the Rimon dam above Valdoria failed on Tuesday.")


def test_keys_are_packed_small_and_read_back_unchanged() -> None:
    keys = ArticleKeys.of(BODY)
    assert keys.keys == story_keys(BODY) and len(keys.keys) > 20 and any(n > 1 for n in keys.keys.values())
    packed = keys.pack()
    assert ArticleKeys.unpack(packed) == keys
    assert len(packed) < len(" ".join(keys.keys)) + len(" ".join(keys.names))  # compressed


def test_keys_holding_a_separator_are_packed_as_json_and_read_back() -> None:
    odd = ArticleKeys(Counter({"a b": 2, "x*y": 1, "plain": 3}), frozenset({"new york", "kursk"}))
    assert ArticleKeys.unpack(odd.pack()) == odd
    empty = ArticleKeys(Counter(), frozenset())
    assert ArticleKeys.unpack(empty.pack()) == empty


def test_stored_names_count_as_the_text_would() -> None:
    from_text, from_names = TermStats(), TermStats()
    from_text.add(BODY)
    from_names.add_names(ArticleKeys.of(BODY).names)
    assert (from_text.docs, from_text.df) == (from_names.docs, from_names.df)


def _alerter(url: str, outbox: Path) -> Alerter:
    return Alerter(AlertSettings(), AlertStore.open(url), Composer("w <w@wire.test>"), OutboxMailer(outbox))


def _state(alerter: Alerter) -> tuple[Any, ...]:
    stories = {s.story_id: (s.size, dict(s.centroid), s.first_seen, s.last_seen, s.title)
               for s in alerter.stories.stories.values()}
    return stories, alerter.stories.stats.docs, dict(alerter.stories.stats.df), alerter.stats.docs, \
        dict(alerter.stats.df)


def _as_before(store: AlertStore) -> tuple[Any, ...]:
    """The state the alert stage restored before the keys were stored: every text analysed again."""
    stats = TermStats.with_background()
    index = StoryIndex(AlertSettings().story_threshold, AlertSettings().story_window_days)
    for row in store.archive_since(datetime.now(UTC) - timedelta(days=7)):
        body = f"{row['title']}\n{row['text']}"
        stats.add(body)
        if row["story_id"] is not None:
            index.restore(row["story_id"], story_keys(body), parse_time(row["published"]), row["title"])
    stories = {s.story_id: (s.size, dict(s.centroid), s.first_seen, s.last_seen, s.title)
               for s in index.stories.values()}
    return stories, index.stats.docs, dict(index.stats.df), stats.docs, dict(stats.df)


def _rows(store: AlertStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(article_keys)).scalar_one())


@pytest.mark.integration
def test_a_restart_restores_the_same_stories_from_stored_keys_as_from_the_texts(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(alerter_module, "SYNC_MARGIN", timedelta(0))  # restore what was archived a moment ago
    first = _alerter(db_url, tmp_path / "o1")
    store = first.store
    articles = CORPUS.articles
    half = len(articles) // 2
    for art in articles[:half]:
        first.handle(tagged(art))
    first.handle_batch([tagged(art) for art in articles[half:]])  # in the transaction archiving the batch
    keys = ArticleKeyStore(store.db)
    assert _rows(store) == len(articles)  # written as each article was linked
    for art in articles[:5]:
        body = f"{art['title']}\n" + "\n".join(art["body"])
        assert keys.load(art["id"]) == ArticleKeys.of(body)
    before = _as_before(store)
    assert len(before[0]) >= 2

    assert _state(_alerter(db_url, tmp_path / "o2")) == before  # from the stored keys

    with store.engine.begin() as conn:  # rows archived before revision 0005 have no keys
        conn.execute(delete(article_keys))
    assert _state(_alerter(db_url, tmp_path / "o3")) == before
    assert _rows(store) == len(articles)  # computed once and written back

    with store.engine.begin() as conn:  # keys of other key functions, and a row that cannot be read
        conn.execute(update(article_keys).values(analyser="older"))
        conn.execute(update(article_keys).where(article_keys.c.article_id == articles[0]["id"])
                     .values(analyser=analyser(), packed=b"not zlib"))
    assert _state(_alerter(db_url, tmp_path / "o4")) == before
    assert f"article {articles[0]['id']}: its stored keys cannot be read" in caplog.text
    with store.engine.connect() as conn:
        assert set(conn.execute(select(article_keys.c.analyser)).scalars()) == {analyser()}
    assert keys.load(articles[0]["id"]) is not None
    store.close()

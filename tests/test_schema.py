import pytest

from wirewatch.schema import Article, BadMessage, Entry, TaggedArticle, TopicTag, decode


def entry(**kw: object) -> Entry:
    base = dict(article_id="abc", url="https://x.test/a", canonical_url="https://x.test/a", feed_url="https://x.test/f")
    base.update(kw)
    return Entry(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    art = Article(entry=entry(title="T"), title="T", text="body", language="en", provenance={"text": "page"})
    tagged = TaggedArticle(article=art, topics=[TopicTag(topic="energy_strikes", score=0.7, fired=True)])
    back = decode(tagged.to_bytes(), TaggedArticle)
    assert back == tagged
    assert back.article_id == "abc"


@pytest.mark.parametrize(("raw", "needle"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"schema": "article", "v": 1}', "expected a message of kind 'entry'"),
    (b'{"schema": "entry", "v": 99}', "version 99"),
    (b'{"schema": "entry", "v": 1, "url": "u"}', "article_id"),
    (b"\xff\xfe garbage", "not valid JSON"),
])
def test_bad_messages_say_what_is_wrong(raw: bytes, needle: str) -> None:
    with pytest.raises(BadMessage, match=needle):
        decode(raw, Entry)


def test_unknown_fields_from_a_newer_writer_are_ignored() -> None:
    raw = entry().to_bytes().replace(b'"v": 1', b'"v": 1, "added_later": true')
    assert decode(raw, Entry).article_id == "abc"

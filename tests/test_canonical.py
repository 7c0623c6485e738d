import pytest

from wirewatch.canonical_url import article_id, canonical_url


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTPS://WWW.Example.COM/News/Story/?utm_source=rss&utm_medium=feed#comments",
     "https://example.com/News/Story"),
    ("http://example.com:80/a?b=2&a=1&fbclid=zzz", "http://example.com/a?a=1&b=2"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com", "https://example.com/"),
    ("  https://example.com/x?ref=home  ", "https://example.com/x"),
    ("urn:uuid:1234", "urn:uuid:1234"),
])
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_article_id_is_stable_and_short() -> None:
    a = article_id(canonical_url("https://example.com/a?utm_campaign=x"))
    assert a == article_id("https://example.com/a")
    assert len(a) == 16

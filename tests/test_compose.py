"""Email composition: header safety, escaping, the parts and headers an analyst's client needs."""

from alerts.compose import AlertFacts, Composer, TopicLine, header_safe


def facts(**kw: object) -> AlertFacts:
    base = dict(alert_id="a@example.org|x1|followup:doha", kind="followup", subscriber="a@example.org",
                headline="Moscow denies talks", source="Steppe Dispatch", published="2024-08-18T08:00:00+00:00",
                url="https://news.test/x1", snippet="The Kremlin said...",
                topics=[TopicLine("ceasefire_talks", 0.91, "rules 6/4 [talks (talks)]; model p=0.88")],
                story_name="Doha energy talks", relation="follow_up", similarity=0.27, shared_terms="doha, kursk",
                new_terms="denies, kremlin")
    base.update(kw)
    return AlertFacts(**base)  # type: ignore[arg-type]


def test_subject_and_body_name_the_follow_up_and_the_story() -> None:
    msg = Composer("wirewatch <alerts@wire.test>").compose(facts())
    assert msg["Subject"] == "[wirewatch] Follow-up — Doha energy talks: Moscow denies talks"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "Doha energy talks" in part and "Moscow denies talks" in part and "Steppe Dispatch" in part
        assert "ceasefire_talks" in part and "denies, kremlin" in part
    assert msg["List-Unsubscribe"].startswith("<mailto:unsubscribe@wire.test")
    assert msg["Message-ID"] == Composer("wirewatch <alerts@wire.test>").compose(facts())["Message-ID"]


def test_hostile_titles_cannot_inject_headers_or_markup() -> None:
    evil = "Breaking\r\nBcc: victim@evil.test\r\n\r\n<script>alert(1)</script>"
    msg = Composer("w <w@wire.test>").compose(facts(headline=evil, snippet="<img src=x onerror=alert(1)>"))
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html


def test_header_safe_truncates_and_flattens() -> None:
    assert header_safe("a\nb\tc\x00d") == "a b c d"
    assert len(header_safe("x" * 500)) == 160

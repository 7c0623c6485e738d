"""Email composition: header safety, escaping, the parts and headers an analyst's client needs."""

import re

from wirewatch.alerts.compose import AlertFacts, Composer, TopicLine, header_safe


def facts(**kw: object) -> AlertFacts:
    base = dict(alert_id="a@example.org|x1|followup:doha", kind="followup", subscriber="a@example.org",
                headline="Moscow denies talks", source="Steppe Dispatch", published="2024-08-18T08:00:00+00:00",
                url="https://news.test/x1", snippet="The Kremlin said...",
                topics=[TopicLine("ceasefire_talks", 0.91, "rules 6/4 [talks OR truce* (talks)]; model p=0.88",
                                  ["talks"])],
                story_name="Doha energy talks", relation="follow_up", similarity=0.27, shared_terms="doha, kursk",
                new_terms="denies, kremlin", reason="new development: deni",
                why="Linked to “Doha energy talks” because it names Doha and Kursk, as the story does.",
                new_sentences=["The Kremlin denied on Sunday that any talks had been planned."],
                also_reported_by="Harbour Wire")
    base.update(kw)
    return AlertFacts(**base)  # type: ignore[arg-type]


def test_subject_and_body_name_the_follow_up_and_the_story() -> None:
    msg = Composer("wirewatch <alerts@wire.test>").compose(facts())
    assert msg["Subject"] == "[wirewatch] Follow-up — Doha energy talks: Moscow denies talks"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "Doha energy talks" in part and "Moscow denies talks" in part and "Steppe Dispatch" in part
        assert "18 August 2024" in part and "names Doha and Kursk" in part and "Harbour Wire" in part
        assert "The Kremlin denied on Sunday" in part
    assert msg["List-Unsubscribe"].startswith("<mailto:unsubscribe@wire.test")
    assert msg["Message-ID"] == Composer("wirewatch <alerts@wire.test>").compose(facts())["Message-ID"]


def test_internals_go_to_x_headers_not_to_the_reader() -> None:
    msg = Composer("wirewatch <alerts@wire.test>").compose(facts())
    for part in (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()):
        for internal in ("ceasefire_talks", "rules 6/4", "truce*", "p=0.88", "0.27", "doha, kursk", "kremlin",
                         "deni", "a@example.org|x1", "2024-08-18T08"):
            assert not re.search(rf"(?<!\w){re.escape(internal)}(?!\w)", part), internal
    assert msg["X-Wirewatch-Key"] == "a@example.org|x1|followup:doha"
    assert msg["X-Wirewatch-Topics"] == "ceasefire_talks=0.91 (rules 6/4; model p=0.88)"  # no expression
    assert msg["X-Wirewatch-Relation"] == "follow_up similarity=0.27 (new development: deni)"
    assert msg["X-Wirewatch-Shared-Keys"] == "doha, kursk" and msg["X-Wirewatch-New-Keys"] == "denies, kremlin"


def test_a_topic_alert_names_the_topic_for_people() -> None:
    msg = Composer("w <w@wire.test>").compose(facts(kind="topic", story_name="", relation="",
                                                    why="Flagged for Ceasefire talks because it says “talks”."))
    assert msg["Subject"] == "[wirewatch] Ceasefire talks: Moscow denies talks"
    assert "New article on Ceasefire talks" in msg.get_body(("plain",)).get_content()
    assert msg["X-Wirewatch-Relation"] is None


def test_alerts_queued_by_an_older_version_still_compose() -> None:
    import json
    from dataclasses import asdict

    from wirewatch.alerts.compose import facts_from_json

    old = asdict(facts()) | {"retired_field": "x"}
    del old["why"], old["topics"][0]["words"]
    old["topics"][0]["retired"] = 1
    assert facts_from_json(json.dumps(old)).headline == "Moscow denies talks"


def test_hostile_titles_cannot_inject_headers_or_markup() -> None:
    evil = "Breaking\r\nBcc: victim@evil.test\r\n\r\n<script>alert(1)</script>"
    msg = Composer("w <w@wire.test>").compose(facts(headline=evil, snippet="<img src=x onerror=alert(1)>"))
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html
    hostile = Composer("w <w@wire.test>").compose(facts(why="<b>why</b>", new_sentences=["<i>new</i>"],
                                                        also_reported_by="<u>X</u>", story_name="<s>S</s>"))
    html = hostile.get_body(("html",)).get_content()
    assert not any(tag in html for tag in ("<b>", "<i>", "<u>", "<s>")) and "&lt;b&gt;why" in html


def test_header_safe_truncates_and_flattens() -> None:
    assert header_safe("a\nb\tc\x00d") == "a b c d"
    assert len(header_safe("x" * 500)) == 160

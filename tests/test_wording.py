"""The words of an email, on plain values: dates, names as the article writes them, why, what is new."""

from datetime import UTC, date, datetime

from wirewatch.alerts.dates import dates_in, human_date, month_of
from wirewatch.alerts.story_wording import FollowUpWording, follow_up_wording
from wirewatch.alerts.whats_new import Telling, lead_sentences, news_sentences, retold_by
from wirewatch.alerts.wording import article_names, article_words, development, join_words, why_follow_up, why_topics

from wirewatch.topic_names import topic_name


def key_of(word: str) -> str:
    """A stand-in for the linker's key: five folded letters, and one name known in two languages."""
    if not word[:1].isupper():
        return ""
    return {"moskau": "mosco", "moscou": "mosco"}.get(word.lower(), word.lower()[:5])


def test_dates_for_people() -> None:
    assert human_date("2024-08-17T09:30:00Z") == "17 August 2024"
    assert human_date("2024-08-17") == "17 August 2024"
    assert human_date("last Tuesday") == "date unknown" and human_date(None) == "date unknown"


def test_dates_the_article_writes_in_several_languages() -> None:
    text = ("Troops crossed on 6 August. On Aug. 17, 2024 the talks fell through; встреча 22 августа; "
            "am 23. August; le 24 août; el 25 de agosto de 2024; a set 5 times; 2024-08-26.")
    assert [d.for_people for d in dates_in(text)] == [
        "6 August", "17 August 2024", "22 August", "23 August", "24 August", "25 August 2024", "26 August 2024"]
    assert month_of("августа") == 8 and month_of("Januar") == 1 and month_of("set") is None


def test_names_as_the_article_writes_them() -> None:
    text = "Moskau weist Berichte zurück. Gespräche in Doha mit Kiew seien nie geplant gewesen, so Moskau im August."
    # keys come from the linker; an unknown key is dropped, never shown; a month is a date, not a name
    assert article_names(text, ["mosco", "doha", "kiew", "zzzzz", "augus"], key_of) == ["Moskau", "Doha", "Kiew"]
    assert article_names("Ukraine's grid and Ukraine", ["ukrai"], key_of) == ["Ukraine"]


def test_matched_words_in_the_article_spelling() -> None:
    text = "Russland verschiebt Friedensgespräche über eine Feuerpause."
    assert article_words(text, ["friedensgesprache", "feuerpause", "peace talks"]) == [
        "Friedensgespräche", "Feuerpause", "peace talks"]


def test_one_sentence_on_why() -> None:
    assert join_words(["a", "b", "c"]) == "a, b and c" and join_words(["a"]) == "a" and join_words([]) == ""
    assert why_follow_up("Doha talks", ["Doha", "Kursk"], ["22 August"], "it came 3 days after the story's first "
                         "report") == ("Linked to “Doha talks” because it names Doha and Kursk and gives the date "
                                       "22 August, as the story does, and it came 3 days after the story's first "
                                       "report.")
    assert why_follow_up("S", [], []) == "Linked to “S” because it tells of the same people and places as the story."
    assert why_topics([("Ceasefire talks", ["truce", "talks"])]) == \
        "Flagged for Ceasefire talks because it says “truce” and “talks”."
    assert why_topics([("Ceasefire talks", ["truce"]), ("Strikes on energy infrastructure", [])]) == (
        "Flagged for Ceasefire talks (“truce”) and Strikes on energy infrastructure (judged by the topic model; "
        "no keyword matched).")


def test_the_development_in_the_article_words() -> None:
    assert development("new development: deni, postpon", "Moscow denied it; talks were postponed.") == \
        "it reports “denied” and “postponed”, which is new to the story"
    assert development("4 days after the first report", "") == "it came 4 days after the story's first report"
    assert development("names 0.31 over threshold", "text") == ""  # an unknown reason stays in the X- headers


def test_topic_names_for_people() -> None:
    assert topic_name("ceasefire_talks") == "Ceasefire talks"
    assert topic_name("maritime_incidents") == "Maritime incidents"


def test_what_is_new_is_the_article_news_not_its_headline_caption_or_background() -> None:
    headline = "Moscow denies any talks took place in Doha"
    text = ("Moscow denies any talks took place in Doha.\n"
            "A tank stands in a field near the border of the Kursk region.\n"
            "A tank stands in a field near the border of the Kursk region.\n"
            "The foreign ministry spokeswoman rejected the newspaper account outright on Sunday morning.\n"
            "On 6 August Ukrainian troops crossed the border into the Kursk region.\n"
            "Qatar mediated between the delegations on energy infrastructure strikes.")
    known = {"qatar", "mediated", "between", "delegations", "energy", "infrastructure", "strikes"}
    assert news_sentences(headline, text, known, date(2024, 8, 17)) == [
        "The foreign ministry spokeswoman rejected the newspaper account outright on Sunday morning."]
    # nothing new in words: the lead stands for the news; nothing at all: nothing
    assert news_sentences("H", "Qatar mediated between the delegations on energy strikes today.", known) == [
        "Qatar mediated between the delegations on energy strikes today."]
    assert news_sentences("H", "", known) == []
    assert lead_sentences("Am 22. August per Video. Dann <span>mehr</span>.") == ["Am 22. August per Video.",
                                                                                  "Dann mehr."]


def test_also_reported_by_names_the_outlets_that_retold_this_item_only() -> None:
    def told(words: str, day: int | None = None) -> Telling:
        return Telling(set(words.split()), datetime(2024, 8, day, 12, tzinfo=UTC) if day else None)

    originals = {"seed": told("doha kursk qatar"), "a10": told("mosco zakha denie doha", 18)}
    retellings = [("Ledger", told("mosco zakha denie", 18)), ("Wire", told("doha kursk qatar", 17)),
                  ("Steppe", told("mosco zakha denie", 18)), ("ledger", told("mosco zakha", 19)),
                  ("Early", told("mosco zakha denie", 16))]  # before the denial: not a retelling of it
    assert retold_by("a10", "Steppe", originals, retellings) == ["Ledger"]
    assert retold_by("seed", "", originals, retellings) == ["Wire"]


def test_follow_up_wording_from_the_story_members() -> None:
    members = [
        {"article_id": "s", "title": "Talks in Doha", "text": "Kyiv and Moscau... set for Doha talks on 22 August.",
         "source": "Wire", "relation": "seed", "published": "2024-08-17"},
        {"article_id": "f", "title": "Moskau dementiert Gespräche in Doha",
         "text": "Die Sprecherin Sacharowa wies am Sonntag jeden Bericht über geplante Treffen entschieden zurück.",
         "source": "Blatt", "relation": "follow_up", "published": "2024-08-18"},
        {"article_id": "r", "title": "Moscou dément", "text": "Zakharova a démenti Moskau Doha Sacharowa dementiert.",
         "source": "Journal", "relation": "same_report", "published": "2024-08-18"},
    ]
    wording = follow_up_wording(
        "Doha talks", members[1]["title"], members[1]["text"], "Blatt", "f", ["mosco", "doha", "kyiv"],
        "new development: dement", members, "", date(2024, 8, 17), key_of,
        lambda text: [key_of(w) for w in text.replace(".", " ").split() if key_of(w)])
    assert wording.why == ("Linked to “Doha talks” because it names Moskau and Doha, as the story does, and it "
                           "reports “dementiert”, which is new to the story.")
    assert wording.new_sentences == [members[1]["text"]]
    assert wording.also_reported_by == "Journal"


def test_the_lead_tells_the_news_when_it_adds_anything() -> None:
    known = {"ukraine", "meeting", "doha", "energy", "infrastructure", "august", "said", "would", "qatar",
             "mediators", "talks", "kursk", "offensive", "moscow"}
    lead = "Ukraine said on Tuesday the meeting in Doha on energy infrastructure would be postponed."
    later = "Qatar mediators said the talks had stalled after the Kursk offensive, Moscow said."
    assert news_sentences("Meeting put off", f"{lead}\n{later}", known) == [lead]  # later: mostly known


def test_inflections_are_given_once() -> None:
    from wirewatch.alerts.wording import distinct_words, same_word

    assert same_word("drone", "drones") and same_word("negotiate", "negotiations") and same_word("propose", "proposal")
    assert not same_word("strike", "struck") and not same_word("energy", "energy infrastructure")
    assert distinct_words(["revive", "resumed", "revived"]) == ["revive", "resumed"]


def test_bad_input_still_gets_plain_words() -> None:
    def wording(headline: str, text: str) -> FollowUpWording:
        return follow_up_wording("Doha talks", headline, text, "Wire", "x", ["doha", "zzzzz"], "", [], "", None,
                                 key_of, lambda t: [])

    empty = wording("", "")
    assert empty.why == "Linked to “Doha talks” because it tells of the same people and places as the story."
    assert empty.new_sentences == [] and empty.also_reported_by == ""
    thai = wording("การเจรจาหยุดยิงที่โดฮา", "การเจรจาหยุดยิงที่โดฮาถูกเลื่อนออกไป")
    assert "tells of the same people" in thai.why
    huge = wording("Talks in Doha", "Doha talks resume. " * 300_000)  # 5.7 MB: read as far as an email needs
    assert "names Doha" in huge.why

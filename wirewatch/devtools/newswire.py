"""A synthetic newswire on loopback: feeds that publish invented articles at a steady rate.

In: a number of feeds and articles, and a rate (articles per second; none: all at once). Out: a
:class:`~wirewatch.devtools.site.LoopbackSite` serving one RSS feed per desk (its newest items) and one
HTML page per article, with articles appearing on the wire as time passes.

Used where a real load is needed — the crash tests and the soak benchmark. Every text is put
together from sentence templates written for wirewatch; about a third of the articles report
negotiations on ceasefires or on halting strikes on energy infrastructure (so the classifier tags
them and subscribers get alerts), the rest is markets, sport, weather and science.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from wirewatch.devtools.site import LoopbackSite, Resource

PLACES = ("Doha", "Geneva", "Istanbul", "Riyadh", "Oslo", "Vienna", "Cairo", "Muscat", "Helsinki", "Baku")
MEDIATORS = ("Qatar", "Turkey", "Switzerland", "Norway", "Egypt", "Oman", "Finland", "Saudi Arabia")
SIDES = (("Ukraine", "Russia"), ("Armenia", "Azerbaijan"), ("Ethiopia", "Eritrea"), ("Sudan", "South Sudan"),
         ("Serbia", "Kosovo"), ("Israel", "Hamas"))
TEAMS = ("Harbour City", "Northfield Rovers", "Westbrook United", "Kingsport Athletic", "Eastvale Town")
FIRMS = ("Calloway Foods", "Brightwater Energy", "Norden Shipping", "Peakline Software", "Ostrova Steel")

ON_TOPIC = (
    "{a} and {b} sent delegations to {place} for {mediator}-mediated talks on a moratorium on strikes against "
    "energy infrastructure, officials said on {day}.",
    "The negotiators discussed a partial ceasefire that would halt attacks on power plants, substations and "
    "the electricity grid for {n} days.",
    "A spokesman for {mediator} said the ceasefire talks would continue, while {a} denied that any agreement "
    "had been reached.",
    "Diplomats in {place} described the energy truce proposal as fragile but said both delegations had "
    "accepted the agenda.",
    "Missile and drone strikes on energy facilities have left millions without power, which raised the "
    "pressure on both sides to agree on a pause.",
    "Round {n} of the talks is expected next week, according to two people briefed on the negotiations.",
)
OFF_TOPIC = (
    "{team} beat {team2} {n} to {m} on {day}, lifting the club to third place in the league table.",
    "Shares of {firm} rose {n} percent after the company reported quarterly revenue above forecasts.",
    "Forecasters expect heavy rain across the northern valleys on {day}, with temperatures near {n} degrees.",
    "Researchers at the university of {place} published a study on coral reefs and ocean temperatures.",
    "The city council approved a budget for new cycle lanes and a tram extension after a long debate.",
    "{firm} plans to open a new plant and hire {n}0 workers, the chief executive told analysts.",
    "The museum will display {n} paintings from a private collection in a summer exhibition.",
)


THREAD_NEWS = (
    "talks postponed", "Moscow denies the talks", "the meeting moves to a video call", "the talks resume",
    "a draft text is circulated", "the delegations meet again", "a new round is announced", "the talks stall",
)


@dataclass(frozen=True)
class WireArticle:
    number: int
    desk: int
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    on_topic: bool

    @property
    def path(self) -> str:
        return f"/a/{self.number}.html"

    @property
    def installment(self) -> bool:
        return self.title.startswith("Doha energy talks:")


def write_installment(number: int, k: int, desks: int, published: datetime) -> WireArticle:
    """Installment ``k`` of the wire's running story: talks in Doha on halting strikes on energy sites."""
    news = THREAD_NEWS[k % len(THREAD_NEWS)]
    title = f"Doha energy talks: {news} (installment {k})"
    paragraphs = (
        f"Officials said on {published:%A} that delegations from Ukraine and Russia, meeting in Doha under "
        f"Qatar's mediation, were negotiating a moratorium on strikes against energy infrastructure; {news}.",
        "The Kremlin said the Kursk incursion had changed the agenda, and Zelensky's office said the ceasefire "
        "talks on sparing power plants and the electricity grid would go on.",
        f"Diplomats in Doha expect the next round within weeks. Installment {k} of the story.",
    )
    return WireArticle(number, number % desks, title, paragraphs, published, True)


def write_article(number: int, desks: int, published: datetime, rng: random.Random) -> WireArticle:
    """Article ``number`` of the wire: its own names, figures and sentences."""
    on_topic = number % 3 == 0
    a, b = rng.choice(SIDES)
    values = {"a": a, "b": b, "place": rng.choice(PLACES), "mediator": rng.choice(MEDIATORS),
              "day": published.strftime("%A"), "n": rng.randint(2, 40), "m": rng.randint(0, 3),
              "team": rng.choice(TEAMS), "team2": rng.choice(TEAMS), "firm": rng.choice(FIRMS)}
    templates = ON_TOPIC if on_topic else OFF_TOPIC
    sentences = [t.format(**values) for t in rng.sample(templates, k=min(5, len(templates)))]
    if on_topic:
        title = f"{a} and {b} hold ceasefire talks in {values['place']} on halting energy strikes ({number})"
    else:
        title = f"{sentences[0].split(',')[0].rstrip('.')} ({number})"
    paragraphs = tuple(" ".join(sentences[i:i + 2]) + f" Report {number}." for i in range(0, len(sentences), 2))
    return WireArticle(number, number % desks, title, paragraphs, published, on_topic)


class Newswire:
    """``with Newswire(feeds=20, articles=2000, rate=30) as wire: wire.feed_urls``.

    Article *n* appears ``n / rate`` seconds after :meth:`start` (all at once without a rate); each
    feed lists the newest ``window`` articles of its desk.
    """

    def __init__(self, feeds: int, articles: int, rate: float | None = None, window: int = 50,
                 seed: int = 7, thread_every: int = 0) -> None:
        """``thread_every``: every so many articles, one is the next installment of a running story,
        dated a day after the one before (the first one ``articles / thread_every`` days ago)."""
        self.feeds = feeds
        self.total = articles
        self.thread_every = thread_every
        self.rate = rate
        self.window = window
        self.rng = random.Random(seed)
        self.site = LoopbackSite(keep_requests=False)
        self.articles: list[WireArticle] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = datetime.now(UTC)

    @property
    def feed_urls(self) -> list[str]:
        return [self.site.url(f"/desk/{d}.xml") for d in range(self.feeds)]

    def url(self, article: WireArticle) -> str:
        return self.site.url(article.path)

    @property
    def published(self) -> int:
        return len(self.articles)

    def start(self) -> Newswire:
        self.site.start()
        self.site.resources["/robots.txt"] = Resource(b"User-agent: *\nAllow: /\n", "text/plain")
        self.started_at = datetime.now(UTC)
        for d in range(self.feeds):
            self._render_feed(d)
        self._thread = threading.Thread(target=self._publish, name="newswire", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.site.stop()

    def __enter__(self) -> Newswire:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_all_published(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.published < self.total and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.published >= self.total

    def _publish(self) -> None:
        step = 0.2
        while not self._stop.is_set() and self.published < self.total:
            elapsed = (datetime.now(UTC) - self.started_at).total_seconds()
            due = self.total if self.rate is None else min(self.total, int(elapsed * self.rate) + 1)
            touched = set()
            while self.published < due:
                n = self.published
                published = self.started_at + timedelta(seconds=n / self.rate if self.rate else 0)
                if self.thread_every and n % self.thread_every == 0:
                    k = n // self.thread_every
                    days_ago = self.total // self.thread_every - k
                    article = write_installment(n, k, self.feeds, self.started_at - timedelta(days=days_ago))
                else:
                    article = write_article(n, self.feeds, published, self.rng)
                self.site.resources[article.path] = Resource(self._page(article).encode("utf-8"))
                self.articles.append(article)
                touched.add(article.desk)
            for d in touched:
                self._render_feed(d)
            self._stop.wait(step)

    def _render_feed(self, desk: int) -> None:
        items = [a for a in self.articles[-self.window * self.feeds:] if a.desk == desk][-self.window:]
        xml = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Desk {desk}</title>'
               f"<link>{self.site.url('/')}</link><description>synthetic newswire, desk {desk}</description>"]
        for a in reversed(items):
            xml.append(f"<item><title>{escape(a.title)}</title><link>{self.url(a)}</link>"
                       f"<guid isPermaLink=\"true\">{self.url(a)}</guid>"
                       f"<pubDate>{format_datetime(a.published)}</pubDate>"
                       f"<description>{escape(a.paragraphs[0])}</description></item>")
        xml.append("</channel></rss>")
        self.site.resources[f"/desk/{desk}.xml"] = Resource("".join(xml).encode("utf-8"),
                                                            "application/rss+xml; charset=utf-8")

    @staticmethod
    def _page(a: WireArticle) -> str:
        body = "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(a.title)}</title>"
                f"<meta property=\"article:published_time\" content=\"{a.published.isoformat()}\"></head><body>"
                f"<nav><a href=\"/\">Home</a> | <a href=\"/world\">World</a> | <a href=\"/markets\">Markets</a></nav>"
                f"<article><h1>{escape(a.title)}</h1><p class=\"byline\">Newswire desk {a.desk}</p>{body}</article>"
                f"<footer>Synthetic newswire for wirewatch tests.</footer></body></html>")

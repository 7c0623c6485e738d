"""The bundled demo corpus as a website: feeds and pages, plus the analyst setup that goes with it.

In: ``corpus.json`` beside this file (invented articles written for wirewatch). Out: the
resources of a :class:`LoopbackSite` (``/feeds/<slug>.xml`` and ``/<feed>/<slug>.html``; an article
marked ``"page": "missing"`` has no page, so the pipeline must fall back to its feed summary) and
the feed, watch and subscriber settings of the demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirewatch.devtools.render import Item, atom_feed, html_page, rss_feed
from wirewatch.devtools.site import Resource

CORPUS = Path(__file__).parent / "corpus.json"
ANALYST = "analyst@example.org"
DESK = "desk@example.org"
WATCH_ID = "doha-energy-talks"


@dataclass(frozen=True)
class DemoCorpus:
    feeds: list[dict[str, Any]]
    articles: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path = CORPUS) -> DemoCorpus:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["feeds"], data["articles"])

    def article_path(self, art: dict[str, Any]) -> str:
        return f"/{art['feed']}/{art['slug']}.html"

    def resources(self, base: str) -> dict[str, Resource]:
        site_titles = {f["slug"]: f["title"].split(" — ")[0] for f in self.feeds}
        res: dict[str, Resource] = {}
        per_feed: dict[str, list[Item]] = {f["slug"]: [] for f in self.feeds}
        for art in self.articles:
            path = self.article_path(art)
            item = Item(url=base + path, title=art["title"], body=art["body"], published=art["published"],
                        author=art.get("author", ""), summary=art.get("summary", ""),
                        site=site_titles[art["feed"]])
            if art.get("page") != "missing":
                res[path] = Resource(html_page(item))
            for slug in [art["feed"], *art.get("also_in", [])]:
                per_feed[slug].append(item)
        for feed in self.feeds:
            items = list(reversed(per_feed[feed["slug"]]))  # newest first, as feeds list them
            render = atom_feed if feed["format"] == "atom" else rss_feed
            ctype = "application/atom+xml" if feed["format"] == "atom" else "application/rss+xml"
            res[f"/feeds/{feed['slug']}.xml"] = Resource(render(feed["title"], base + "/", items),
                                                         f"{ctype}; charset=utf-8")
        return res

    def settings_overrides(self, base: str) -> dict[str, Any]:
        seed = next(a for a in self.articles if a["kind"] == "doha_report")
        return {
            "feeds": [{"url": f"{base}/feeds/{f['slug']}.xml", "name": f["title"]} for f in self.feeds],
            "watches": [{"id": WATCH_ID, "name": "Ukraine–Russia talks in Doha on halting energy strikes",
                         "seed_url": base + self.article_path(seed)}],
            "subscribers": [
                {"email": ANALYST, "name": "Analyst watching the Doha story", "watches": [WATCH_ID]},
                {"email": DESK, "name": "Topic desk", "mode": "hourly",
                 "topics": {"ceasefire_talks": 0.6, "energy_strikes": 0.6}},
            ],
        }

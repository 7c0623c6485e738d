"""Topic names for people: a topic id in (``ceasefire_talks``), the name an analyst reads out
("Ceasefire talks").

One table for every place that shows a topic to a person (emails, web pages, CLI messages); the
ids stay in JSON output, logs and ``X-`` headers. A topic the table does not know (an editor's new
rule file) is named from its id: underscores become spaces, the first letter a capital.
"""

from __future__ import annotations

TOPIC_NAMES = {
    "ceasefire_talks": "Ceasefire talks",
    "energy_strikes": "Strikes on energy infrastructure",
}


def topic_name(topic: str) -> str:
    """The name people read for a topic id."""
    known = TOPIC_NAMES.get(topic)
    if known:
        return known
    words = " ".join(topic.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else "Unnamed topic"

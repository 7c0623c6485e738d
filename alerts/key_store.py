"""Each archived article's keys, kept in the database, so that a starting alert worker need not analyse every text.

In: an article's story keys (:func:`alerts.story_index.story_keys`) and its text, when the alert stage links it to
a story. Out: rows of ``article_keys`` — its story keys and the name keys of :func:`alerts.stories.names` (what the
hand-written linker's :class:`~alerts.stories.TermStats` counts), zlib-packed, about 0.6 KB an article — and, at a
worker's start, :meth:`ArticleKeyStore.restore`: every article of the story window with its keys, read from those
rows, or computed from the archived text for articles that have none (archived before revision 0005, or by a
worker that died before it wrote them) or whose keys were written by other key functions (:func:`analyser`, a
fingerprint of what the key functions make of a fixed probe). Keys computed so are written back, once.

Packed form: the keys counted once, space-separated; a newline; the others as ``key*count``; a newline; the name
keys. Keys never hold a space, a newline or ``*`` (:mod:`alerts.textkeys` keeps letters, digits and a few marks);
a set that would is packed as JSON instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, and_, case, delete, insert, null, or_, select
from sqlalchemy.exc import SQLAlchemyError
from wirewatch.alerts.stories import names
from wirewatch.alerts.story_index import story_keys

from wirewatch.database import OnDatabase
from wirewatch.tables import archive, article_keys

log = logging.getLogger(__name__)
CHUNK = 2_000  # archive rows read at once while restoring: memory bounded whatever the window holds
SEPARATORS = (" ", "\n", "*")
# written for this fingerprint (not taken from any article): several scripts, names, figures and dates
PROBE = (
    "Talks on the Rimon dam resume in Valdoria\nGovernor Elsa Marquand met the envoys on 17 August; 4,200 people "
    "were moved to shelters in Moscow Street.",
    "Переговоры в Москве возобновятся 3 марта\nДелегации Катара и Турции встретятся в Доха.",
    "محادثات في القاهرة\nالتقى الوفد في الدوحة يوم 12 مايو لبحث الهدنة.",
    "การเจรจาที่กรุงเทพ\nผู้แทนกัมพูชาพบกันเมื่อวันที่ 28 กรกฎาคม",
    "पाकिस्तान और भारत के बीच युद्धविराम\nदिल्ली में 10 मई को बातचीत हुई।",
    # common words that meet a place's stem only by a prefix, an ending, a respelling or a syllable, a Thai month,
    # an Arabic name with a vowel ending (placekeys)
    "Նախարարը ժամանեց Երևան\nThe parties agreed to a truce in the capital, said Mr Kılıç; ผู้แทนจากอเมริกา "
    "พบกัน 7 สิงหาคม; وصل الوفد من أوكرانيا",
)


@dataclass(frozen=True)
class ArticleKeys:
    """What a starting worker would otherwise compute from an article's text."""

    keys: Counter[str]  # story_keys(title + "\n" + text)
    names: frozenset[str]  # set(names(title + "\n" + text)): what TermStats.add counts

    @classmethod
    def of(cls, body: str, keys: Mapping[str, int] | None = None) -> ArticleKeys:
        """The keys of an article's body (its title, a newline, its text); ``keys``: its story keys, if known."""
        return cls(Counter(keys) if keys is not None else story_keys(body), frozenset(names(body)))

    def pack(self) -> bytes:
        if any(c in k for k in (*self.keys, *self.names) for c in SEPARATORS):
            raw = json.dumps({"keys": self.keys, "names": sorted(self.names)}, ensure_ascii=False)
        else:
            ones = " ".join(k for k, n in self.keys.items() if n == 1)
            more = " ".join(f"{k}*{n}" for k, n in self.keys.items() if n != 1)
            raw = f"{ones}\n{more}\n{' '.join(sorted(self.names))}"
        return zlib.compress(raw.encode("utf-8"), 6)

    @classmethod
    def unpack(cls, packed: bytes) -> ArticleKeys:
        """The keys as :meth:`pack` wrote them; ``ValueError`` (or ``zlib.error``) for anything else."""
        raw = zlib.decompress(packed).decode("utf-8")
        if raw.startswith("{"):
            data = json.loads(raw)
            return cls(Counter({str(k): int(n) for k, n in data["keys"].items()}), frozenset(map(str, data["names"])))
        ones, more, found = raw.split("\n")
        keys: Counter[str] = Counter(dict.fromkeys(ones.split(" "), 1)) if ones else Counter()
        for item in more.split(" ") if more else ():
            key, _, n = item.rpartition("*")
            keys[key] = int(n)
        return cls(keys, frozenset(found.split(" ")) if found else frozenset())


@cache
def analyser() -> str:
    """A fingerprint of the key functions (what they make of :data:`PROBE`), computed once per process: keys
    stored under another fingerprint were made by other key functions and are computed again."""
    digest = hashlib.blake2b(digest_size=6)
    for text in PROBE:
        digest.update(ArticleKeys.of(text).pack())
    return digest.hexdigest()


@dataclass(frozen=True)
class RestoredArticle:
    """An archived article of the story window, with its keys (stored, or computed from its text)."""

    article_id: str
    title: str
    published: str | None
    story_id: int | None
    archived_at: datetime
    text: str | None  # read only where the keys are computed, or when asked for
    keys: ArticleKeys

    @property
    def body(self) -> str:
        return f"{self.title}\n{self.text or ''}"


class ArticleKeyStore(OnDatabase):
    """The ``article_keys`` rows: written as articles are linked, read when a worker restores its stories."""

    def save_many(self, records: list[tuple[str, ArticleKeys]]) -> None:
        """Keep several articles' keys in one transaction (a row already there is replaced)."""
        if records:
            with self.engine.begin() as conn:
                self.write(conn, records)

    @staticmethod
    def write(conn: Connection, records: list[tuple[str, ArticleKeys]]) -> None:
        """Keep the articles' keys within the caller's transaction (in key order, as the archive rows)."""
        if not records:
            return
        version = analyser()
        rows: list[dict[str, object]] = [{"article_id": i, "analyser": version, "packed": k.pack()}
                                         for i, k in sorted(records, key=lambda r: r[0])]
        _upsert(conn, rows)

    def load(self, article_id: str) -> ArticleKeys | None:
        """An article's stored keys, if they were written by this version's key functions."""
        with self.engine.connect() as conn:
            row = conn.execute(select(article_keys.c.analyser, article_keys.c.packed)
                               .where(article_keys.c.article_id == article_id)).first()
        return _decoded(article_id, row[0], row[1]) if row is not None else None

    def restore(self, since: datetime, until: datetime, take: Callable[[RestoredArticle], None],
                with_text: bool = False, linked_only: bool = False, skip: Container[str] = ()) -> int:
        """Hand ``take`` every article archived in [``since``, ``until``), oldest first, with its keys (and its text
        when ``with_text``); ``linked_only``: only those with a story; ``skip``: article ids to leave out. Keys
        computed here (no row, or another fingerprint) are written back. Returns how many were computed."""
        version = analyser()
        text = archive.c.text if with_text else case((article_keys.c.analyser == version, null()),
                                                     else_=archive.c.text)
        query = (select(archive.c.article_id, archive.c.title, archive.c.published, archive.c.story_id,
                        archive.c.archived_at, article_keys.c.analyser, article_keys.c.packed, text.label("text"))
                 .select_from(archive.outerjoin(article_keys, article_keys.c.article_id == archive.c.article_id))
                 .where((archive.c.archived_at >= since) & (archive.c.archived_at < until))
                 .order_by(archive.c.archived_at, archive.c.article_id).limit(CHUNK))
        if linked_only:
            query = query.where(archive.c.story_id.is_not(None))
        computed = 0
        after: tuple[datetime, str] | None = None
        while True:
            page = query if after is None else query.where(or_(
                archive.c.archived_at > after[0], and_(archive.c.archived_at == after[0],
                                                       archive.c.article_id > after[1])))
            with self.engine.connect() as conn:
                rows = conn.execute(page).all()
            fresh: list[tuple[str, ArticleKeys]] = []
            for row in rows:
                if row.article_id in skip:
                    continue
                keys = _decoded(row.article_id, row.analyser, row.packed) if row.packed is not None else None
                body_text = row.text
                if keys is None:
                    if body_text is None:  # stored keys that could not be read: the text was not asked for
                        body_text = self._text(row.article_id)
                    keys = ArticleKeys.of(f"{row.title}\n{body_text}")
                    fresh.append((row.article_id, keys))
                take(RestoredArticle(row.article_id, row.title, row.published, row.story_id, row.archived_at,
                                     body_text, keys))
            computed += len(fresh)
            self._write_back(fresh)
            if len(rows) < CHUNK:
                return computed
            after = (rows[-1].archived_at, rows[-1].article_id)

    def _text(self, article_id: str) -> str:
        with self.engine.connect() as conn:
            return str(conn.execute(select(archive.c.text).where(archive.c.article_id == article_id)).scalar() or "")

    def _write_back(self, fresh: list[tuple[str, ArticleKeys]]) -> None:
        try:
            self.save_many(fresh)
        except SQLAlchemyError as exc:  # the next start computes them again: nothing is lost
            log.warning("could not keep the keys of %d restored article(s): %s", len(fresh), exc)


def _decoded(article_id: str, version: str | None, packed: bytes) -> ArticleKeys | None:
    if version != analyser():
        return None
    try:
        return ArticleKeys.unpack(bytes(packed))
    except (ValueError, zlib.error, KeyError, TypeError) as exc:
        log.warning("article %s: its stored keys cannot be read (%s); they are computed again from its text",
                    article_id, exc)
        return None


def _upsert(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Insert the rows, replacing those already there (two workers may write one article's keys)."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(article_keys)
        conn.execute(pg.on_conflict_do_update(index_elements=[article_keys.c.article_id],
                                              set_={"analyser": pg.excluded.analyser, "packed": pg.excluded.packed}),
                     rows)
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(article_keys)
        conn.execute(lite.on_conflict_do_update(index_elements=[article_keys.c.article_id],
                                                set_={"analyser": lite.excluded.analyser,
                                                      "packed": lite.excluded.packed}), rows)
    else:
        conn.execute(delete(article_keys).where(article_keys.c.article_id.in_([r["article_id"] for r in rows])))
        conn.execute(insert(article_keys), rows)

"""Schema migrations on SQLite and PostgreSQL: from a pre-migration database, both ways, and in step
with the tables the code uses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select, text

from wirewatch import migrate
from wirewatch.app.state import AppState
from wirewatch.database import StorageError
from wirewatch.tables import archive, entries, metadata

pytestmark = pytest.mark.integration


def test_the_migrations_build_exactly_the_tables_the_code_uses(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # server defaults and column comments are the migrations' own business; tables, columns, types and
    # indexes must match
    assert [d for d in differences if d[0] not in ("modify_default", "modify_comment")] == []


def test_a_database_from_before_migrations_is_upgraded_and_keeps_its_rows(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:  # what a database made by `create_all` looked like: no revision table
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO entries (article_id, content_hash, revision, first_seen, entry_json) VALUES "
                          "('a', '', 0, '2026-01-01 00:00:00', '{}'), ('b', '', 0, '2026-01-01 00:00:00', '{}'), "
                          "('c', '', 0, :recent, '{}')"), {"recent": datetime.now(UTC) - timedelta(minutes=5)})
        conn.execute(text("INSERT INTO archive (article_id, url, title, source, text, tagged_json, archived_at, "
                          "story_id) VALUES ('a', 'https://n.test/a', 'A', '', 't', '{}', '2026-01-01 00:00:00', 41)"))
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.BASELINE
    store = AppState.open(db_url)  # migrates at start
    with store.engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
        states = dict(conn.execute(select(entries.c.article_id, entries.c.state)).all())
        linked = conn.execute(select(archive.c.linked)).scalar_one()
    # archived; dead-lettered long ago (not news any more); still on its way (published again if it never arrives)
    assert states == {"a": "archived", "b": "abandoned", "c": "accepted"} and linked is True
    assert store.ingest.entries_to_redrive(datetime.now(UTC)) == []
    assert [r[0] for r in store.ingest.entries_to_redrive(datetime.now(UTC) + timedelta(minutes=31))] == ["c"]
    assert store.alerts.new_story("next") == 42  # story ids go on after those counted before the migration
    store.close()
    engine.dispose()


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    assert migrate.downgrade(engine, "0001") == (migrate.head(), "0001")
    assert not inspect(engine).has_table("workers")
    assert migrate.upgrade(engine) == ("0001", migrate.head())
    with engine.begin() as conn:
        conn.execute(insert(entries).values(article_id="x", content_hash="", revision=0,
                                            first_seen=datetime(2026, 1, 1, tzinfo=UTC), entry_json="{}"))
        assert conn.execute(select(entries.c.state)).scalar_one() == "accepted"
    engine.dispose()


def test_without_auto_migrate_an_old_schema_is_one_clear_error(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0001")
    engine.dispose()
    with pytest.raises(StorageError, match=r"schema is at revision 0001, this version of wirewatch needs "
                                           rf"{migrate.head()}: run `wirewatch db upgrade`"):
        AppState.open(db_url, auto_migrate=False)


def test_workers_starting_together_migrate_once(db_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            AppState.open(db_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert migrate.current(conn) == migrate.head()
    engine.dispose()


def test_a_database_from_a_newer_wirewatch_is_one_clear_error(db_url: str) -> None:
    engine = create_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StorageError, match=r"schema is at revision 0099, which this version of wirewatch"):
        AppState.open(db_url)


def test_claims_in_flight_name_the_workers_row_after_0004_and_back(db_url: str) -> None:
    """0004: a claim's ``claimed_by`` becomes the claiming worker's row id (``host:pid:alert``), so that a
    claim and its worker's heartbeat join by equality; a downgrade gives back ``host:pid``."""
    engine = create_engine(db_url)
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alerts (idem_key, subscriber, article_id, kind, subject, message, status, "
                          "story, ref, facts_json, attempts, last_error, created_at, claimed_by, interrupted) VALUES "
                          "('k1', 'a@x.test', 'a', 'topic', 'S', 'm', 'sending', '', 'r1', '{}', 0, '', :now, "
                          "'h.example:41', 0), ('k2', 'a@x.test', 'b', 'topic', 'S', 'm', 'sent', '', 'r2', '{}', 1, "
                          "'', :now, '', 0)"), {"now": datetime.now(UTC)})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        claims = dict(conn.execute(text("SELECT idem_key, claimed_by FROM alerts")).all())
    assert claims == {"k1": "h.example:41:alert", "k2": ""}
    migrate.downgrade(engine, "0003")
    with engine.connect() as conn:
        claims = dict(conn.execute(text("SELECT idem_key, claimed_by FROM alerts")).all())
    assert claims == {"k1": "h.example:41", "k2": ""}
    engine.dispose()


def test_0005_keeps_article_keys_and_an_older_archive_gets_its_keys_at_the_first_restore(db_url: str) -> None:
    """0005 adds ``article_keys``; articles archived before it have none: the first restore computes theirs from
    the archived text and writes them; a downgrade drops the table and leaves the archive as it was."""
    from wirewatch.alerts.key_store import ArticleKeys, ArticleKeyStore, RestoredArticle

    from wirewatch.database import Database

    engine = create_engine(db_url)
    migrate.upgrade(engine, "0004")
    now = datetime.now(UTC)
    text_ = "Talks resume in Valdoria\nGovernor Elsa Marquand met the envoys on 17 August."
    with engine.begin() as conn:
        title, body = text_.split("\n", 1)
        conn.execute(insert(archive).values(article_id="old", url="https://n.test/old", title=title, source="",
                                            published=None, text=body, tagged_json="{}",
                                            archived_at=now - timedelta(hours=1), story_id=7, linked=True))
    assert migrate.upgrade(engine) == ("0004", migrate.head())
    assert inspect(engine).has_table("article_keys")
    db = Database(db_url)
    keys = ArticleKeyStore(db)
    assert keys.load("old") is None
    seen: list[RestoredArticle] = []
    assert keys.restore(now - timedelta(days=7), now, seen.append) == 1  # computed from the text
    assert [(r.article_id, r.story_id, r.keys) for r in seen] == [("old", 7, ArticleKeys.of(text_))]
    assert keys.load("old") == ArticleKeys.of(text_)  # written back
    seen.clear()
    assert keys.restore(now - timedelta(days=7), now, seen.append) == 0 and seen[0].text is None  # no text read
    db.close()
    migrate.downgrade(engine, "0004")
    assert not inspect(engine).has_table("article_keys")
    with engine.connect() as conn:
        assert conn.execute(select(archive.c.article_id, archive.c.story_id)).all() == [("old", 7)]
    engine.dispose()

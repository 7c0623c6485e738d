"""The web app through Starlette's test client on a real SQLite store filled by the alert stage:
the bad inputs of issue #13 (forged and expired links, forms without their CSRF token, other users'
ids, a 1 MB rule text, markup in articles, a 10,000-character password) and the plain paths."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.routing import Mount
from starlette.testclient import TestClient

from tests.web_rig import ADMIN, ANALYST, CORPUS, EDITOR, OTHER, PASSWORD, Rig, make_rig, tagged
from wirewatch.app.cli import main
from wirewatch.app.web.app import build_app
from wirewatch.app.web.security import guarded
from wirewatch.links import LinkSigner


@pytest.fixture()
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def client(rig: Rig) -> TestClient:
    return TestClient(build_app(rig.settings, rig.store), base_url=rig.settings.web.base_url,
                      follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def login(c: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in; the session's CSRF token."""
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "email": email, "password": password, "next": "/stories"})
    assert r.status_code == 303, r.text
    return csrf_of(c.get("/stories").text)


def test_every_route_is_guarded_and_anonymous_requests_are_sent_to_login(rig: Rig) -> None:
    app = build_app(rig.settings, rig.store)
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert guarded(route.endpoint) is not None, f"{route.path} has no guard"  # type: ignore[attr-defined]
    c = client(rig)
    assert c.get("/stories").headers["location"] == "/login?next=/stories"
    r = c.post("/subscriptions", data={"mode": "daily"})
    assert r.status_code == 401 and "not logged in" in r.text


def test_security_headers(rig: Rig) -> None:
    r = client(rig).get("/login")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def test_a_wrong_password_and_a_10000_character_one(rig: Rig) -> None:
    c = client(rig)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "email": ANALYST, "password": "not it at all"})
    assert r.status_code == 401 and "Wrong email or password." in r.text
    r = c.post("/login", data={"csrf": token, "email": ANALYST, "password": "x" * 10_000})
    assert r.status_code == 400 and "longer than any wirewatch accepts (at most 256 characters)" in r.text
    result = CliRunner().invoke(main, ["--data-dir", str(rig.settings.data_path), "users", "add", "new@example.org",
                                       "--role", "analyst", "--password-stdin"], input="y" * 10_000 + "\n")
    assert result.exit_code == 2 and "has 10,000 characters; at most 256" in result.output
    assert "new@example.org" not in CliRunner().invoke(main, ["--data-dir", str(rig.settings.data_path),
                                                             "users", "list"]).output


def test_logins_are_rate_limited(rig: Rig) -> None:
    c = client(rig)
    token = csrf_of(c.get("/login").text)
    codes = [c.post("/login", data={"csrf": token, "email": ANALYST, "password": f"wrong {i}"}).status_code
             for i in range(6)]
    assert codes == [401] * 5 + [429]
    r = c.post("/login", data={"csrf": token, "email": ANALYST, "password": PASSWORD})
    assert r.status_code == 429 and "Too many login attempts" in r.text  # even the right one, for a while


def test_a_login_form_without_its_token_is_refused(rig: Rig) -> None:
    r = client(rig).post("/login", data={"email": ANALYST, "password": PASSWORD})
    assert r.status_code == 400 and "ww_session" not in r.headers.get("set-cookie", "")


def test_a_form_without_its_csrf_token_changes_nothing(rig: Rig) -> None:
    c = client(rig)
    login(c, ANALYST)
    before = rig.store.alerts.list_subscribers()
    for data in ({"mode": "daily"}, {"mode": "daily", "csrf": "forged"}):
        r = c.post("/subscriptions", data=data)
        assert r.status_code == 400 and "no valid security token" in r.text
    assert rig.store.alerts.list_subscribers() == before


def test_users_cli_add_list_remove(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    runner = CliRunner()
    add = ["--data-dir", data, "users", "add", "Chief@Example.org", "--role", "editor", "--password-stdin"]
    added = runner.invoke(main, add, input="correct horse battery\n")
    assert added.exit_code == 0 and added.output.endswith("added chief@example.org (editor)\n")
    assert "chief@example.org  editor" in runner.invoke(main, ["--data-dir", data, "users", "list"]).output
    short = runner.invoke(main, add, input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    assert runner.invoke(main, ["--data-dir", data, "users", "remove", "chief@example.org"]).exit_code == 0
    gone = runner.invoke(main, ["--data-dir", data, "users", "remove", "chief@example.org"])
    assert gone.exit_code == 2 and "no user" in gone.output


def test_roles_are_enforced(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, ANALYST)
    for path in ("/rules", "/rules/energy_strikes", "/ops", "/ops/feeds", "/ops/deadletters"):
        r = c.get(path)
        assert r.status_code == 403 and "you are logged in as analyst" in r.text, path
    rule_file = Path(rig.settings.classify.rules_dir) / "energy_strikes.rules"
    before = rule_file.read_text()
    r = c.post("/rules/energy_strikes", data={"csrf": csrf, "text": "threshold = 1\n1  anything\n"})
    assert r.status_code == 403 and "Only editors may do this" in r.text and rule_file.read_text() == before
    r = c.post("/ops/deadletters/replay", data={"csrf": csrf, "letter": "0:1"})
    assert r.status_code == 403
    r = c.post("/ops/feeds", data={"csrf": csrf, "url": "https://feeds.example/rss"})
    assert r.status_code == 403 and rig.store.ingest.list_feeds() == []
    editor = client(rig)
    login(editor, EDITOR)
    assert editor.get("/rules/energy_strikes").status_code == 200 and editor.get("/ops").status_code == 403


def test_another_users_alert_or_subscription_is_out_of_reach(rig: Rig) -> None:
    theirs = next(a for a in rig.store.alerts.sent_alerts() if a["subscriber"] == OTHER)
    rig.store.alerts.add_watch("their-story", "Their story", seed_text="Something else entirely")
    rig.store.alerts.subscribe(OTHER, "watch", "their-story")
    c = client(rig)
    csrf = login(c, ANALYST)
    r = c.post("/feedback", data={"csrf": csrf, "ref": theirs["ref"], "verdict": "not-relevant"})
    assert r.status_code == 404 and "no alert of yours" in r.text
    assert rig.store.alerts.feedback_examples() == []
    r = c.post("/subscriptions/unwatch", data={"csrf": csrf, "watch": "their-story"})
    assert r.status_code == 404
    other = next(s for s in rig.store.alerts.list_subscribers() if s["email"] == OTHER)
    assert other["watches"] == ["their-story"]
    assert theirs["ref"] not in c.get("/alerts").text


def test_feedback_from_the_alerts_page_becomes_training_data(rig: Rig, tmp_path: Path) -> None:
    c = client(rig)
    csrf = login(c, ANALYST)
    page = c.get("/alerts").text
    assert "On Energy strikes, a topic you follow." in page and "energy_strikes" not in page.split("<main")[1]
    ref = re.search(r'name="ref" value="(\w+)"', page).group(1)  # type: ignore[union-attr]
    r = c.post("/feedback", data={"csrf": csrf, "ref": ref, "verdict": "relevant", "back": "/alerts"})
    assert r.status_code == 303 and r.headers["location"].startswith("/alerts?noted=1")
    assert "You said: relevant" in c.get("/alerts").text
    out = tmp_path / "fb.jsonl"
    assert CliRunner().invoke(main, ["--data-dir", str(rig.settings.data_path), "export-feedback",
                                     str(out)]).exit_code == 0
    [example] = [json.loads(line) for line in out.read_text().splitlines()]
    assert example["labels"] == {"energy_strikes": True}


def test_signed_email_links_work_once_forged_or_expired_ones_change_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, link_days=0.00002)  # links last 1.7 seconds
    mail = next(m for m in rig.mails() if m["To"] == ANALYST)
    assert "mailto:" not in mail.as_string()
    assert set(rig.links(mail)) == {"relevant", "not-relevant", "unsubscribe"}
    signer = LinkSigner.from_settings(rig.settings)  # the email's links, made now (those above are too old)
    links = signer.for_email(ANALYST, mail["X-Wirewatch-Refs"])
    c = client(rig)
    path = links["relevant"].removeprefix(rig.settings.web.base_url)
    assert "Mark this alert as relevant" in c.get(path).text
    assert rig.store.alerts.feedback_examples() == []  # opening the link (a mail scanner does) records nothing
    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    r = c.post(forged)
    assert r.status_code == 400 and "not one wirewatch made" in r.text
    assert rig.store.alerts.feedback_examples() == []
    r = c.post(path)
    assert r.status_code == 200 and "is relevant" in r.text
    assert [e["verdict"] for e in rig.store.alerts.feedback_examples()] == ["relevant"]
    time.sleep(2.2)
    r = c.post(links["unsubscribe"].removeprefix(rig.settings.web.base_url))
    assert r.status_code == 400 and "expired" in r.text
    assert next(s for s in rig.store.alerts.list_subscribers() if s["email"] == ANALYST)["topics"]


def test_one_click_unsubscribe(rig: Rig) -> None:
    mail = next(m for m in rig.mails() if m["To"] == ANALYST)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    r = client(rig).post(rig.links(mail)["unsubscribe"].removeprefix(rig.settings.web.base_url))
    assert r.status_code == 200 and "will get no more alerts" in r.text
    assert next(s for s in rig.store.alerts.list_subscribers() if s["email"] == ANALYST)["topics"] == {}


def test_markup_in_article_titles_and_texts_is_escaped(rig: Rig) -> None:
    art = next(a for a in CORPUS.articles if a["kind"] == "energy_strike")
    evil = {**art, "id": "evil1", "slug": "evil"}
    rig.alerter.handle(tagged(evil, title='<script>alert("t")</script> Drone strike on power plant',
                              text="<img src=x onerror=alert(1)> " + "\n".join(art["body"])))
    c = client(rig)
    csrf = login(c, EDITOR)
    story = rig.store.alerts.story_of("evil1")
    page = c.get(f"/stories/{story}").text
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in page and "<script>alert" not in page
    preview = c.post("/rules/energy_strikes/preview", data={"csrf": csrf, "text": "threshold = 1\n1  onerror\n"}).text
    assert "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;" in preview and "<img" not in preview


def test_a_1mb_rule_text_is_refused_and_the_file_kept(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, EDITOR)
    rule_file = Path(rig.settings.classify.rules_dir) / "energy_strikes.rules"
    before = rule_file.read_text()
    huge = "threshold = 1\n" + "1  strike\n" * 100_000
    r = c.post("/rules/energy_strikes", data={"csrf": csrf, "text": huge})
    assert r.status_code == 400 and "1,000,014 characters; at most 200,000" in r.text
    assert rule_file.read_text() == before
    r = c.post("/rules/energy_strikes/preview", data={"csrf": csrf, "text": huge})
    assert "at most 200,000" in r.text


def test_save_check_and_revert_a_rule(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, EDITOR)
    rule_file = Path(rig.settings.classify.rules_dir) / "energy_strikes.rules"
    original = rule_file.read_text()
    r = c.post("/rules/energy_strikes", data={"csrf": csrf, "text": "threshold = 2\n2  (drone OR\n"})
    assert r.status_code == 400 and "line 2, column" in r.text and rule_file.read_text() == original
    from wirewatch.process.classifier import RuleSource

    running = RuleSource(rule_file.parent)  # a classifier's live rules, as a running worker holds them
    r = c.post("/rules/energy_strikes", data={"csrf": csrf, "text": "threshold = 2\n2  drone*\n", "note": "test"})
    assert r.status_code == 303 and rule_file.read_text() == "threshold = 2\n2  drone*\n"
    running.reload_now()  # instead of waiting for its next check (every 2 s)
    assert [p.text for p in running.current().topics["energy_strikes"].patterns] == ["drone*"]
    page = c.get("/rules/energy_strikes").text
    first = re.findall(r'name="version" value="(\d+)"', page)[-1]  # the oldest: as found before the first save
    assert c.post("/rules/energy_strikes/revert", data={"csrf": csrf, "version": first}).status_code == 303
    assert rule_file.read_text() == original
    r = c.post("/rules/new", data={"csrf": csrf, "topic": "grain_deals"})
    assert r.status_code == 303 and (Path(rig.settings.classify.rules_dir) / "grain_deals.rules").exists()
    assert c.post("/rules/new", data={"csrf": csrf, "topic": "../etc"}).status_code == 400


def test_stories_and_a_watch_from_pasted_text(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, ANALYST)
    page = c.get("/stories").text
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    assert seed["title"] in page and "English" in page
    r = c.post("/watches/new", data={"csrf": csrf, "name": "Grain corridor", "text": "Talks on grain in Istanbul."})
    assert r.status_code == 303 and r.headers["location"] == "/subscriptions?watching=grain-corridor&thin=5"
    landed = c.get(r.headers["location"]).text
    assert "Grain corridor" in landed and "Its text has only 5 words" in landed  # a thin seed is named as such
    assert any(w["id"] == "grain-corridor" and w["origin"] == "web" for w in rig.store.alerts.list_watches())
    r = c.post("/watches/new", data={"csrf": csrf, "name": "X", "url": "ftp://x", "text": ""})
    assert r.status_code == 400 and "must start with http" in r.text


def test_ops_pages_and_adding_feeds(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, ADMIN)
    assert "No live worker for the poll stage" in c.get("/ops").text
    assert c.post("/ops/feeds", data={"csrf": csrf, "url": "javascript:alert(1)"}).status_code == 400
    assert c.post("/ops/feeds", data={"csrf": csrf, "url": "https://feeds.example/rss"}).status_code == 303
    opml = b'<opml version="2.0"><body><outline xmlUrl="https://b.example/feed" text="B"/></body></opml>'
    r = c.post("/ops/feeds/import", data={"csrf": csrf}, files={"opml": ("f.opml", opml, "text/xml")})
    assert "1 feeds added" in r.text
    assert [f.url for f in rig.store.ingest.list_feeds()] == ["https://feeds.example/rss", "https://b.example/feed"]
    assert "no broker is configured" in c.get("/ops/deadletters").text


def test_the_pages_queries_on_sqlite_and_postgresql(db_url: str) -> None:
    from wirewatch.app.state import AppState
    from wirewatch.app.web.reads import Reads

    store = AppState.open(db_url)
    art = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    t = tagged(art)
    store.alerts.archive_article(t.article_id, t.article.entry.url, t.article.title, "Harbour Wire",
                                 t.article.published, t.article.text, t.model_dump_json())
    story = store.alerts.new_story(t.article.title)
    store.alerts.set_story(t.article_id, story)
    reads = Reads(store.engine)
    [row], total = reads.active_stories(120)
    assert (total, row.id, row.languages, row.outlets) == (1, story, ("en",), ("Harbour Wire",))
    title, [article] = reads.story(story)
    assert title == t.article.title
    assert article["topics"] == {"ceasefire_talks", "energy_strikes"} and article["language"] == "en"
    assert reads.texts([t.article_id]) == {t.article_id: t.article.text}
    store.close()


def test_wirewatch_run_serves_the_app_when_web_port_is_set(rig: Rig) -> None:
    import socket

    import httpx

    from wirewatch.app.cli.workers import web_beside

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = rig.settings.model_copy(update={"web": rig.settings.web.model_copy(update={"port": port})})
    with web_beside(settings, once=False):
        r = httpx.get(f"http://127.0.0.1:{port}/login")
        assert r.status_code == 200 and "Log in" in r.text
    with web_beside(settings, once=True), pytest.raises(httpx.ConnectError):  # a one-off run serves nothing
        httpx.get(f"http://127.0.0.1:{port}/login")


@pytest.mark.integration
def test_dead_letters_listed_and_replayed_by_an_admin(broker: str, tmp_path: Path) -> None:
    import uuid

    from tests.test_stage_runner import read_all
    from wirewatch.config import KafkaSettings
    from wirewatch.kafka import DEADLETTER, ENTRIES, KafkaWiring
    from wirewatch.schema import DeadLetter

    prefix = f"webdl{uuid.uuid4().hex[:6]}-"
    wiring = KafkaWiring(KafkaSettings(topic_prefix=prefix), broker)
    wiring.ensure_topics()
    producer = wiring.producer()
    for i in range(2):
        letter = DeadLetter(stage="extract", reason="processing_error", error=f"<b>boom {i}</b>",
                            source_topic=wiring.topic(ENTRIES), partition=0, offset=i, payload=f'{{"n": {i}}}')
        producer.send(wiring.topic(DEADLETTER), key=b"k", value=letter.to_bytes())
    producer.flush()
    producer.close()
    rig = make_rig(tmp_path)
    rig.settings = rig.settings.model_copy(update={"kafka": KafkaSettings(topic_prefix=prefix,
                                                                          bootstrap_servers=broker)})
    c = client(rig)
    csrf = login(c, ADMIN)
    page = c.get("/ops/deadletters").text
    assert "&lt;b&gt;boom 1&lt;/b&gt;" in page and "processing error" in page
    keys = re.findall(r'name="letter" value="(\d+:\d+)"', page)
    assert len(keys) == 2
    r = c.post("/ops/deadletters/replay", data={"csrf": csrf, "letter": keys[0]})
    assert r.status_code == 303 and r.headers["location"] == "/ops/deadletters?replayed=1"
    assert len(read_all(wiring, ENTRIES, 1)) == 1


def test_an_analyst_sets_their_subscriptions(rig: Rig) -> None:
    c = client(rig)
    csrf = login(c, ANALYST)
    form = {"csrf": csrf, "mode": "daily", "topic": ["ceasefire_talks"], "min_ceasefire_talks": "0.7"}
    assert c.post("/subscriptions", data=form).status_code == 303
    mine = next(s for s in rig.store.alerts.list_subscribers() if s["email"] == ANALYST)
    assert (mine["mode"], mine["topics"]) == ("daily", {"ceasefire_talks": 0.7})
    for bad in ({"min_ceasefire_talks": "2"}, {"min_ceasefire_talks": "lots"}, {"topic": ["no_such_topic"]},
                {"mode": "weekly"}):
        r = c.post("/subscriptions", data={**form, **bad})
        assert r.status_code == 400 and "Nothing was changed" in r.text
    assert next(s for s in rig.store.alerts.list_subscribers() if s["email"] == ANALYST) == mine


def test_the_preview_articles_are_read_again_in_the_background() -> None:
    import threading

    from wirewatch.app.web.recent import RecentArticles

    reads: list[int] = []
    gate = threading.Event()

    def read() -> list[dict[str, object]]:
        if reads:
            gate.wait(5)  # a slow second read
        reads.append(1)
        return [{"n": len(reads)}]

    recent = RecentArticles(read, lambda rows: None, max_age=0.0)
    assert recent.rows() == [{"n": 1}]  # the first call waits for the read
    assert recent.rows() == [{"n": 1}]  # stale: a new read starts, the old rows are given meanwhile
    gate.set()
    for _ in range(100):
        if recent._refreshing is None:
            break
        time.sleep(0.02)
    assert recent._rows == [{"n": 2}]


def test_the_link_secret_is_made_once_and_shared(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from wirewatch.config import load_settings
    from wirewatch.links import link_secret

    settings = load_settings(None, env={}, overrides={"data_dir": str(tmp_path / "d")})
    with ThreadPoolExecutor(8) as pool:
        secrets_seen = set(pool.map(lambda _: link_secret(settings), range(16)))
    assert len(secrets_seen) == 1 and len(secrets_seen.pop()) >= 40
    assert (tmp_path / "d" / "web.secret").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["web.secret"]


def test_a_watch_seeded_with_another_form_of_an_articles_url_is_shown_on_its_story(tmp_path: Path) -> None:
    from wirewatch.app.state import AppState
    from wirewatch.app.web.reads import Reads

    state = AppState.open(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        state.alerts.add_watch("talks", "The talks", seed_url="https://WWW.news.test/a?utm_source=mail#top")
        state.alerts.add_watch("other", "Another story", seed_url="https://news.test/b")
        shown = Reads(state.engine).watches_of_story(["a1"], ["https://news.test/a"], "x@example.org")
        assert [w["id"] for w in shown] == ["talks"]
    finally:
        state.close()

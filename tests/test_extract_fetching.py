"""The extract stage's fetching against a loopback site: robots.txt, address policy, hostile pages."""

import pytest
from wirewatch.process.extractor import Extractor

from wirewatch.config import ExtractSettings, HttpSettings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.devtools.render import Item, html_page
from wirewatch.devtools.site import LoopbackSite, Resource
from wirewatch.http import AddressPolicy, make_client
from wirewatch.schema import Article, Entry

pytestmark = pytest.mark.integration

ART = DemoCorpus.load().articles[0]
PAGE = html_page(Item(url="x", title=ART["title"], body=ART["body"], published=ART["published"], author="A"))


def extract(site: LoopbackSite, paths: list[str], http: HttpSettings | None = None,
            settings: ExtractSettings | None = None) -> list[Article]:
    http = http or HttpSettings(allow_networks=["127.0.0.0/8"])
    settings = settings or ExtractSettings(workers=1, deadline_seconds=2, timeout_seconds=2)
    with make_client(2, http.agent, http.max_redirects, AddressPolicy.from_strings(http.allow_networks)) as client:
        extractor = Extractor(settings, http, client)
        try:
            entries = [Entry(article_id=f"a{i}", url=site.url(p), canonical_url="", feed_url="f", title="Feed title",
                             summary="The feed's own summary of the story.") for i, p in enumerate(paths)]
            messages = [out[0].message for out in extractor.handle_batch(entries)]
            while back := [i for i, m in enumerate(messages) if isinstance(m, Entry)]:  # a slow page's entry, back
                for i, out in zip(back, extractor.handle_batch([entries[i] for i in back]), strict=True):
                    messages[i] = out[0].message
            return messages  # type: ignore[return-value]
        finally:
            extractor.close()


def test_robots_txt_is_respected_and_cached() -> None:
    with LoopbackSite({"/robots.txt": Resource(b"User-agent: wirewatch\nDisallow: /private/\n", "text/plain"),
                       "/private/a.html": Resource(PAGE), "/public/a.html": Resource(PAGE)}) as site:
        private, public = extract(site, ["/private/a.html", "/public/a.html"])
        assert private.text_source == "feed_summary" and private.fetch_error.endswith("disallowed by robots.txt")
        assert public.text_source == "page"
        assert [p for p, _ in site.requests].count("/robots.txt") == 1
        assert "/private/a.html" not in [p for p, _ in site.requests]


def test_an_unreachable_robots_txt_means_wait() -> None:
    with LoopbackSite({"/robots.txt": Resource(b"oops", "text/plain", 503), "/a.html": Resource(PAGE)}) as site:
        [article] = extract(site, ["/a.html"])
    assert "robots.txt answered HTTP 503" in article.fetch_error and article.text_source == "feed_summary"


def test_no_robots_txt_allows_everything() -> None:
    with LoopbackSite({"/a.html": Resource(PAGE)}) as site:
        [article] = extract(site, ["/a.html"])
    assert article.text_source == "page" and article.title == ART["title"]


def test_hostile_pages_fall_back_with_their_reason() -> None:
    with LoopbackSite({
        "/binary.html": Resource(b"\x00\x01\x02\xff" * 4000),
        "/latin.html": Resource(PAGE.replace(b"</p>", b"\xff\xfe broken \xc3</p>", 3)),
        "/slow.html": Resource(PAGE, trickle=0.2),
        "/huge.html": Resource(b"<html>" + b"a" * 6_000_000),
        "/pdf": Resource(b"%PDF-1.7", "application/pdf"),
    }) as site:
        binary, latin, slow, huge, pdf = extract(site, ["/binary.html", "/latin.html", "/slow.html", "/huge.html",
                                                        "/pdf"])
    assert binary.fetch_error == "not HTML (binary content)"
    assert latin.text_source == "page" and ART["body"][1][:40] in latin.text
    assert "deadline" in slow.fetch_error
    assert "exceeds the limit of 5000000 bytes" in huge.fetch_error
    assert pdf.fetch_error == "not HTML (content-type application/pdf)"
    assert all(a.text == "The feed's own summary of the story." for a in (binary, slow, huge, pdf))


def test_pages_on_private_addresses_are_refused() -> None:
    with LoopbackSite({"/a.html": Resource(PAGE)}) as site:
        [article] = extract(site, ["/a.html"], http=HttpSettings())
        assert "a loopback address; refused" in article.fetch_error and site.requests == []


def test_the_process_pool_extracts_a_batch() -> None:
    with LoopbackSite({f"/{i}.html": Resource(PAGE) for i in range(6)}) as site:
        articles = extract(site, [f"/{i}.html" for i in range(6)],
                           settings=ExtractSettings(workers=2, deadline_seconds=5))
    assert [a.text_source for a in articles] == ["page"] * 6
    assert len({a.text for a in articles}) == 1


def test_the_pool_starts_with_the_stage_and_its_workers_load_page_text_only() -> None:
    http = HttpSettings(allow_networks=["127.0.0.0/8"])
    with make_client(2, http.agent, http.max_redirects, AddressPolicy.from_strings(http.allow_networks)) as client:
        extractor = Extractor(ExtractSettings(workers=2), http, client)
        try:
            pool = extractor.worker_pool()  # started by the constructor, before any entry came
            assert pool is not None
            loaded = pool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=60)
        finally:
            extractor.close()
    assert "wirewatch.process.page_text" in loaded and "trafilatura" in loaded
    assert not {"wirewatch.process.extractor", "wirewatch.kafka", "wirewatch.http", "httpx"} & set(loaded)


def test_the_stage_s_own_process_does_not_load_trafilatura_for_its_pool() -> None:
    """The pool's tasks are named by ``process.pool_tasks``: the submitting process imports no trafilatura."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from wirewatch.process.extractor import Extractor\n"
             "from wirewatch.config import ExtractSettings, HttpSettings\n"
             "from wirewatch.http import AddressPolicy, make_client\n"
             "if __name__ == '__main__':\n"
             "    http = HttpSettings()\n"
             "    with make_client(2, http.agent, 3, AddressPolicy.from_strings([])) as client:\n"
             "        extractor = Extractor(ExtractSettings(workers=2), http, client)\n"
             "        pool = extractor.worker_pool()\n"
             "        assert pool is not None\n"
             "        from wirewatch.process import pool_tasks\n"
             "        page = pool.submit(pool_tasks.extract_page, b'<html><body><p>' + b'Some words. ' * 40 + "
             "b'</p></body></html>', 'https://x.invalid/').result(timeout=60)\n"
             "        extractor.close()\n"
             "    print(isinstance(page, dict), sorted(m for m in sys.modules if m.split('.')[0] in "
             "('trafilatura', 'htmldate', 'py3langid')))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "True []"


def test_a_stage_closed_while_its_pool_starts_cuts_the_start_short_and_a_new_pool_still_starts() -> None:
    """An empty run closes its extract stage before the pool it never used has started: the fork server is
    stopped instead of waited for, nothing of the start outlives the close, and the next pool starts anew."""
    import time
    from multiprocessing import forkserver
    from pathlib import Path

    from wirewatch.process.extractor import _stop_fork_server

    _stop_fork_server()  # a fork server left by an earlier test would make the start below too quick to catch
    old = getattr(forkserver._forkserver, "_forkserver_pid", None)
    http = HttpSettings(allow_networks=["127.0.0.0/8"])
    with make_client(2, http.agent, http.max_redirects, AddressPolicy.from_strings(http.allow_networks)) as client:
        extractor = Extractor(ExtractSettings(workers=2), http, client)
        starting = extractor._pool
        assert starting is not None
        while getattr(forkserver._forkserver, "_forkserver_pid", None) in (None, old) and not starting.done():
            pass  # the server is being started by the stage's thread
        server = forkserver._forkserver._forkserver_pid
        started_before_close = starting.done()
        extractor.close()
        assert starting.done()
        if not started_before_close:  # cut short: the server is dead (a zombie until the next pool reaps it)
            stat, until = Path(f"/proc/{server}/stat"), time.monotonic() + 30
            while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                assert time.monotonic() < until, "the fork server still runs after the close"
                time.sleep(0.01)
            assert isinstance(starting.exception(), Exception)
        again = Extractor(ExtractSettings(workers=2), http, client)
        try:
            pool = again.worker_pool()
            assert pool is not None and pool.submit(eval, "6 * 7").result(timeout=60) == 42
        finally:
            again.close()
    assert not started_before_close, "the pool started before the close: nothing was cut short"


def test_an_extraction_past_its_timeout_falls_back_and_the_pool_is_replaced() -> None:
    body = [f"Paragraph {i} of a very long report about the talks, with words enough to count as text."
            for i in range(20_000)]
    huge = html_page(Item(url="x", title="A long report", body=body, published="2024-08-10", author="A"))  # 2 MB
    # extraction reads its first 1 MB (page_text.lighten): a few tenths of a second, never within 0.05 s
    settings = ExtractSettings(workers=2, extraction_timeout_seconds=0.05, deadline_seconds=20, timeout_seconds=20)
    http = HttpSettings(allow_networks=["127.0.0.0/8"])
    with LoopbackSite({"/huge.html": Resource(huge)}) as site, \
            make_client(20, http.agent, http.max_redirects, AddressPolicy.from_strings(http.allow_networks)) as client:
        extractor = Extractor(settings, http, client)
        try:
            first = extractor.worker_pool()
            entry = Entry(article_id="a1", url=site.url("/huge.html"), canonical_url="", feed_url="f",
                          title="Feed title", summary="The feed's own summary of the story.")
            [[out]] = extractor.handle_batch([entry])
            replaced = extractor.worker_pool()
            assert replaced is not None and replaced is not first
            assert replaced.submit(eval, "6 * 7").result(timeout=60) == 42
        finally:
            extractor.close()
    article = out.message
    assert isinstance(article, Article) and article.text_source == "feed_summary"
    assert article.fetch_error == "extraction timed out after 0.05s"


def test_the_wirewatch_script_s_module_imports_no_command_line() -> None:
    """Extraction workers run their parent's main script again: under the `wirewatch` script, its entry
    module, which must not pull in the command line (click, SQLAlchemy, kafka-python...)."""
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    module, _, function = pyproject["project"]["scripts"]["wirewatch"].partition(":")
    probe = (f"import sys; import {module} as m; assert callable(m.{function}); "
             "print(sorted(n for n in ('wirewatch.app.cli', 'click', 'sqlalchemy', 'kafka') if n in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"

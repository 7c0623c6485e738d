"""`wirewatch feeds …` as ops use it, against a loopback site and a SQLite state."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from wirewatch.app.cli import main
from wirewatch.devtools.render import Item, atom_feed, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource

pytestmark = pytest.mark.integration

FEED = rss_feed("Wire", "https://n.test/", [Item(url="https://n.test/1", title="One", body=[],
                                                   published="2024-08-17T10:00:00Z")])


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    cfg = tmp_path / "w.toml"
    if not cfg.exists():
        cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[http]\nallow_networks = ["127.0.0.0/8"]\n')
    result = CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)
    return result.exit_code, (result.stdout if result.exit_code == 0 else result.output)


def test_add_list_status_remove(tmp_path: Path) -> None:
    assert run(tmp_path, "feeds", "add", "https://n.test/a.xml", "--name", "A") == (0, "added https://n.test/a.xml\n")
    assert run(tmp_path, "feeds", "add", "https://n.test/a.xml")[1] == "https://n.test/a.xml is already a feed\n"
    code, out = run(tmp_path, "feeds", "add", "ftp://n.test/x")
    assert code == 2 and "http(s)" in out
    code, out = run(tmp_path, "feeds", "list")
    assert out == "new       https://n.test/a.xml  (A)\n1 feeds\n"
    code, out = run(tmp_path, "feeds", "status")
    assert "health new" in out and "last poll never" in out and "1 feeds: 1 new" in out
    assert run(tmp_path, "feeds", "remove", "https://n.test/a.xml")[0] == 0
    assert run(tmp_path, "feeds", "remove", "https://n.test/a.xml")[0] == 1


def test_opml_round_trip(tmp_path: Path) -> None:
    opml = tmp_path / "in.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="News">'
                    '<outline text="A" xmlUrl="https://n.test/a.xml"/><outline text="B" xmlUrl="https://n.test/b"/>'
                    '</outline><outline text="bad" xmlUrl="javascript:alert(1)"/></body></opml>')
    code, out = run(tmp_path, "feeds", "import", str(opml))
    assert code == 0 and "2 feeds added, 0 already there, 1 skipped" in out
    code, out = run(tmp_path, "feeds", "export")
    assert 'xmlUrl="https://n.test/a.xml"' in out and 'title="B"' in out and "javascript" not in out
    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline")
    code, out = run(tmp_path, "feeds", "import", str(broken))
    assert code == 2 and "not well-formed XML" in out


def test_discover_from_link_tags_common_paths_and_the_feed_itself(tmp_path: Path) -> None:
    with LoopbackSite() as site:
        site.resources["/"] = Resource(b'<html><head><link rel="alternate" type="application/atom+xml" '
                                       b'href="/atom.xml" title="All"></head><body>Home</body></html>')
        site.resources["/atom.xml"] = Resource(atom_feed("Site atom", site.base, []), "application/atom+xml")
        site.resources["/rss.xml"] = Resource(FEED, "application/rss+xml")
        code, out = run(tmp_path, "feeds", "discover", site.url("/"), "--add")
        assert code == 0 and out == f"{site.url('/atom.xml')}  Site atom  (added)\n"
        del site.resources["/"]
        site.resources["/plain"] = Resource(b"<html><body>No links here</body></html>")
        code, out = run(tmp_path, "feeds", "discover", site.url("/plain"))
        assert code == 0 and out == f"{site.url('/rss.xml')}  Wire\n{site.url('/atom.xml')}  Site atom\n"
        code, out = run(tmp_path, "feeds", "discover", site.url("/rss.xml"))
        assert out == f"{site.url('/rss.xml')}  Wire\n"
        code, out = run(tmp_path, "feeds", "discover", site.url("/nothing"))
        assert code == 2 and "HTTP 404" in out

"""The web app in a real browser: Debian's Chromium driven by Playwright against the app served by
uvicorn on loopback, on data the real alert stage wrote. What a person does: log in (with the
keyboard), watch a story and see a follow-up appear on its page, give feedback from the link in a
received email, edit a rule and see the preview change, be refused where the role does not allow it.

``WIREWATCH_SCREENSHOTS=docs/screenshots`` also saves the main pages as PNG files there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web_rig import ADMIN, ANALYST, CORPUS, EDITOR, PASSWORD, Rig, make_rig
from wirewatch.app.web.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("WIREWATCH_SCREENSHOTS", "")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Live:
    def __init__(self, rig: Rig, server: BackgroundServer, browser: Any, width: int = 1100) -> None:
        self.rig, self.server = rig, server
        self.base = f"http://127.0.0.1:{server.port}"
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()

    def login(self, email: str) -> None:
        page = self.page
        page.goto(self.base + "/stories")  # sent to the login form, and back after it
        page.get_by_label("Email").focus()  # it has the focus when the page loads (autofocus); made sure here
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"^[^?]*/stories$"))

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture()
def live(tmp_path: Path, browser: Any) -> Iterator[Live]:
    rig = make_rig(tmp_path)
    with BackgroundServer(rig.settings, "127.0.0.1", 0) as server:
        session = Live(rig, server, browser)
        yield session
        session.context.close()


def test_log_in_watch_a_story_and_see_a_follow_up_appear(live: Live) -> None:
    page = live.page
    live.login(ANALYST)
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    live.shot("stories")
    page.get_by_role("link", name=seed["title"]).click()
    page.get_by_role("heading", name="Follow-ups").wait_for()
    assert page.get_by_text("No follow-up yet.").is_visible()
    page.get_by_text("outlets retold it").click()  # the retellings, folded under the first report
    assert page.get_by_role("link", name="Kursk offensive scuttled Qatar-mediated talks").first.is_visible()
    page.get_by_role("button", name="Watch this story").click()
    page.get_by_text("You watch this story").wait_for()

    live.rig.feed(("doha_followup",))  # the alert stage takes in the follow-ups, as a running worker would
    page.reload()
    follow_ups = page.locator("section", has=page.get_by_role("heading", name="Follow-ups"))
    follow_ups.get_by_role("link", name="Moscow denies any talks with Kyiv took place in Doha").wait_for()
    assert "What is new" in follow_ups.inner_text()
    live.shot("story")
    sent = [a for a in live.rig.store.alerts.sent_alerts() if a["subscriber"] == ANALYST and a["kind"] == "followup"]
    assert sent, "the follow-ups of the watched story were emailed"


def test_feedback_from_the_link_in_a_received_email(live: Live) -> None:
    mail = next(m for m in live.rig.mails() if m["To"] == ANALYST)
    link = live.rig.links(mail)["not-relevant"]
    page = live.page
    page.goto(live.base + link.removeprefix(live.rig.settings.web.base_url))  # the app here is on another port
    page.get_by_role("button", name="Mark this alert as not relevant").click()
    page.get_by_text("Thank you").wait_for()
    assert "is not relevant" in page.inner_text("main")
    assert [e["verdict"] for e in live.rig.store.alerts.feedback_examples()] == ["not_relevant"]
    live.login(ANALYST)
    page.get_by_role("link", name="My alerts").click()
    assert page.get_by_text("You said: not relevant").count() == 1
    live.shot("alerts")


def test_edit_a_rule_and_see_the_preview_change(live: Live) -> None:
    page = live.page
    live.login(EDITOR)
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("link", name="Energy strikes").click()
    page.locator("#preview-ok").wait_for()
    before = int(page.locator("#fires-count").inner_text())
    assert before > 0 and page.locator("#newly-count").inner_text() == "0"
    editor = page.get_by_label("energy_strikes.rules")
    editor.fill("threshold = 1\n1  zaporizhzhia\n")
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(page.locator("#fires-count")).not_to_have_text(str(before))  # the page's CSP allows no eval
    assert int(page.locator("#fires-count").inner_text()) < before
    assert page.locator("#preview-firing mark").first.inner_text().lower() == "zaporizhzhia"
    editor.press("End")
    editor.type("1  (drone OR")
    page.locator("#rule-problems").get_by_text("line 3, column").wait_for()
    editor.press("Backspace")
    editor.press("Backspace")  # "OR" gone
    editor.type("NEAR/5 plant)")
    page.locator("#preview-ok").wait_for()
    live.shot("rule-editor")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    rules = Path(live.rig.settings.classify.rules_dir) / "energy_strikes.rules"
    assert rules.read_text() == "threshold = 1\n1  zaporizhzhia\n1  (drone NEAR/5 plant)\n"


def test_refused_where_the_role_does_not_allow_it(live: Live) -> None:
    page = live.page
    live.login(ANALYST)
    assert page.get_by_role("link", name="Rules").count() == 0  # not offered ...
    page.goto(live.base + "/rules/energy_strikes")  # ... and refused when asked for
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    assert "This page is for editors" in page.inner_text("main")
    page.goto(live.base + "/ops")
    assert "This page is for admins" in page.inner_text("main")


def test_an_admin_adds_a_feed_and_sees_the_pipeline(live: Live) -> None:
    page = live.page
    live.login(ADMIN)
    page.get_by_role("link", name="Operations").click()
    assert page.get_by_text("No live worker for the poll stage").is_visible()
    page.get_by_role("link", name="Feeds").click()
    page.get_by_label("Feed address").fill("https://feeds.example/world.rss")
    page.get_by_label("Name (optional)").fill("World desk")
    page.get_by_role("button", name="Add feed").click()
    page.get_by_text("Feed added").wait_for()
    assert page.get_by_role("cell", name="World desk").is_visible()
    live.shot("ops-feeds")
    page.get_by_role("link", name="My subscriptions").click()
    live.shot("subscriptions")


def test_pages_fit_a_phone(tmp_path: Path, browser: Any) -> None:
    rig = make_rig(tmp_path)
    with BackgroundServer(rig.settings, "127.0.0.1", 0) as server:
        phone = Live(rig, server, browser, width=380)
        phone.login(ANALYST)
        for path in ("/stories", "/stories/1", "/subscriptions", "/alerts"):
            phone.page.goto(phone.base + path)
            overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        phone.page.goto(phone.base + "/stories/1")
        phone.shot("story-phone")
        phone.context.close()

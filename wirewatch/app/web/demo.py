"""``wirewatch demo --serve``: the web app kept up on the data the demo just made.

In: the demo's settings and a port. Out: the app on ``http://127.0.0.1:PORT/`` with three demo users
(the demo's analyst, an editor and an admin) sharing one password made for this run and printed, and
an editable copy of the bundled rules in ``DATA_DIR/rules``; it runs until Ctrl-C.
"""

from __future__ import annotations

import secrets
import shutil
from typing import TextIO

from wirewatch.app.web.server import serve
from wirewatch.app.web.services import Stages
from wirewatch.app.web.users import UserBook
from wirewatch.config import Settings
from wirewatch.database import Database

DEMO_USERS = (("analyst@example.org", "analyst"), ("editor@example.org", "editor"), ("admin@example.org", "admin"))


def serve_demo(settings: Settings, port: int, out: TextIO) -> None:
    rules = settings.data_path / "rules"
    if not rules.is_dir():
        shutil.copytree(Stages(settings).rules_folder(), rules)
    web_settings = settings.model_copy(update={"classify": settings.classify.model_copy(
        update={"rules_dir": str(rules)})})
    password = secrets.token_urlsafe(9)
    book = UserBook(Database(settings.database_url).engine)
    for email, role in DEMO_USERS:
        book.add(email, role, password)
    print(f"\nweb app: http://127.0.0.1:{port}/  (Ctrl-C stops it)", file=out)
    for email, role in DEMO_USERS:
        print(f"  log in as {email} ({role}) with the password {password}", file=out)
    here = settings.web.base_url.rstrip("/") == f"http://127.0.0.1:{port}"
    print(f"  the links in the demo's emails ({settings.outbox_path}) lead "
          f"{'here' if here else 'to ' + settings.web.base_url + ' ([web] base_url)'}", file=out, flush=True)
    serve(web_settings, "127.0.0.1", port)

"""The web app's commands: ``wirewatch web`` and ``wirewatch users add|list|remove``.

In: the command line (and the password on standard input). Out: a running app, or a line saying
what was done; a problem ends the command with one line and exit code 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from wirewatch.config import ConfigError


def _settings(obj: Any) -> Any:
    try:
        return obj.settings
    except ConfigError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    click.echo(f"wirewatch: {message}", err=True)
    sys.exit(2)


def _book(obj: Any) -> Any:
    from wirewatch.app.web.users import UserBook
    from wirewatch.database import Database, StorageError

    settings = _settings(obj)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    try:
        return UserBook(Database(settings.database_url, auto_migrate=settings.database.auto_migrate).engine)
    except StorageError as exc:
        _fail(str(exc))


@click.command()
@click.option("--host", default=None, help="address to listen on  [default: [web] host, 127.0.0.1]")
@click.option("--port", type=int, default=None, help="port  [default: [web] port, or 8080 when that is 0]")
@click.pass_obj
def web(obj: Any, host: str | None, port: int | None) -> None:
    """Serve the web app for analysts, editors and ops on the workers' data."""
    from wirewatch.app.web.server import serve
    from wirewatch.database import StorageError

    settings = _settings(obj)
    host = host or settings.web.host
    port = port if port is not None else (settings.web.port or 8080)
    click.echo(f"wirewatch web on http://{host}:{port}/ (data: {settings.data_dir}; links in emails: "
               f"{settings.web.base_url})", err=True)
    try:
        serve(settings, host, port)
    except StorageError as exc:
        _fail(str(exc))


@click.group()
def users() -> None:
    """Who may log in to the web app: analysts, editors (rules too) and admins (operations too)."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["analyst", "editor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, required=True,
              help="read the password from standard input (so that it stays out of the shell's history)")
@click.pass_obj
def users_add(obj: Any, email: str, role: str, password_stdin: bool) -> None:
    """Add a user, or give an existing one this role and password (which logs them out)."""
    from wirewatch.app.web.users import UserError

    password = sys.stdin.readline().rstrip("\r\n")
    try:
        added = _book(obj).add(email, role, password)
    except UserError as exc:
        _fail(str(exc))
    click.echo(f"{'added' if added else 'updated'} {email.strip().lower()} ({role})")


@users.command("list")
@click.pass_obj
def users_list(obj: Any) -> None:
    """Every user and their role."""
    rows = _book(obj).list()
    for row in rows:
        click.echo(f"{row['email']}  {row['role']}  since {row['created_at']:%Y-%m-%d}")
    click.echo(f"{len(rows)} users")


@users.command("remove")
@click.argument("email")
@click.pass_obj
def users_remove(obj: Any, email: str) -> None:
    """Remove a user (their sessions end at once)."""
    if not _book(obj).remove(email):
        _fail(f"no user {email!r}")
    click.echo(f"removed {email.strip().lower()}")

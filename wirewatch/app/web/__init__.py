"""The web app for analysts, editors and ops: server-rendered pages on the data the workers share.

In: the settings (data folder, database, ``[web]``) and HTTP requests. Out: HTML pages, built by one
module per area (:mod:`.stories`, :mod:`.subscriptions`, :mod:`.rules_editor`, :mod:`.ops`,
:mod:`.auth`, :mod:`.email_links`) on the app floor. Pages reach the stages only through
:mod:`.services`; the database through the kernel's tables and :class:`~wirewatch.app.state.AppState`.
"""

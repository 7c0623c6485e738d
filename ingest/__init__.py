"""ingest: the feed poller, the first stage.

In: the feeds of the configuration, over HTTP. Out: one :class:`wirewatch.schema.Entry` per new
entry on topic ``entries``. It never fetches article pages (that is ``process``), and it never
imports another stage.
"""

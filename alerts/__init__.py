"""alerts: the alert stage, the pipeline's sink.

In: :class:`~wirewatch.schema.TaggedArticle` on ``tagged``. Out: archived articles, links to the
watched stories, and email (SMTP or ``.eml`` files) to the subscribers whose topics or watched
stories an article concerns. It never fetches pages or classifies, and never imports another stage.
"""

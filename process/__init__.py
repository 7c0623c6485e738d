"""process: the extract and classify stages.

``extract`` — in: :class:`~wirewatch.schema.Entry` on ``entries``; out: :class:`~wirewatch.schema.Article`
on ``articles`` (page text by trafilatura, or the feed summary as a marked fallback).
``classify`` — in: ``articles``; out: :class:`~wirewatch.schema.TaggedArticle` on ``tagged`` (topics
from editors' keyword rules plus a scikit-learn model, each with a score and an explanation).
Neither stage polls feeds or sends email, and neither imports another stage.
"""

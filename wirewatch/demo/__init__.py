"""The demo: a bundled corpus of invented news, served over loopback HTTP, run through the pipeline.

In: ``corpus.json`` (feeds and articles written for wirewatch). Out: a running loopback site with
RSS and Atom feeds and HTML pages (:mod:`wirewatch.demo.site`), and a report of the run.
"""

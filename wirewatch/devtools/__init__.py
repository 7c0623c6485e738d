"""Development tools, apart from the product: the demo corpus and its loopback site, the newswire,
the local cluster and the SMTP sink.

In: ``corpus.json`` (feeds and articles written for wirewatch) and test settings. Out: loopback servers
and worker processes that the demo, the tests and the benchmarks drive.
"""

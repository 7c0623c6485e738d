"""The app, on top of the stages: the command line, pipeline assembly, status, observability and the web app.

In: the configuration and the stages, reached only through :mod:`wirewatch.app.registry`. Out: processes
that run the stages, and what operators and analysts see of them.
"""

"""Side-by-side comparison of pytest-asyncgroup with the runners people use today.

``benchmarks/compare.py`` is the command; this package holds its parts:

- ``dialects``: how each runner's suite marks what a test may overlap (pure).
- ``suites``, ``service_suite``: the synthetic suites, as files per dialect (pure).
- ``service``: the HTTP service that the system-test suite talks to.
- ``environments``: one virtual environment per runner, at pinned versions.
- ``runs``: one pytest command, timed, with its outcome counts and peak memory.
- ``report``: the markdown page; ``chart`` draws the PNG (run with matplotlib's venv).
- ``probe/bench_rss_probe.py``: the plugin that records each process's peak memory.
"""

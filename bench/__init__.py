"""`make bench`: issue 6's benchmark. See bench/README.md for the method; `python -m bench` runs it.

Kept import-free: `python -m bench.tui_probe` and the load workers import this package first.
"""

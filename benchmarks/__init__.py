"""Speed measurements of swahr-infer: scripts that print a table and write JSON to results/.

Run them from the repository root (``python benchmarks/latency.py``); the shared timing code
is :mod:`swahr_infer.benchmark` (also behind ``swahr-infer bench``).  See README.md.
"""

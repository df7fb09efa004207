"""liveclass-bench: load tests of the liveclass hub, and the same load against baselines.

The ``liveclass-bench`` command is :mod:`bench.cli`; bench/README.md explains the scenarios,
the metrics and the adapter protocol the baseline servers speak.
"""

"""Benchmarks: one module per scenario, each printing ratios and writing bench/results/*.json.

Run them all with `make bench` (`python -m bench`), or one with `python -m bench.<scenario>`.
"""

"""Benchmark suite comparing gristmill with leasepool and asyncio baselines.

Run from the repository root::

    python -m benchmarks                  # every scenario, 3 repeats per cell
    python -m benchmarks --quick          # smoke run with small sizes, 1 repeat
    python -m benchmarks --markdown       # Markdown report for BENCHMARKS.md
    python -m benchmarks --scenario trickle --systems gristmill,leasepool
    python -m benchmarks --gristmill-module leasepool   # harness check without gristmill

Layout: ``jobs`` (picklable job functions), ``scenarios`` (workloads, pool
configuration, ideals), ``systems`` (one harness per compared system, the two
grinders through the same leasepool-compatible API), ``workloads`` (burst,
trickle, serial and memory patterns), ``metrics`` (CPU, RSS, percentiles),
``cell`` (one scenario x system run in a fresh interpreter), ``results``
(medians and ratios), ``report`` (text and Markdown) and ``run`` (the CLI,
which also writes ``benchmarks/results/latest.json``).
"""

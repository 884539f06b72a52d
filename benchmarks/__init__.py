"""Benchmark suite comparing gristmill with leasepool and asyncio baselines.

Run ``python -m benchmarks --help`` from the repository root.
"""

"""Benchmarks of together-queue against raw httpx and the official Together SDK.

Run `python -m bench.run` (or `nox -s bench`); it writes BENCHMARKS.md.
"""

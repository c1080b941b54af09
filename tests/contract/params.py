"""Shared settings of the contract tests: the emulator's key and limits, example budgets."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from together_queue import PollPolicy

__all__ = [
    "API_KEY",
    "FAST_POLL",
    "MAX_BODY_BYTES",
    "MAX_EXAMPLES",
    "PROPERTY_SETTINGS",
    "SCHEMATHESIS_EXAMPLES",
]

API_KEY = "sk-contract-test-key"
"""The one key the contract tests' emulators accept."""

MAX_BODY_BYTES = 4096
"""The emulators' body limit: a 413 costs a 5 kB request; normal requests stay far below."""

FAST_POLL = PollPolicy(initial=0.01, multiplier=1.5, max_interval=0.05, jitter=0.0)
"""Polling for the tests: the same behaviour as the default, only quicker."""

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "30"))
"""Examples per property test; a deep run: CONTRACT_MAX_EXAMPLES=500 nox -s contract."""

SCHEMATHESIS_EXAMPLES = int(os.environ.get("CONTRACT_SCHEMATHESIS_EXAMPLES", "100"))
"""Fuzzing cases per operation for schemathesis (its coverage phase adds its own)."""

PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every CI run: a red build is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Hypothesis settings of every property test here."""

"""Schemathesis against the emulator served by uvicorn on a loopback port, with ALL checks.

Every operation of openapi.yaml, with a bounded number of generated cases each, runs
every check schemathesis registers: server errors, status codes, content types,
response headers and bodies against the spec, rejection of schema-violating data,
acceptance of schema-valid data, missing required headers (Authorization included:
the emulator runs with an API key), unsupported methods, Allow headers, ignored auth,
and the stateful ones, with no narrowing: every schema-valid request must be accepted
(an integral float such as `"priority": 5.0` is an integer to JSON Schema, and to the
emulator).

Checks that find nothing to do here, and why, so that their silence is understood:
`use_after_free` and `ensure_resource_availability` need a DELETE, which the Queue API
has none of; `object_level_authorization` needs a second identity, and a key sees
every job; `unsupported_method` and `allow_header_conformance` run on their own
coverage cases (405 with an Allow header, which the emulator answers).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import CheckFunction, load_all_checks
from schemathesis.core.parameters import ParameterLocation

from tests.contract.params import API_KEY, SCHEMATHESIS_EXAMPLES
from tests.support.openapi_check import SPEC_PATH
from together_queue.emulator import EmulatorHandle, start_emulator
from together_queue.testing import DEFAULT_TEST_MODELS

load_all_checks()
schema = schemathesis.openapi.from_path(str(SPEC_PATH))


CHECKS: list[CheckFunction] = [
    cast(CheckFunction, check)  # every registered check is a function today
    for check in REGISTRY.get_all()
]

# Status codes seen per operation: a run whose requests all bounced off auth or input
# validation (400, 401, 405) would pass every check without reaching the service, so
# the fixture below refuses it. Random request ids make status and cancel answer 404.
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)
REACHED_THE_SERVICE = frozenset({200, 404, 409})


def _auth_headers(case: schemathesis.Case[Any]) -> dict[str, str] | None:
    """The valid key, unless the case itself is about the Authorization header.

    A case that drops or corrupts Authorization must reach the emulator as generated
    (the missing-header and negative-data checks expect 401); any other gets the key,
    so that it tests the operation rather than the auth layer.
    """
    meta = case.meta
    if meta is not None:
        header = meta.components.get(ParameterLocation.HEADER)
        if header is not None and header.mode.is_negative:
            return None
        data = meta.phase.data
        if getattr(data, "parameter_location", None) == ParameterLocation.HEADER and (
            str(getattr(data, "parameter", "")).lower() == "authorization"
        ):
            return None
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def served_emulator() -> Iterator[EmulatorHandle]:
    """One emulator for the whole run: jobs pile up, as they would on a real service."""
    keys = (API_KEY,)
    with start_emulator(models=DEFAULT_TEST_MODELS, api_keys=keys, claim_timeout=2.0) as handle:
        yield handle
    bounced = sorted(op for op, seen in STATUSES.items() if not REACHED_THE_SERVICE & set(seen))
    assert not bounced, f"no request got past validation for {bounced}: {dict(STATUSES)}"


def test_every_registered_check_runs() -> None:
    """A schemathesis upgrade that adds a check adds it here too, unchanged."""
    names = {getattr(check, "__name__", "") for check in CHECKS}
    assert names == set(REGISTRY.get_all_names())


@schema.parametrize()
@settings(
    max_examples=SCHEMATHESIS_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_emulator_conforms(case: schemathesis.Case[Any], served_emulator: EmulatorHandle) -> None:
    response = case.call_and_validate(
        base_url=served_emulator.api_url,
        headers=_auth_headers(case),
        checks=CHECKS,
        timeout=10,
    )
    STATUSES[case.operation.label][response.status_code] += 1

"""Generated models against the spec: every component schema, property-based round trips.

For each schema under components/schemas (read from openapi.yaml at collection time),
instances generated from the schema itself (hypothesis-jsonschema) go through the
generated model's `from_dict` and back through `to_dict`; the result must equal the
input up to equivalent date-time spellings, and validate against the schema with
format checking on.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.contract.params import PROPERTY_SETTINGS
from tests.contract.schemas import (
    MODELS_MODULE,
    check_round_trip,
    component_schema,
    format_validator,
    model_class,
    model_class_name,
    rfc3339_instant,
    schema_names,
)

SCHEMAS = schema_names()

# Enough to hit optional fields, nested objects and extra keys; small enough for CI.
ROUND_TRIP = PROPERTY_SETTINGS

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@cache
def _instances(name: str) -> st.SearchStrategy[Any]:
    return from_schema(component_schema(name))


def _allows_extra(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and schema.get("additionalProperties", True) is not False


def test_spec_has_schemas() -> None:
    assert SCHEMAS, "openapi.yaml lists no components/schemas: nothing would be checked"


def test_format_checking_is_really_on() -> None:
    # jsonschema checks date-time only when an RFC 3339 library is installed;
    # without one, every date-time assertion below would pass vacuously.
    validator = format_validator({"type": "string", "format": "date-time"})
    assert not validator.is_valid("yesterday")
    assert validator.is_valid("2026-04-08T12:00:00Z")


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_has_a_generated_model(name: str) -> None:
    assert model_class(name) is not None, (
        f"schema {name} has no generated model {MODELS_MODULE}.{model_class_name(name)} "
        "with from_dict/to_dict: run `nox -s generate`"
    )


@pytest.mark.parametrize("name", SCHEMAS)
@ROUND_TRIP
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    check_round_trip(name, data.draw(_instances(name), label=name))


@pytest.mark.parametrize("name", [n for n in SCHEMAS if _allows_extra(component_schema(n))])
@ROUND_TRIP
@given(data=st.data())
def test_extra_properties_are_kept(name: str, data: st.DataObject) -> None:
    schema = component_schema(name)
    instance = data.draw(_instances(name), label=name)
    declared = set(schema.get("properties", {}))
    extra = data.draw(
        st.dictionaries(
            st.text(min_size=1, max_size=12).filter(lambda k: k not in declared),
            JSON_VALUES,
            min_size=1,
            max_size=3,
        ),
        label="extra properties",
    )
    instance = {**instance, **extra}
    cls = model_class(name)
    assert cls is not None
    model = cls.from_dict(copy.deepcopy(instance))
    assert model.additional_properties == {
        k: v for k, v in instance.items() if k not in declared
    }, f"{name} lost or changed extra properties"
    out = check_round_trip(name, instance)
    assert {k: out.get(k) for k in extra} == extra, f"{name}.to_dict() dropped extra properties"


@pytest.mark.parametrize(
    ("spelling", "same_as"),
    [
        ("2026-04-08T12:00:00Z", "2026-04-08T12:00:00+00:00"),
        ("2026-04-08T12:00:00.5Z", "2026-04-08T12:00:00.500000+00:00"),
        ("2026-04-08T14:00:00+02:00", "2026-04-08T12:00:00Z"),
        ("2026-04-08T12:00:00-00:00", "2026-04-08T12:00:00Z"),
    ],
)
def test_date_time_normalisation(spelling: str, same_as: str) -> None:
    assert rfc3339_instant(spelling) == rfc3339_instant(same_as)


def test_date_time_normalisation_tells_moments_apart() -> None:
    assert rfc3339_instant("2026-04-08T12:00:00Z") != rfc3339_instant("2026-04-08T12:00:01Z")
    with pytest.raises(ValueError, match="RFC 3339"):
        rfc3339_instant("2026-04-08 12:00:00")


def test_model_lookup_follows_the_generators_naming() -> None:
    assert model_class_name("QueueJobStatusResponse") == "QueueJobStatusResponse"
    assert model_class_name("queue_error") == "QueueError"
    assert model_class_name("queue-metrics.response") == "QueueMetricsResponse"
    # A schema added to the spec but not generated yet: the lookup says so.
    assert model_class("QueueJobRetryRequest") is None

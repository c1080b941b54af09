"""The spec's component schemas as test inputs: discovery, `$ref` inlining, model lookup.

Schemas are read from openapi.yaml when the tests are collected, so a schema added
to the spec is covered (and fails until a model is generated for it) without a
test being edited.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from tests.support.openapi_check import load_spec

__all__ = [
    "EXAMPLE_DATE_TIME",
    "MODELS_MODULE",
    "SPEC",
    "WRONG_TYPE_VALUES",
    "check_round_trip",
    "component_schema",
    "example_instance",
    "format_validator",
    "inline_refs",
    "model_class",
    "model_class_name",
    "normalise",
    "rfc3339_instant",
    "schema_names",
    "wrong_type_values",
]

SPEC: dict[str, Any] = load_spec()
MODELS_MODULE = "together_queue_api.models"
_REF_PREFIX = "#/components/schemas/"


def schema_names() -> list[str]:
    """Every schema under components/schemas, in document order."""
    return list(SPEC.get("components", {}).get("schemas", {}))


def model_class_name(schema_name: str) -> str:
    """The class openapi-python-client generates for a schema: its name in PascalCase.

    The generator splits on non-alphanumerics and on lower-to-upper case changes,
    capitalises each word and joins them: `QueueJobStatusResponse` stays as it is,
    `queue_error` becomes `QueueError`.
    """
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", schema_name)
    return "".join(word[:1].upper() + word[1:] for word in words)


def model_class(schema_name: str) -> type[Any] | None:
    """The generated model class for `schema_name`, or None when there is none."""
    module = importlib.import_module(MODELS_MODULE)
    cls = getattr(module, model_class_name(schema_name), None)
    if not isinstance(cls, type):
        return None
    if not (hasattr(cls, "from_dict") and hasattr(cls, "to_dict")):
        return None
    return cls


def inline_refs(schema: Any, *, _seen: tuple[str, ...] = ()) -> Any:
    """`schema` with every `#/components/schemas/...` reference replaced by its target.

    hypothesis-jsonschema and a bare jsonschema validator see one self-contained
    schema. A cycle would make the result infinite, so it is an error.
    """
    if isinstance(schema, list):
        return [inline_refs(item, _seen=_seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        name = ref[len(_REF_PREFIX) :]
        if name in _seen:
            raise ValueError(f"schema {name} refers to itself: {' -> '.join((*_seen, name))}")
        target = SPEC["components"]["schemas"][name]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return {**inline_refs(target, _seen=(*_seen, name)), **siblings}
    return {key: inline_refs(value, _seen=_seen) for key, value in schema.items()}


def component_schema(name: str) -> dict[str, Any]:
    """The schema `name`, self-contained."""
    result: dict[str, Any] = inline_refs(SPEC["components"]["schemas"][name])
    return result


def check_round_trip(name: str, instance: Any) -> Any:
    """Parse `instance` with the model of schema `name`, write it back, and hold the result.

    Raises AssertionError naming the schema and the field when the output breaks the
    schema or differs from the input (date-time spellings aside). Returns the output.
    """
    cls = model_class(name)
    assert cls is not None, f"schema {name} has no generated model"
    schema = component_schema(name)
    # from_dict must not mutate its input; a copy proves that too.
    given_instance = copy.deepcopy(instance)
    out = cls.from_dict(given_instance).to_dict()
    assert given_instance == instance, f"{name}.from_dict changed its input"
    errors = [f"at {e.json_path}: {e.message}" for e in format_validator(schema).iter_errors(out)]
    assert not errors, f"{name}.to_dict() output breaks schema {name}: {'; '.join(errors)}"
    assert normalise(out, schema) == normalise(instance, schema), (
        f"{name} round trip changed the data:\n  in:  {instance!r}\n  out: {out!r}"
    )
    return out


def format_validator(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 (OpenAPI 3.1) validator for `schema` with format checking on."""
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)


def rfc3339_instant(text: str) -> dt.datetime:
    """The UTC instant an RFC 3339 date-time names (fractions past microseconds dropped).

    Written from the RFC's grammar rather than with `datetime.fromisoformat`, which
    the generated models use: the round trip must not be judged by the code under test.
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    frac = (match["frac"] or ".0")[1:7].ljust(6, "0")
    offset = match["offset"].upper()
    tz = dt.UTC
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    naive = dt.datetime.strptime(f"{match['date']}T{match['time']}", "%Y-%m-%dT%H:%M:%S")
    return naive.replace(microsecond=int(frac), tzinfo=tz).astimezone(dt.UTC)


def normalise(instance: Any, schema: Mapping[str, Any]) -> Any:
    """`instance` with every value the schema says is a date-time replaced by its instant.

    Two spellings of one moment ("Z" and "+00:00", ".5" and ".500000") compare equal
    afterwards; nothing else changes.
    """
    if isinstance(instance, str) and schema.get("format") == "date-time":
        return rfc3339_instant(instance)
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out = {}
        for key, value in instance.items():
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            out[key] = normalise(value, sub)
        return out
    if isinstance(instance, list):
        items = schema.get("items", {})
        return [normalise(value, items if isinstance(items, dict) else {}) for value in instance]
    return instance


EXAMPLE_DATE_TIME = "2026-04-08T12:00:00Z"


def example_instance(schema: Mapping[str, Any]) -> Any:
    """A valid instance of `schema` with every declared property present (deterministic)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        if not props:
            return {"key": "value"}
        return {name: example_instance(sub) for name, sub in props.items()}
    if kind == "array":
        return [example_instance(schema.get("items", {"type": "string"}))]
    if kind == "string":
        return EXAMPLE_DATE_TIME if schema.get("format") == "date-time" else "text"
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    raise ValueError(f"no example for schema {schema!r}")


# One value of each JSON type, plus the traps: an array of pairs (dict() accepts it)
# and whole-number floats.
WRONG_TYPE_VALUES: dict[str, tuple[Any, ...]] = {
    "null": (None,),
    "boolean": (True,),
    "integer": (7,),
    "number": (2.5,),
    "string": ("text", "7"),
    "array": ([], [["key", "value"]]),
    "object": ({}, {"key": "value"}),
}


def wrong_type_values(schema: Mapping[str, Any]) -> list[Any]:
    """Values whose JSON type `schema` does not allow (by its `type` keyword)."""
    declared = schema.get("type")
    allowed = {declared} if isinstance(declared, str) else set(declared or ())
    if not allowed:
        return []
    if "number" in allowed:
        allowed.add("integer")
    return [v for kind, values in WRONG_TYPE_VALUES.items() if kind not in allowed for v in values]

"""Check emulator responses against openapi.yaml with jsonschema (Draft 2020-12).

A stand-in until the contract tests' openapi-core checker replaces it: the body of every
/v1 response the tests see must validate against the spec's schema for that operation
and status code, and the status code must be one the spec lists for the operation
(``ALLOWED_STATUS`` mirrors openapi.yaml, 401/413/429 included).
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]  # stubs: types-jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[3] / "openapi.yaml"
SPEC_URI = "urn:together-queue:openapi"

# (method, emulator path) -> (spec path, operation name)
OPERATIONS = {
    ("POST", "/v1/queue/submit"): ("/queue/submit", "submit"),
    ("GET", "/v1/queue/status"): ("/queue/status", "status"),
    ("POST", "/v1/queue/cancel"): ("/queue/cancel", "cancel"),
    ("GET", "/v1/queue/metrics"): ("/queue/metrics", "metrics"),
}

# The status codes each operation may answer (as openapi.yaml lists them).
ALLOWED_STATUS = {
    "submit": {200, 400, 401, 413, 429, 500},
    "status": {200, 400, 401, 404, 429, 500},
    "cancel": {200, 400, 401, 404, 409, 413, 429, 500},
    "metrics": {200, 400, 401, 429, 500},
}


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class SpecChecker:
    """Validates response bodies and remembers which (operation, status) pairs it saw."""

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        self.spec: dict[str, Any] = yaml.safe_load(spec_path.read_text())
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.seen: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            {"$ref": f"{SPEC_URI}#/{pointer}"},
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )

    def schema_pointer(self, method: str, path: str, status: int) -> str:
        spec_path, operation = OPERATIONS[(method, path)]
        assert status in ALLOWED_STATUS[operation], (
            f"{method} {path} answered {status}, which the spec does not allow"
        )
        responses = self.spec["paths"][spec_path][method.lower()]["responses"]
        assert str(status) in responses, f"openapi.yaml lists no {status} for {operation}"
        return _pointer(
            "paths",
            spec_path,
            method.lower(),
            "responses",
            str(status),
            "content",
            "application/json",
            "schema",
        )

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        """Raise AssertionError unless ``body`` is what the spec allows for this answer."""
        if (method, path) not in OPERATIONS:
            return
        pointer = self.schema_pointer(method, path, status)
        errors = list(self.validator(pointer).iter_errors(body))
        assert not errors, f"{method} {path} {status}: {body!r} violates the spec: " + "; ".join(
            e.message for e in errors
        )
        with self._lock:
            self.seen[(OPERATIONS[(method, path)][1], status)] += 1

"""Tests for tools/update_spec.py: slicing, the overlay, the summary, and bad input."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import codegen  # noqa: E402
import update_spec as us  # noqa: E402

UPSTREAM = Path(__file__).parents[3] / "shared/spec/upstream/together-openapi-2026-04-08.yaml"
COMMITTED_SPEC = ROOT / "openapi.yaml"
OVERLAY = ROOT / "spec" / "overlay.yaml"
QUEUE_OPS = {
    ("POST", "/queue/submit"): "submitQueueJob",
    ("GET", "/queue/status"): "getQueueJobStatus",
    ("POST", "/queue/cancel"): "cancelQueueJob",
    ("GET", "/queue/metrics"): "getQueueMetrics",
}
QUEUE_SCHEMAS = {
    "QueueJobRequest",
    "QueueJobResponse",
    "QueueJobStatusResponse",
    "QueueCancelRequest",
    "QueueCancelResponse",
    "QueueMetricsResponse",
    "QueueError",
}


@pytest.fixture(scope="module")
def upstream() -> Path:
    if not UPSTREAM.is_file():
        pytest.skip(f"upstream document not present at {UPSTREAM}")
    return UPSTREAM


@pytest.fixture(scope="module")
def built(upstream: Path) -> dict[str, Any]:
    return us.build_spec(upstream, OVERLAY)


class FakeRegen:
    """Stands in for codegen.generate where a test is about the spec, not the code."""

    def __init__(self, result: bool = False, error: Exception | None = None) -> None:
        self.calls: list[tuple[Path, Path, Path]] = []
        self.result = result
        self.error = error

    def __call__(self, spec: Path, config: Path, output: Path) -> bool:
        self.calls.append((spec, config, output))
        if self.error is not None:
            raise self.error
        return self.result


class Workspace:
    """A temporary openapi.yaml and generated dir to run the tool against."""

    def __init__(self, root: Path, overlay: Path = OVERLAY) -> None:
        self.root = root
        self.overlay = overlay
        self.spec = root / "openapi.yaml"
        self.output = root / "generated" / "together_queue_api"
        shutil.copyfile(COMMITTED_SPEC, self.spec)
        if overlay == OVERLAY:  # the project's own state: its record of the upstream document
            (root / "spec").mkdir()
            shutil.copyfile(ROOT / "spec" / "upstream.toml", root / "spec" / "upstream.toml")
        self.output.mkdir(parents=True)
        (self.output / "__init__.py").write_text("# committed\n")

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {
            p.relative_to(self.root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def run(self, argv: list[str], regen: FakeRegen | None = None) -> int:
        return us.main(
            argv,
            spec_path=self.spec,
            overlay_path=self.overlay,
            output_dir=self.output,
            regenerate=regen or FakeRegen(),
        )


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    work = tmp_path / "work"
    work.mkdir()
    return Workspace(work)


@pytest.fixture
def plain_ws(tmp_path: Path) -> Workspace:
    """A workspace whose overlay only retitles: for synthetic documents without Queue paths."""
    return plain_workspace(tmp_path)


def plain_workspace(tmp_path: Path) -> Workspace:
    """A workspace under `tmp_path` whose overlay only retitles (see `plain_ws`)."""
    overlay = tmp_path / "plain-overlay.yaml"
    overlay.write_text(
        "overlay: 1.0.0\ninfo: {title: t, version: '1'}\n"
        "actions: [{target: $.info, description: d, update: {title: Sliced}}]\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    return Workspace(work, overlay)


def _operation_ids(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method.upper(), path): op["operationId"]
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in us.HTTP_METHODS
    }


def _referenced(doc: dict[str, Any]) -> set[tuple[str, str]]:
    found = {us._resolve(doc, ref, loc) for ref, loc in us._refs(doc, ())}
    for requirement in doc.get("security", []):
        found.update(("securitySchemes", name) for name in requirement)
    return found


# --- slicing --------------------------------------------------------------------------------------


def test_real_upstream_slice_has_exactly_the_queue_operations_and_their_components(
    upstream: Path,
) -> None:
    doc = us.load_mapping(upstream, "input")
    assert len(doc["paths"]) == 73
    sliced = us.slice_operations(doc, str(upstream))

    assert _operation_ids(sliced) == QUEUE_OPS
    assert set(sliced["components"]) == {"schemas", "securitySchemes"}
    assert set(sliced["components"]["schemas"]) == QUEUE_SCHEMAS
    assert set(sliced["components"]["securitySchemes"]) == {"bearerAuth"}
    kept = {(kind, name) for kind, members in sliced["components"].items() for name in members}
    # Every kept component is referenced, and every reference resolves inside the slice.
    assert kept == _referenced(sliced)
    assert list(sliced) == ["openapi", "info", "servers", "security", "paths", "components"]
    # The slice is a copy: changing it leaves the source alone.
    sliced["components"]["schemas"]["QueueError"]["type"] = "changed"
    assert doc["components"]["schemas"]["QueueError"]["type"] == "object"


def _synthetic() -> dict[str, Any]:
    error = {"description": "err", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "security": [{"key": []}],
        "paths": {
            "/q": {
                "parameters": [{"$ref": "#/components/parameters/Trace"}],
                "get": {
                    "tags": ["Queue"],
                    "operationId": "getQ",
                    "parameters": [{"$ref": "#/components/parameters/Limit"}],
                    "responses": {"200": {"$ref": "#/components/responses/Ok"}},
                },
                "delete": {
                    "tags": ["Other"],
                    "operationId": "deleteQ",
                    "responses": {"500": error},
                },
            },
            "/other": {
                "get": {
                    "tags": ["Other"],
                    "operationId": "getOther",
                    "responses": {
                        "200": {
                            "description": "x",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Unrelated"}
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Unrelated": {"type": "object"},
                "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
                "B": {"type": "array", "items": {"$ref": "#/components/schemas/C"}},
                "C": {"type": "string"},
                "Orphan": {"type": "integer"},
            },
            "parameters": {
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                "Trace": {"name": "trace", "in": "header", "schema": {"type": "string"}},
                "Unused": {"name": "u", "in": "query", "schema": {"type": "string"}},
            },
            "responses": {
                "Ok": {
                    "description": "ok",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}},
                },
                "Gone": {"description": "gone"},
            },
            "securitySchemes": {
                "key": {"type": "http", "scheme": "bearer"},
                "other": {"type": "apiKey", "in": "header", "name": "X"},
            },
        },
    }


def test_slice_follows_references_transitively_and_drops_the_rest() -> None:
    sliced = us.slice_operations(_synthetic(), "synthetic")

    assert _operation_ids(sliced) == {("GET", "/q"): "getQ"}
    assert list(sliced["paths"]) == ["/q"]
    assert sliced["paths"]["/q"]["parameters"] == [{"$ref": "#/components/parameters/Trace"}]
    comps = sliced["components"]
    assert list(comps["schemas"]) == ["A", "B", "C"]  # source order, via Ok -> A -> B -> C
    assert list(comps["parameters"]) == ["Limit", "Trace"]
    assert list(comps["responses"]) == ["Ok"]
    assert list(comps["securitySchemes"]) == ["key"]
    us.validate(sliced)


def test_slice_follows_discriminator_mappings() -> None:
    doc = _synthetic()
    doc["components"]["schemas"]["C"] = {
        "oneOf": [{"$ref": "#/components/schemas/Orphan"}],
        "discriminator": {"propertyName": "k", "mapping": {"u": "Unrelated"}},
    }
    sliced = us.slice_operations(doc, "synthetic")
    assert set(sliced["components"]["schemas"]) == {"A", "B", "C", "Orphan", "Unrelated"}


def test_paths_come_out_sorted_whatever_the_source_order() -> None:
    doc = _synthetic()
    doc["paths"]["/a"] = copy.deepcopy(doc["paths"]["/q"])
    doc["paths"]["/a"]["get"]["operationId"] = "getA"
    assert list(us.slice_operations(doc, "s")["paths"]) == ["/a", "/q"]


# --- the overlay ----------------------------------------------------------------------------------


def test_overlay_adjusts_info_servers_and_fills_the_documented_gaps(built: dict[str, Any]) -> None:
    assert built["info"]["title"] == "Together Queue API"
    assert built["info"]["description"].startswith("The Queue endpoints of the Together REST API")
    assert "termsOfService" not in built["info"]
    assert "contact" not in built["info"]
    assert built["servers"] == [{"url": "https://api.together.ai/v1"}]

    codes = {
        path: list(item[m]["responses"])
        for path, item in built["paths"].items()
        for m in item
        if m in us.HTTP_METHODS
    }
    assert codes == {
        "/queue/cancel": ["200", "400", "401", "404", "409", "413", "429", "500"],
        "/queue/clear": ["200", "400", "401", "413", "429", "500"],
        "/queue/metrics": ["200", "400", "401", "429", "500"],
        "/queue/status": ["200", "400", "401", "404", "429", "500"],
        "/queue/submit": ["200", "400", "401", "413", "429", "500"],
    }
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/QueueError"}}}
    for item in built["paths"].values():
        for op in item.values():
            rate_limited = op["responses"]["429"]
            assert rate_limited["description"] == "Rate limited"
            assert rate_limited["content"] == error_body
            assert rate_limited["headers"] == {
                "Retry-After": {"$ref": "#/components/headers/Retry-After"}
            }
    retry_after = built["components"]["headers"]["Retry-After"]
    assert retry_after["schema"]["type"] == "integer"
    assert retry_after["description"]


def test_every_overlay_action_says_why() -> None:
    for action in us.load_overlay(OVERLAY):
        assert isinstance(action.get("description"), str)
        assert action["description"].strip()


@pytest.mark.parametrize(
    ("expr", "segments"),
    [
        ("$", []),
        ("$.info.title", ["info", "title"]),
        ("$.paths['/queue/submit'].post", ["paths", "/queue/submit", "post"]),
        ('$["a\\"b"][*].*', ['a"b', us.WILDCARD, us.WILDCARD]),
    ],
)
def test_jsonpath_subset_parses(expr: str, segments: list[object]) -> None:
    assert us.parse_jsonpath(expr) == segments


@pytest.mark.parametrize("expr", ["info", "$..title", "$.servers[0]", "$[?(@.x)]", "$.x-y", "$."])
def test_jsonpath_outside_the_subset_is_rejected(expr: str) -> None:
    with pytest.raises(us.SpecError, match="overlay target"):
        us.parse_jsonpath(expr)


def test_overlay_update_merges_objects_appends_arrays_and_remove_deletes() -> None:
    doc: dict[str, Any] = {"a": {"keep": 1, "x": {"y": 1}, "tags": ["t"]}, "list": [1, 2, 3]}
    us.apply_overlay(
        doc,
        [
            {"target": "$.a", "update": {"x": {"z": 2}, "tags": ["u"], "keep": 5}},
            {"target": "$.list", "update": 4},
            {"target": "$.list[*]", "remove": True},
            {"target": "$.a['missing']", "remove": True},
        ],
    )
    assert doc == {"a": {"keep": 5, "x": {"y": 1, "z": 2}, "tags": ["t", "u"]}, "list": []}


def test_overlay_update_of_nothing_is_an_error() -> None:
    with pytest.raises(us.SpecError, match="selects nothing"):
        us.apply_overlay({"a": {}}, [{"target": "$.b", "update": {"c": 1}}])


def test_wildcard_update_does_not_share_nodes() -> None:
    doc: dict[str, Any] = {"p": {"x": {}, "y": {}}}
    us.apply_overlay(doc, [{"target": "$.p[*]", "update": {"r": {"d": "1"}}}])
    doc["p"]["x"]["r"]["d"] = "2"
    assert doc["p"]["y"]["r"]["d"] == "1"
    assert "&id" not in us.dump(doc)


# --- output ---------------------------------------------------------------------------------------


def test_the_committed_openapi_yaml_is_the_tools_output_byte_for_byte(
    built: dict[str, Any],
) -> None:
    assert us.dump(built).encode() == COMMITTED_SPEC.read_bytes()


def test_second_run_changes_nothing(
    upstream: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.spec.write_text("openapi: 3.1.0\n")  # start from something else
    regen = FakeRegen(result=True)
    assert ws.run([str(upstream)], regen) == 0
    first = ws.snapshot()
    assert ws.spec.read_bytes() == COMMITTED_SPEC.read_bytes()
    assert regen.calls == [(ws.spec, us.DEFAULT_CONFIG, ws.output)]
    capsys.readouterr()

    assert ws.run([str(upstream)], FakeRegen(result=False)) == 0
    assert capsys.readouterr().out == "No changes\n"
    assert ws.snapshot() == first


def test_json_input_works_like_yaml(upstream: Path, ws: Workspace, tmp_path: Path) -> None:
    doc = us.load_mapping(upstream, "input")
    source = tmp_path / "upstream.json"
    source.write_text(json.dumps(doc))
    assert ws.run([str(source)]) == 0
    assert ws.spec.read_bytes() == COMMITTED_SPEC.read_bytes()


# --- the change summary ---------------------------------------------------------------------------


def test_summary_names_operations_and_schemas(
    upstream: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    old = yaml.safe_load(COMMITTED_SPEC.read_text())
    del old["paths"]["/queue/metrics"]
    old["paths"]["/queue/legacy"] = {"get": {"operationId": "legacyOp", "responses": {}}}
    del old["paths"]["/queue/submit"]["post"]["responses"]["429"]
    schemas = old["components"]["schemas"]
    del schemas["QueueMetricsResponse"]
    del schemas["QueueError"]["properties"]["param"]
    schemas["QueueError"]["properties"]["legacy"] = {"type": "string"}
    schemas["QueueJobRequest"]["properties"]["model"]["description"] = "old words"
    schemas["Legacy"] = {"type": "object"}
    ws.spec.write_text(yaml.safe_dump(old, sort_keys=False))

    assert ws.run([str(upstream)], FakeRegen(result=True)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "operation added: GET /queue/metrics (getQueueMetrics)",
        "operation removed: GET /queue/legacy (legacyOp)",
        "operation changed: POST /queue/submit (submitQueueJob) (responses +429)",
        "schema added: QueueMetricsResponse",
        "schema removed: Legacy",
        "schema changed: QueueError (properties +param -legacy)",
        "schema changed: QueueJobRequest (properties ~model)",
        "generated/: regenerated",
    ]


def test_summary_when_only_generated_or_only_formatting_changed() -> None:
    regenerated = us.Result(spec_changed=False, generated_changed=True)
    assert regenerated.report() == ["openapi.yaml: unchanged", "generated/: regenerated"]
    reformatted = us.Result(spec_changed=True, generated_changed=False)
    assert reformatted.report() == [
        "openapi.yaml: reformatted, no change in content",
        "generated/: unchanged",
    ]


# --- bad input: one line on stderr, exit 1, nothing touched ---------------------------------------


def _queue_doc(**changes: Any) -> dict[str, Any]:
    doc = _synthetic()
    doc.update(changes)
    return doc


def _write(tmp_path: Path, name: str, content: str | bytes | dict[str, Any]) -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _dangling() -> dict[str, Any]:
    doc = _synthetic()
    doc["components"]["schemas"]["B"]["items"] = {"$ref": "#/components/schemas/Missing"}
    return doc


def _invalid() -> dict[str, Any]:
    doc = _synthetic()
    doc["components"]["responses"]["Ok"] = {"content": {}}  # a response needs a description
    return doc


def _external_ref() -> dict[str, Any]:
    # An external reference cannot be sliced; the tool says so rather than write a broken spec.
    doc = _synthetic()
    doc["paths"]["/q"]["get"]["parameters"] = [{"$ref": "common.yaml#/Limit"}]
    return doc


BAD_INPUTS: list[tuple[str, str | bytes | dict[str, Any] | None, str]] = [
    ("missing", None, "does not exist"),
    ("directory", "DIR", "is not a file"),
    ("binary", b"\xff\xfe\x00openapi", "not UTF-8"),
    ("not_yaml", "openapi: [3.1.0\npaths: {", "is not valid YAML or JSON"),
    ("not_json", '{"openapi": "3.1.0",}', "is not valid JSON"),
    ("empty", "", "is empty, not a YAML/JSON mapping"),
    ("scalar", "just some words", "is a str, not a YAML/JSON mapping"),
    ("swagger", {"swagger": "2.0", "info": {}, "paths": {}}, "is Swagger 2.0, not OpenAPI 3.x"),
    ("no_version", {"info": {}, "paths": {}}, "no `openapi` version field"),
    ("openapi_4", _queue_doc(openapi="4.0.0"), "only OpenAPI 3.x is supported"),
    ("float_version", "openapi: 3.1\npaths: {}\n", "declares openapi 3.1"),
    ("no_queue", _queue_doc(paths={"/x": {"get": {"tags": ["Other"]}}}), "no operation tagged"),
    (
        "dangling",
        _dangling(),
        "dangling $ref '#/components/schemas/Missing' at components.schemas.B.items",
    ),
    (
        "external_ref",
        _external_ref(),
        "unsupported $ref 'common.yaml#/Limit' at paths['/q'].get.parameters[0]",
    ),
    (
        "undefined_scheme",
        _queue_doc(security=[{"nope": []}]),
        "security scheme 'nope' used at security[0] is not defined",
    ),
    ("invalid", _invalid(), "fails validation"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_and_touches_nothing(
    name: str,
    content: str | bytes | dict[str, Any] | None,
    message: str,
    plain_ws: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / f"{name}.yaml"
    if content == "DIR":
        source.mkdir()
    elif content is not None:
        _write(tmp_path, source.name, content)
    before = plain_ws.snapshot()
    regen = FakeRegen(result=True)

    assert plain_ws.run([str(source)], regen) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert plain_ws.snapshot() == before
    assert regen.calls == []


def test_bad_overlay_is_one_line_and_touches_nothing(
    plain_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = _write(
        tmp_path,
        "overlay.yaml",
        {
            "overlay": "1.0.0",
            "info": {"title": "t", "version": "1"},
            "actions": [{"target": "$.x"}],
        },
    )
    source = _write(tmp_path, "doc.yaml", _synthetic())
    before = plain_ws.snapshot()
    code = us.main(
        [str(source)], spec_path=plain_ws.spec, overlay_path=overlay, regenerate=FakeRegen()
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: overlay")
    assert "neither `update` nor `remove: true`" in err
    assert err.count("\n") == 1
    assert plain_ws.snapshot() == before


def test_failed_regeneration_restores_openapi_yaml(
    plain_ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path, "doc.yaml", _synthetic())
    before = plain_ws.snapshot()
    failing = FakeRegen(error=codegen.CodegenError("openapi-python-client failed:\nboom\nmore"))

    assert plain_ws.run([str(source)], failing) == 1

    assert len(failing.calls) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: regeneration failed, openapi.yaml restored: "
        "openapi-python-client failed: boom more\n"
    )
    assert {k: v[0] for k, v in plain_ws.snapshot().items()} == {k: v[0] for k, v in before.items()}
    assert sorted(p.name for p in plain_ws.root.iterdir()) == ["generated", "openapi.yaml"]


def test_failed_regeneration_without_a_previous_spec_leaves_none(
    plain_ws: Workspace, tmp_path: Path
) -> None:
    plain_ws.spec.unlink()
    source = _write(tmp_path, "doc.yaml", _synthetic())
    assert plain_ws.run([str(source)], FakeRegen(error=codegen.CodegenError("x"))) == 1
    assert not plain_ws.spec.exists()


def test_usage_error_is_one_line_exit_2(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    before = ws.snapshot()
    with pytest.raises(SystemExit) as exc:
        ws.run(["one.yaml", "two.yaml"])  # one source at most
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "usage: update_spec.py" in err
    assert err.count("\n") == 1
    assert ws.snapshot() == before


# --- end to end, with the real generator ----------------------------------------------------------


def test_end_to_end_regenerates_the_committed_package(upstream: Path, tmp_path: Path) -> None:
    if shutil.which("openapi-python-client") is None:
        pytest.skip("openapi-python-client is not installed (requirements/codegen.txt)")
    spec = tmp_path / "openapi.yaml"
    output = tmp_path / "generated" / "together_queue_api"

    result = us.update_spec(upstream, spec_path=spec, output_dir=output)

    assert result.spec_changed
    assert result.generated_changed
    assert spec.read_bytes() == COMMITTED_SPEC.read_bytes()
    assert codegen.diff_trees(output, codegen.DEFAULT_OUTPUT) == []


# --- redundant overlay actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "update", "expected"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": 1}, {"b": 1}, False),
        ({"a": [1, 2, 3]}, {"a": [3, 1]}, True),
        ({"a": [1, 2]}, {"a": [4]}, False),
        ({"a": 1}, {"a": True}, False),
        ("x", "x", True),
    ],
)
def test_contains(node: Any, update: Any, expected: bool) -> None:
    assert us.contains(node, update) is expected


def _action_index(target: str) -> int:
    targets = [action["target"] for action in us.load_overlay(OVERLAY)]
    return targets.index(target)


def _later_upstream(upstream: Path, tmp_path: Path, *, complete: bool = True) -> Path:
    """The real upstream with what the overlay adds for clear and minLength already in it."""
    doc = us.load_mapping(upstream, "input")
    actions = us.load_overlay(OVERLAY)
    clear_path = copy.deepcopy(actions[_action_index("$.paths")]["update"])
    if not complete:
        del clear_path["/queue/clear"]["post"]["responses"]["413"]
    doc["paths"].update(clear_path)
    # The clear operation's 429 refers to the Retry-After header the overlay also adds.
    doc["components"].update(copy.deepcopy(actions[_action_index("$.components")]["update"]))
    schemas = doc["components"]["schemas"]
    schemas.update(copy.deepcopy(actions[_action_index("$.components.schemas")]["update"]))
    for path in ("/queue/status", "/queue/metrics"):
        for param in doc["paths"][path]["get"]["parameters"]:
            param["schema"]["minLength"] = 1
    schemas["QueueJobRequest"]["properties"]["model"]["minLength"] = 1
    for name in ("model", "request_id"):
        schemas["QueueCancelRequest"]["properties"][name]["minLength"] = 1
        schemas["QueueJobStatusResponse"]["properties"][name]["minLength"] = 1
    source = tmp_path / "later.yaml"
    source.write_text(yaml.safe_dump(doc, sort_keys=False))
    return source


def test_actions_a_later_upstream_already_satisfies_are_named_and_skipped(
    upstream: Path, tmp_path: Path
) -> None:
    redundant: list[str] = []
    built = us.build_spec(_later_upstream(upstream, tmp_path), OVERLAY, redundant)
    named = {line.split(" (", 1)[0] for line in redundant}
    targets = [
        "$.components",
        "$.paths",
        "$.components.schemas",
        "$.paths['/queue/status'].get.parameters[*].schema",
        "$.paths['/queue/metrics'].get.parameters[*].schema",
        "$.components.schemas.QueueJobRequest.properties.model",
        "$.components.schemas.QueueCancelRequest.properties[*]",
        "$.components.schemas.QueueJobStatusResponse.properties",
    ]
    assert named == {f"overlay action {_action_index(t)}" for t in targets}
    assert all("is redundant: upstream already has what it adds" in line for line in redundant)
    assert any("together 3.1.1" in line for line in redundant)  # the action's own reason
    # Skipping them changes nothing: the result is the committed document.
    assert built == yaml.safe_load(COMMITTED_SPEC.read_text())


def test_an_action_upstream_only_partly_has_is_applied_not_reported(
    upstream: Path, tmp_path: Path
) -> None:
    redundant: list[str] = []
    source = _later_upstream(upstream, tmp_path, complete=False)
    built = us.build_spec(source, OVERLAY, redundant)
    assert not any(
        line.startswith(f"overlay action {_action_index('$.paths')} ") for line in redundant
    )
    assert "413" in built["paths"]["/queue/clear"]["post"]["responses"]


def test_redundant_actions_are_printed_even_when_nothing_changed(
    upstream: Path, ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _later_upstream(upstream, tmp_path)
    assert ws.run([str(source)], FakeRegen(result=False)) == 0
    assert ws.run([str(source)], FakeRegen(result=False)) == 0
    second = capsys.readouterr().out.splitlines()[-9:]
    assert second[-1] == "No changes"
    assert len([line for line in second if "is redundant" in line]) == 8


def test_the_real_upstream_makes_no_action_redundant(upstream: Path) -> None:
    redundant: list[str] = []
    us.build_spec(upstream, OVERLAY, redundant)
    assert redundant == []


def test_redundant_update_of_an_array_is_not_appended_twice() -> None:
    doc: dict[str, Any] = {"servers": [{"url": "https://x"}]}
    actions = [{"target": "$.servers", "description": "d", "update": {"url": "https://x"}}]
    assert us.apply_overlay(doc, actions) == [
        "overlay action 0 ($.servers) is redundant: upstream already has what it adds (d); "
        "not applied, delete it from the overlay"
    ]
    assert doc == {"servers": [{"url": "https://x"}]}

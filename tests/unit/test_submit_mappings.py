"""Submit bodies: any mapping is a payload or an info (a plain dict takes the quick path).

The body encoder is shared by every submit: it keeps no state from one body to the next.
"""

from __future__ import annotations

import json
from collections import OrderedDict, UserDict
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from together_queue._calls import submit_call
from together_queue.jobs import JobRequest


class _Dict(dict[str, Any]):
    """A dict subclass: not `type(value) is dict`, still a mapping."""


#: Every kind of mapping a caller may pass, built from a plain dict.
KINDS: list[Callable[[dict[str, Any]], Mapping[str, Any]]] = [
    dict, _Dict, OrderedDict, UserDict, MappingProxyType,
]  # fmt: skip
KIND_IDS = ["dict", "dict subclass", "OrderedDict", "UserDict", "MappingProxyType"]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_every_mapping_kind_is_sent_as_the_same_json(
    kind: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> None:
    call = submit_call("m", kind({"prompt": "hi", "n": 1}), 2, kind({"tag": "a"}))
    assert call.content is not None
    body = json.loads(call.content)
    assert body == {"model": "m", "payload": {"prompt": "hi", "n": 1}, "priority": 2,
                    "info": {"tag": "a"}}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_a_job_request_copies_every_mapping_kind_into_its_own_dict(
    kind: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> None:
    payload, info = kind({"prompt": "hi"}), kind({"tag": "a"})
    request = JobRequest("m", payload, info=info)
    assert type(request.payload) is dict and type(request.info) is dict
    assert request.payload == {"prompt": "hi"} and request.info == {"tag": "a"}
    assert request.payload is not payload and request.info is not info


@pytest.mark.parametrize("bad", [["prompt"], "prompt", 3, None])
def test_a_payload_that_is_not_a_mapping_is_refused_by_name(bad: Any) -> None:
    with pytest.raises(TypeError, match="payload must be a mapping"):
        submit_call("m", bad, 0, None)


def test_a_key_that_is_not_a_string_is_refused_in_a_dict_too() -> None:
    with pytest.raises(TypeError, match="info keys must be str"):
        submit_call("m", {"a": 1}, 0, {1: "x"})  # type: ignore[dict-item]


def test_a_payload_that_holds_itself_is_refused_and_the_next_submit_is_unharmed() -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    with pytest.raises(ValueError, match="payload is not JSON-serialisable: Circular"):
        submit_call("m", looped, 0, None)
    call = submit_call("m", {"a": 1}, 0, None)
    assert call.content is not None and json.loads(call.content)["payload"] == {"a": 1}


def test_the_same_dicts_are_sent_after_a_body_of_them_was_refused() -> None:
    # An encoder that kept its circular-reference table between bodies would still hold
    # `inner` after the refusal, and take the next body for a loop.
    inner: dict[str, Any] = {"n": float("nan")}
    payload = {"inner": inner}
    with pytest.raises(ValueError, match="payload is not JSON-serialisable"):
        submit_call("m", payload, 0, None)
    inner["n"] = 1
    call = submit_call("m", payload, 0, {"again": inner})
    assert call.content is not None
    assert json.loads(call.content)["payload"] == {"inner": {"n": 1}}

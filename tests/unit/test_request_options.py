"""Per-call options: checked before anything is sent, merged into each request, never the key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from together_queue._options import NOT_GIVEN, RequestOptions, request_options


def test_no_options_is_none_so_a_plain_call_pays_nothing() -> None:
    assert request_options() is None
    assert request_options(extra_headers={}, extra_query=None, timeout=NOT_GIVEN) is None


@pytest.mark.parametrize("name", ["Authorization", "authorization", " AUTHORIZATION "])
def test_an_authorization_header_is_refused_without_showing_its_value(name: str) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        request_options(extra_headers={name: "Bearer sk-secret-value"})
    assert "sk-secret-value" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra_headers": {"X-N": 1}}, "must be a string"),
        ({"extra_headers": {"X-N": "a\r\nInjected: yes"}}, "line break"),
        ({"extra_headers": {"Host": "elsewhere"}}, "base_url"),
        ({"extra_query": {"q": {"nested": 1}}}, r"extra_query\['q'\]"),
        ({"extra_body": {"x": float("nan")}}, "extra_body"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_options_are_value_errors_naming_it(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        request_options(**kwargs)


def test_a_non_mapping_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="extra_headers must be a mapping"):
        request_options(extra_headers=[("X-A", "1")])  # type: ignore[arg-type]


def test_apply_adds_headers_query_and_body_fields() -> None:
    options = request_options(
        extra_headers={"X-Trace": "t1", "User-Agent": "mine/1"},
        extra_query={"debug": True, "tag": ["a", "b"]},
        extra_body={"note": "hi"},
        timeout=2.5,
    )
    assert options is not None
    sent = {
        "method": "POST",
        "url": "http://x/v1/queue/submit",
        "headers": {"User-Agent": "together-queue/1", "Accept": "application/json"},
        "params": {"model": "m"},
        "json": {"model": "m", "payload": {}},
    }
    merged = options.apply(sent)
    assert merged["headers"] == {
        "User-Agent": "mine/1",
        "Accept": "application/json",
        "X-Trace": "t1",
    }
    assert merged["params"] == {"model": "m", "debug": True, "tag": ["a", "b"]}
    assert merged["json"] == {"model": "m", "payload": {}, "note": "hi"}
    assert options.timeout == httpx.Timeout(2.5, connect=2.5)
    assert sent["json"] == {"model": "m", "payload": {}}  # the call's own kwargs untouched


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (RequestOptions(query={"model": "other"}), "'model'"),
        (RequestOptions(body={"payload": {}}), "'payload'"),
    ],
)
def test_extras_never_replace_what_the_call_sets(options: RequestOptions, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        options.apply({"params": {"model": "m"}, "json": {"model": "m", "payload": {"x": 1}}})


def test_extra_body_on_a_call_without_a_body_is_refused() -> None:
    with pytest.raises(ValueError, match="no JSON body"):
        RequestOptions(body={"x": 1}).apply({"params": {"model": "m"}})

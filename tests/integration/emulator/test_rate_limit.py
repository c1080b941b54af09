"""Load-dependent rate limits: token buckets per operation answering 429 with Retry-After."""

from __future__ import annotations

import time

import pytest

from together_queue.emulator.cli import build_parser, config_from_args
from together_queue.emulator.ratelimit import (
    RateLimit,
    RateLimiter,
    parse_rate_limit,
    retry_after_text,
)

from .conftest import Api, Factory
from .helpers import jobs

SUBMIT = {"model": "m", "payload": {"n": 1}}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_over_the_limit_gets_429_with_retry_after(
    queue_emulator_factory: Factory, api: Api
) -> None:
    # One token per 2 s: the third of three quick calls finds the bucket (size 2) empty.
    emulator = queue_emulator_factory(rate_limits=[parse_rate_limit("submit=0.5/s,burst=2")])
    client = api(emulator)
    codes = [client.post("/v1/queue/submit", json=SUBMIT) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    refused = codes[2]
    assert refused.json()["type"] == "rate_limit_error"
    assert refused.headers["retry-after"] in ("1", "2")  # whole seconds, as the spec says
    assert len(jobs(client, "m")) == 2  # the refused submit stored nothing
    # Other operations have no limit here.
    assert client.get("/v1/queue/metrics", params={"model": "m"}).status_code == 200


def test_retry_at_retry_after_passes(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(rate_limits=[parse_rate_limit("submit=2/s,burst=1")])
    client = api(emulator)
    assert client.post("/v1/queue/submit", json=SUBMIT).status_code == 200
    refused = client.post("/v1/queue/submit", json=SUBMIT)
    assert refused.status_code == 429
    time.sleep(float(refused.headers["retry-after"]))  # the wait the emulator asked for
    assert client.post("/v1/queue/submit", json=SUBMIT).status_code == 200


def test_calls_within_the_limit_pass(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(rate_limits=[parse_rate_limit("submit=1000/s,burst=50")])
    client = api(emulator)
    assert {client.post("/v1/queue/submit", json=SUBMIT).status_code for _ in range(20)} == {200}


def test_limits_apply_after_auth(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(
        api_keys=["k"], rate_limits=[parse_rate_limit("submit=0.1/s,burst=1")]
    )
    anonymous = api(emulator)
    assert anonymous.post("/v1/queue/submit", json=SUBMIT).status_code == 401
    keyed = api(emulator, headers={"Authorization": "Bearer k"})
    assert keyed.post("/v1/queue/submit", json=SUBMIT).status_code == 200  # token unspent
    assert keyed.post("/v1/queue/submit", json=SUBMIT).status_code == 429


def test_limits_change_at_runtime(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory()
    client = api(emulator)
    body = {"limits": ["submit=0.1/s,burst=1", {"operation": "status", "rate": 5}]}
    response = client.post("/_emulator/rate-limits", json=body)
    assert response.status_code == 200
    assert response.json()["limits"][0] == {"operation": "submit", "rate": 0.1, "burst": 1}
    assert client.get("/_emulator/rate-limits").json() == response.json()
    assert [client.post("/v1/queue/submit", json=SUBMIT).status_code for _ in range(2)] == [
        200,
        429,
    ]
    bad = client.post("/_emulator/rate-limits", json={"limits": ["submit=fast"]})
    assert bad.status_code == 400 and "submit=fast" in bad.json()["message"]
    emulator.clear_rate_limits()
    assert client.post("/v1/queue/submit", json=SUBMIT).status_code == 200
    emulator.set_rate_limits("submit=0.1/s,burst=1")
    assert [client.post("/v1/queue/submit", json=SUBMIT).status_code for _ in range(2)] == [
        200,
        429,
    ]


def test_faults_still_strike_under_a_limit(queue_emulator_factory: Factory, api: Api) -> None:
    emulator = queue_emulator_factory(rate_limits=[parse_rate_limit("submit=1000/s")])
    emulator.set_faults(["submit:500:next=1"])
    client = api(emulator)
    codes = [client.post("/v1/queue/submit", json=SUBMIT).status_code for _ in range(2)]
    assert codes == [500, 200]


def test_cli_option_builds_the_limits() -> None:
    args = build_parser().parse_args(
        ["--rate-limit", "submit=200/s,burst=20", "--rate-limit", "*=5/s"]
    )
    config = config_from_args(args, {})
    assert config.rate_limits == (RateLimit("submit", 200.0, 20), RateLimit("*", 5.0))


@pytest.mark.parametrize(
    ("spec", "limit"),
    [
        ("submit=200/s", RateLimit("submit", 200.0)),
        ("status=0.5/s,burst=3", RateLimit("status", 0.5, 3)),
        ("*=10/s", RateLimit("*", 10.0)),
    ],
)
def test_rate_limit_syntax(spec: str, limit: RateLimit) -> None:
    assert parse_rate_limit(spec) == limit


@pytest.mark.parametrize(
    "spec",
    ["submit", "submit=200", "teapot=1/s", "submit=0/s", "submit=nan/s", "submit=1/s,burst=0",
     "submit=1/s,size=3", "submit=x/s"],
)  # fmt: skip
def test_bad_rate_limit_specs_are_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limit(spec)


def test_cli_rejects_a_bad_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--rate-limit", "submit=lots"])
    assert "submit=lots" in capsys.readouterr().err


def test_bucket_refills_at_its_rate_and_retry_after_is_exact() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit("submit", 4.0, 2)], clock=clock)
    assert limiter.take("submit") is None
    assert limiter.take("submit") is None
    wait = limiter.take("submit")
    assert wait == pytest.approx(0.25)
    assert limiter.take("status") is None  # not limited
    clock.now += 0.2
    assert limiter.take("submit") == pytest.approx(0.05)  # refused calls took no token
    clock.now += 0.05
    assert limiter.take("submit") is None
    clock.now += 100  # a long idle time refills only up to the burst
    assert [limiter.take("submit") for _ in range(3)][:2] == [None, None]


def test_shared_bucket_and_every_limit_must_pass() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit("*", 1.0, 2), RateLimit("submit", 1.0, 1)], clock=clock)
    assert limiter.take("submit") is None
    assert limiter.take("submit") is not None  # its own bucket is empty; '*' keeps its token
    assert limiter.take("status") is None  # the token the refused submit did not take
    assert limiter.take("status") is not None


def test_retry_after_text_rounds_up() -> None:
    assert retry_after_text(0.0041) == "1"
    assert retry_after_text(1.0) == "1"
    assert retry_after_text(1.2) == "2"

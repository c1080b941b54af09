"""Leaving `start_emulator` while calls are still held: a quiet, prompt stop."""

from __future__ import annotations

import threading

import httpx
import pytest

from together_queue.emulator import start_emulator

from .helpers import wait_for


def test_leaving_during_a_latency_fault_ends_the_held_call_without_a_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    answers: list[object] = []

    with start_emulator() as emulator:
        emulator.set_faults(["status:latency:next=1:seconds=60"])

        def held_call() -> None:
            with httpx.Client(base_url=emulator.url, timeout=60, trust_env=False) as client:
                try:
                    params = {"model": "m", "request_id": "r"}
                    answers.append(client.get("/v1/queue/status", params=params).status_code)
                except httpx.HTTPError as exc:
                    answers.append(exc)

        caller = threading.Thread(target=held_call)
        caller.start()
        # The fault is spent once the call is being held.
        wait_for(lambda: emulator.runtime.faults.remaining() == [0], what="the call to be held")
    caller.join(30)
    assert not caller.is_alive()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert answers == [404]  # the stop cut the latency short; the call was answered

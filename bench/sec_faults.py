"""Section 6: 2,000 submits with 10% faults after the job is stored: duplicates and errors."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from bench import clients
from bench.config import Config
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.report import Section, Table, Target
from bench.stats import Stat
from together_queue import AsyncQueueClient, SubmitOutcomeUnknown

_CONCURRENCY = 64


def fault_rules(rate: float) -> list[str]:
    """Half 500s, half cut connections, both after the job is stored, `rate` in total.

    The emulator rolls the rules in order and the first that strikes wins, so the second
    rule's rate is raised to make the total exactly `rate`.
    """
    half = rate / 2
    return [f"submit:500:{half:.6f}:after", f"submit:drop:{half / (1 - half):.6f}:after"]


async def _ours(url: str, model: str, count: int) -> tuple[set[str], collections.Counter[str], int]:
    async with AsyncQueueClient(base_url=url, api_key=API_KEY) as client:
        outcomes = await client.submit_many(
            [{"i": i} for i in range(count)], model=model, concurrency=_CONCURRENCY
        )
    ids = {o.value.request_id for o in outcomes if o.value is not None}
    errors = collections.Counter(type(o.error).__name__ for o in outcomes if o.error)
    actionable = sum(isinstance(o.error, SubmitOutcomeUnknown) for o in outcomes)
    return ids, errors, actionable


async def _sdk(url: str, model: str, count: int) -> tuple[set[str], collections.Counter[str], int]:
    import together

    ids: set[str] = set()
    errors: collections.Counter[str] = collections.Counter()
    semaphore = asyncio.Semaphore(_CONCURRENCY)
    async with together.AsyncTogether(api_key=API_KEY, base_url=url) as client:

        async def one(i: int) -> None:
            async with semaphore:
                try:
                    response = await client.beta.jig.queue.submit(model=model, payload={"i": i})
                except Exception as exc:
                    errors[type(exc).__name__] += 1
                else:
                    ids.add(response.request_id)

        await asyncio.gather(*(one(i) for i in range(count)))
    # No SDK error says whether the job may exist: none of them is actionable in that sense.
    return ids, errors, 0


RUNNERS = {"ours": _ours, "sdk": _sdk}


def _tally(emulator: EmulatorProcess, model: str, ids: set[str]) -> dict[str, int]:
    held = emulator.jobs(model)
    tags = collections.Counter(job["payload"]["i"] for job in held)
    held_ids = {job["request_id"] for job in held}
    return {
        "held": len(held),
        "ids_returned": len(ids),
        "duplicates": sum(n - 1 for n in tags.values()),
        "orphans": len(held_ids - ids),
        "unknown_ids": len(ids - held_ids),
        "never_stored": 0,
    }


def run(config: Config) -> Section:
    """Both clients `config.fault_repeats` times; the same fault seed for both in a round."""
    names = [n for n in ("ours", "sdk") if n in clients.variants()]
    rules = fault_rules(config.fault_rate)
    tallies: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with EmulatorProcess(models={}, workers=0) as emulator:
        for round_ in range(config.fault_repeats):
            for name in names:
                model = f"faults-{name}-{round_}"
                emulator.set_faults(rules, seed=1000 + round_)
                started = time.perf_counter()
                try:
                    ids, errors, actionable = asyncio.run(
                        RUNNERS[name](emulator.url, model, config.fault_submits)
                    )
                finally:
                    emulator.set_faults([], seed=0)
                seconds = time.perf_counter() - started
                tally: dict[str, Any] = _tally(emulator, model, ids)
                tally["never_stored"] = config.fault_submits - (tally["held"] - tally["duplicates"])
                tally.update(
                    errors=sum(errors.values()),
                    error_types=dict(errors),
                    actionable=actionable,
                    seconds=seconds,
                )
                tallies[name].append(tally)
    table = Table(
        [
            "Client (defaults)",
            "ids returned",
            "jobs held",
            "duplicates",
            "held without an id",
            "calls that raised",
            "of which say 'may exist'",
            "error types",
            "seconds",
        ]
    )
    for name in names:
        rows = tallies[name]

        def col(key: str, rows: list[dict[str, Any]] = rows) -> str:
            return Stat.of([r[key] for r in rows]).fmt(0)

        types: collections.Counter[str] = collections.Counter()
        for r in rows:
            types.update(r["error_types"])
        table.add(
            "ours: `AsyncQueueClient.submit_many`" if name == "ours" else "official SDK",
            col("ids_returned"),
            col("held"),
            col("duplicates"),
            col("orphans"),
            col("errors"),
            col("actionable"),
            ", ".join(f"{t} x{n}" for t, n in types.most_common()) or "none",
            Stat.of([r["seconds"] for r in rows]).fmt(1),
        )
    ours_dups = max(r["duplicates"] for r in tallies["ours"])
    lost = max(r["unknown_ids"] for n in names for r in tallies[n])
    return Section(
        key="faults",
        title="6. Faults",
        intro=(
            f'{config.fault_submits:,} submits (payload `{{"i": n}}`, n unique) at '
            f"concurrency {_CONCURRENCY}, with the emulator failing {config.fault_rate:.0%} of "
            "submits after the job is stored: half answer 500, half cut the connection "
            f"(`{' '.join(rules)}`, seed 1000 + round, the same for both clients in a round), "
            f"{config.fault_repeats} rounds. Each client runs with its default settings. "
            "Jobs held come from `GET /_emulator/jobs`; duplicates are extra jobs with the "
            "same n; 'held without an id' are jobs the caller never got an id for. "
            "Median (min-max) over rounds; error types summed over rounds."
        ),
        tables=[table],
        targets=[
            Target("duplicates created by ours (worst round)", "0", str(ours_dups), ours_dups == 0)
        ],
        notes=[
            "Ours raises `SubmitOutcomeUnknown` (a typed error naming the model, saying the "
            "job may or may not exist and that it was not resent): the caller can reconcile, "
            "e.g. by listing jobs or resubmitting deliberately. The SDK retries every submit "
            "(2 retries by default, no idempotency key), so each fault after the store becomes "
            "a duplicate job the caller does not know about; its rare final errors "
            "(`InternalServerError`, `APIConnectionError`) do not say whether a job exists.",
            f"Ids returned that the emulator does not hold (should be 0): {lost}.",
        ],
        data={"tallies": tallies, "rules": rules},
    )

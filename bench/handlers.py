"""Model handlers the benchmarks serve in the emulator (`--model NAME=bench.handlers:FUNC`)."""

from __future__ import annotations

import asyncio
from typing import Any


async def quiet_sleep(payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep `payload["seconds"]` and report no progress: the `sleep` model, silent."""
    seconds = float(payload.get("seconds", 1.0))
    await asyncio.sleep(seconds)
    return {"slept": seconds}

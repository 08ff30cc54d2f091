"""The ``traffic`` run: the tutorial's curl loop, paced, counted, and stoppable.

Requests alternate between the route shapes at a steady rate (one every ``--interval``, or
``--rate`` a second) for a duration or until stopped, so a dashboard such as Kiali has
traffic of every kind to draw.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from canary.traffic.client import Endpoint
from canary.traffic.expected import Route
from canary.traffic.load import Settings, Tally, run_load
from canary.traffic.verify import request_bytes
from canary.traffic.versions import VersionReader


async def run_traffic(
    target: Endpoint,
    routes: Sequence[Route],
    tallies: Sequence[Tally],
    reader: VersionReader,
    settings: Settings,
    stop: asyncio.Event,
    duration: float | None = None,
) -> float:
    """Send paced requests until ``stop`` is set or ``duration`` seconds pass.

    Requests still in flight when it ends are abandoned, not counted: the counts are of
    requests that finished. Returns the seconds it ran.
    """
    if not settings.rate:
        raise ValueError("traffic needs a rate")
    loop = asyncio.get_running_loop()
    started = loop.time()
    route_requests = request_bytes(target, routes, "canary-traffic")
    load = asyncio.create_task(run_load(target, route_requests, tallies, reader, settings))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({load, stopped}, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (load, stopped):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    return loop.time() - started

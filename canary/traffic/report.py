"""What the commands show: progress while running, live counts, the verdict table, JSON.

Tables and JSON go to stdout; progress and live counts go to stderr and only to a terminal,
so piping ``--json`` into a CI step gets the JSON alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from canary.support.visible_text import say
from canary.traffic.expected import Route
from canary.traffic.load import Tally
from canary.traffic.sticky import StickyResult, flip_probability
from canary.traffic.verify import RouteResult, Verification

_REFRESH = 0.1


def stdout_console() -> Console:
    # Off a terminal rich would wrap at 80 columns, which splits table rows in CI logs.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _percent(value: float) -> str:
    return f"{value:.1f}%" if value % 1 else f"{value:.0f}%"


def _versions(split: dict[str, float | int]) -> str:
    return "  ".join(f"{v} {_percent(pct)}" for v, pct in split.items())


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(errors.items())) or "-"


def _latency(result: RouteResult) -> str:
    latency = result.latency_ms
    if latency["p50"] is None:
        return "-"
    return f"{latency['p50']:.1f} / {latency['p90']:.1f} / {latency['p99']:.1f}"


def _p_value(result: RouteResult) -> str:
    return "-" if result.test is None else f"{result.test.p_value:.3g}"


def verdict_table(verification: Verification) -> Table:
    table = Table(title="Canary routing", title_justify="left")
    table.add_column("route")
    table.add_column("expected")
    table.add_column("observed")
    table.add_column("answers", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("errors")
    table.add_column("p50/p90/p99 ms", justify="right")
    table.add_column("verdict")
    for result in verification.results:
        table.add_row(
            result.route.label,
            _versions(dict(result.route.split)),
            _versions(result.split) if result.tally.answered else "-",
            f"{result.tally.answered:,}",
            _p_value(result),
            _errors(result.tally.errors),
            _latency(result),
            Text("holds", style="green") if result.ok else Text("FAILS", style="bold red"),
        )
    return table


def verdict_notes(verification: Verification) -> list[str]:
    """One line per problem, per useful caveat, and the closing summary."""
    notes = []
    for result in verification.results:
        for problem in result.problems:
            notes.append(f"{result.route.label}: {problem}")
        test = result.test
        if result.ok and test is not None and test.needed:
            notes.append(
                f"{result.route.label}: observed {_versions(result.split)} is within chance of"
                f" the expected split; telling them apart at"
                f" {100 * verification.criteria.confidence:g}% confidence takes about"
                f" {test.needed:,} answers (this run had {result.tally.answered:,})"
            )
        if result.sticky is not None:
            notes += sticky_notes(result, result.sticky, verification.criteria.confidence)
    sent = sum(result.tally.total for result in verification.results)
    held = sum(result.ok for result in verification.results)
    total = len(verification.results)
    verdict = f"all {total} routes hold" if verification.ok else f"{total - held} of {total} route(s) do not hold"
    notes.append(
        f"{sent:,} requests in {verification.seconds:.2f} s ({verification.rps:,.0f}/s);"
        f" {verdict} at {100 * verification.criteria.confidence:g}% confidence"
    )
    return notes


def sticky_notes(result: RouteResult, sticky: StickyResult, confidence: float) -> list[str]:
    """What the sticky checks measured, and whether they had clients enough to tell."""
    label = result.route.label
    cookies, clients = sticky.cookies, sticky.clients
    notes = [
        f"{label}: sticky cookie {cookies.cookie}: {cookies.right:,} of {cookies.answers:,} answers set it to the"
        f" version that answered; {clients.flipped:,} of {clients.tested:,} clients keeping it"
        f" ({clients.requests_each} requests each) got more than one version"
    ]
    if sticky.clients_needed is not None:
        flip = flip_probability(result.route.split, clients.requests_each)
        notes.append(
            f"{label}: a mesh that pinned nobody would flip a client of {clients.requests_each} requests"
            f" {100 * flip:.2g}% of the time; catching it at {100 * confidence:g}% confidence takes about"
            f" {sticky.clients_needed:,} clients (this run had {clients.clients:,}: --sticky-clients)"
        )
    return notes


def print_verdict(verification: Verification) -> None:
    console = stdout_console()
    console.print(verdict_table(verification))
    for note in verdict_notes(verification):
        console.print(note, highlight=False, markup=False)


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


@contextlib.asynccontextmanager
async def progress(
    routes: Sequence[Route], tallies: Sequence[Tally], per_route: int, show: bool
) -> AsyncIterator[None]:
    """A progress bar per route on stderr while the block runs (when ``show``)."""
    if not show:
        yield
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    ids = [bars.add_task(route.label, total=per_route) for route in routes]

    async def tick() -> None:
        while True:
            for task_id, tally in zip(ids, tallies, strict=True):
                bars.update(task_id, completed=tally.total)
            await asyncio.sleep(_REFRESH)

    with bars:
        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()


def counts_table(routes: Sequence[Route], tallies: Sequence[Tally], seconds: float) -> Table:
    """Live or final counts of the ``traffic`` command."""
    table = Table(title=f"Traffic, {seconds:.0f} s", title_justify="left")
    table.add_column("route")
    table.add_column("expected")
    table.add_column("answers per version")
    table.add_column("observed")
    table.add_column("errors")
    for route, tally in zip(routes, tallies, strict=True):
        answered = tally.answered
        table.add_row(
            route.label,
            _versions(dict(route.split)),
            "  ".join(f"{v} {n:,}" for v, n in sorted(tally.counts.items())) or "-",
            _versions({v: 100 * n / answered for v, n in sorted(tally.counts.items())}) if answered else "-",
            _errors(tally.errors),
        )
    return table


def counts_line(routes: Sequence[Route], tallies: Sequence[Tally], seconds: float) -> str:
    """The live counts as one line, for logs."""
    parts = []
    for route, tally in zip(routes, tallies, strict=True):
        versions = " ".join(f"{v}={n}" for v, n in sorted(tally.counts.items())) or "-"
        failed = f" errors={tally.failed}" if tally.failed else ""
        parts.append(f"{route.label}: {versions}{failed}")
    return f"{seconds:6.1f}s  " + " | ".join(parts)


@contextlib.asynccontextmanager
async def live_counts(routes: Sequence[Route], tallies: Sequence[Tally], every: float) -> AsyncIterator[None]:
    """Counts kept up to date on stderr while the block runs: a live table on a terminal,
    else a line every ``every`` seconds."""
    started = time.monotonic()
    if stderr_is_terminal():
        live = Live(console=Console(file=sys.stderr), refresh_per_second=4, transient=True)

        async def tick() -> None:
            while True:
                seconds = time.monotonic() - started
                live.update(Group(counts_table(routes, tallies, seconds), Text("Ctrl-C to stop")))
                await asyncio.sleep(0.25)

        with live:
            ticker = asyncio.create_task(tick())
            try:
                yield
            finally:
                ticker.cancel()
        return

    async def log() -> None:
        while True:
            await asyncio.sleep(every)
            line = counts_line(routes, tallies, time.monotonic() - started)
            say(line, to=sys.stderr, flush=True)

    ticker = asyncio.create_task(log())
    try:
        yield
    finally:
        ticker.cancel()

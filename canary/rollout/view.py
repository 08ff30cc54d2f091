"""What a rollout shows while it runs: a log of what it did, each gate with its figures, and,
on a terminal, a live line with the step, the weight and the time left."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from canary.rollout.gates import GateResult


def _minutes(seconds: float) -> str:
    whole = int(seconds + 0.999)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def gate_figures(result: GateResult) -> str:
    """The figures a gate judged on, in one line."""
    figures = result.figures
    if "off" in figures:
        return f"off: {figures['off']}"
    if result.gate == "split":
        return "; ".join(
            f"{_when(route['when'])}: " + " ".join(f"{v} {n}" for v, n in route["counts"].items())
            for route in figures.get("routes", [])
        )
    if result.gate == "health" and "canary" in figures:
        line = f"canary {_version_line(figures['canary'])}"
        if figures.get("stable"):
            line += f"; stable {_version_line(figures['stable'])}"
        if "error_rate_p_value" in figures:
            line += f"; error-rate p = {figures['error_rate_p_value']:.2g}"
        return line + f" over {figures['window_seconds']}s"
    if result.gate == "webhook" and "status" in figures:
        return f"answered {figures['status']}"
    return ""


def _when(when: dict[str, Any]) -> str:
    if "cookie" in when:
        return f"cookie {when['cookie']}"
    if "headers" in when:
        return ", ".join(f"{k}: {v}" for k, v in when["headers"].items())
    return "plain"


def _version_line(figures: dict[str, Any]) -> str:
    p99 = "-" if figures.get("p99_ms") is None else f"{figures['p99_ms']:.0f} ms"
    return f"{figures['requests']:.0f} requests, {figures['error_rate']:.2f}% 5xx, p99 {p99}"


class ConsoleView:
    """Log lines on stderr; on a terminal, a live status line below them."""

    def __init__(self, live: bool | None = None) -> None:
        self._console = Console(file=sys.stderr, highlight=False)
        self._live_wanted = sys.stderr.isatty() if live is None else live
        self._live: Live | None = None

    def event(self, message: str) -> None:
        self._stop_live()
        self._console.print(f"{time.strftime('%H:%M:%S')} {message}", markup=False)

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        if not self._live_wanted:
            return
        line = Text(f"step {step}/{steps}: canary at {weight}%, watching, {_minutes(seconds_left)} left")
        if self._live is None:
            self._live = Live(line, console=self._console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._live.update(line)

    def gate(self, result: GateResult) -> None:
        mark = "passed" if result.ok else "FAILED"
        self.event(f"  {result.gate} gate {mark}: {gate_figures(result)}")
        for problem in result.problems:
            self._console.print(f"    {problem}", markup=False)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

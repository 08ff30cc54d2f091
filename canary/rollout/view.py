"""What a rollout shows while it runs: a log of what it did, each gate and each poll of the health
analysis with its figures, and, on a terminal, a live line with the step, the weight, the time
left and the analysis' e-values against the e-value at which it rolls back."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from canary.rollout.control import Wait
from canary.rollout.gates import GateResult
from canary.rollout.watch import Poll
from canary.support.visible_text import visible

# Short names for the live line, by the analysis' test names.
_SHORT = {
    "error rate against stable": "5xx vs stable",
    "error rate limit": "5xx limit",
    "p99 limit": "p99 limit",
    "p99 against stable": "p99 vs stable",
}


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
    if result.gate == "health" and "canary_requests" in figures:
        return (
            f"{figures['canary_requests']} canary requests in {figures['watched_seconds']:.0f}s "
            f"(at least {figures['min_requests']})"
        )
    if result.gate == "health" and "poll" in figures:
        return poll_line(figures["poll"])
    if result.gate == "webhook" and "status" in figures:
        return f"answered {figures['status']}"
    return ""


def _when(when: dict[str, Any]) -> str:
    if "cookie" in when:
        return f"cookie {when['cookie']}"
    if "headers" in when:
        return ", ".join(f"{k}: {v}" for k, v in when["headers"].items())
    return "plain"


def _version_line(version: str, figures: dict[str, Any]) -> str:
    rate = "-" if figures.get("error_rate") is None else f"{figures['error_rate']:.2f}%"
    p99 = "-" if figures.get("p99_ms") is None else f"{figures['p99_ms']:.0f} ms"
    return f"{version} {figures['requests']} requests {figures['errors']} 5xx (now {rate}, p99 {p99})"


def e_values(tests: list[dict[str, Any]]) -> str:
    """Each test's e-value against the one that rolls back: `5xx vs stable 2.1/500`."""
    return ", ".join(
        f"{_SHORT.get(t['test'], t['test'])} {t['e_value']:.3g}/{t['threshold']:.3g}"
        + (f" ({t['detail'].rsplit(': ', 1)[-1]})" if "ratio tested" in t.get("detail", "") else "")
        for t in tests
    )


def poll_line(poll: dict[str, Any]) -> str:
    """One poll (its report entry) in one line."""
    versions = "; ".join(_version_line(version, figures) for version, figures in poll["versions"].items())
    unattributed = f"; {poll['unattributed_errors']} 5xx of no version" if poll["unattributed_errors"] else ""
    metrics = "".join(f"; {metric_figures(entry)}" for entry in poll.get("metrics", ()))
    held = "; held" if poll.get("hold") else ""
    return f"{versions}{unattributed}{metrics}; e-values {e_values(poll['tests'])}{held}"


def metric_figures(entry: dict[str, Any]) -> str:
    """One metric of `rollout.metrics` at one poll: `checkout-failures v1 3/900, v2 4/100`."""
    if entry.get("kind") == "ratio":
        counts = ", ".join(f"{version} {f['bad']}/{f['total']}" for version, f in entry["versions"].items())
        return f"{entry['name']} {counts}"
    value = "no value" if entry.get("value") is None else f"{entry['value']:g}"
    bounds = " ".join(f"{key} {entry[key]:g}" for key in ("min", "max") if entry.get(key) is not None)
    return f"{entry['name']} {value} ({bounds}, {entry['bad_polls']}/{entry['failure_limit']} bad)"


def waiting_line(step: int, steps: int, wait: Wait, seconds_left: float | None, e_values: str = "") -> str:
    """The live line while the rollout waits: what for, since when, the time left of a timer."""
    left = "" if seconds_left is None else f", {_minutes(seconds_left)} left"
    text = f"step {step}/{steps}: canary at {wait.weight}%, waiting for {wait.what} since {wait.since}{left}"
    return text + (f"; e-values {e_values}" if e_values else "")


class ConsoleView:
    """Log lines on stderr; on a terminal, a live status line below them."""

    def __init__(self, live: bool | None = None) -> None:
        self._console = Console(file=sys.stderr, highlight=False)
        self._live_wanted = sys.stderr.isatty() if live is None else live
        self._live: Live | None = None
        self._e_values = ""

    def event(self, message: str) -> None:
        self._stop_live()
        # What servers and the CLI answered is in the message: shown, never obeyed by the terminal.
        self._console.print(visible(f"{time.strftime('%H:%M:%S')} {message}"), markup=False, soft_wrap=True)

    def watching(self, step: int, steps: int, weight: int, seconds_left: float) -> None:
        if not self._live_wanted:
            return
        text = f"step {step}/{steps}: canary at {weight}%, watching, {_minutes(seconds_left)} left"
        self._show(Text(text + (f"; e-values {self._e_values}" if self._e_values else "")))

    def waiting(self, step: int, steps: int, wait: Wait, seconds_left: float | None) -> None:
        if not self._live_wanted:
            return
        self._show(Text(waiting_line(step, steps, wait, seconds_left, self._e_values)))

    def _show(self, line: Text) -> None:
        if self._live is None:
            self._live = Live(line, console=self._console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._live.update(line)

    def poll(self, poll: Poll) -> None:
        entry = poll.to_json()
        self._e_values = e_values(entry["tests"])
        if not self._live_wanted:
            # Without a live line (CI, --json), each poll is a log line.
            self.event(f"  poll at {poll.seconds:.0f}s: {poll_line(entry)}")

    def gate(self, result: GateResult) -> None:
        mark = "passed" if result.ok else "FAILED"
        self.event(f"  {result.gate} gate {mark}: {gate_figures(result)}")
        for problem in result.problems:
            self._console.print(visible(f"    {problem}"), markup=False, soft_wrap=True)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

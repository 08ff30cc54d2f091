"""The report's charts over time: the canary's weight by step, both versions' error rate and p99,
each of the team's metrics, and each test's evidence, the verdict marked on each.

The error-rate and p99 charts each hold both versions as two series on one scale: the analysis
judges the canary against stable over the same intervals, and two series on one chart show
exactly that comparison, where a chart per version (with a scale each) would hide it. The
evidence chart puts each test's e-value over its threshold on a log scale, so the climb to a
rollback (or its absence) is seen at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from canary.rollout.report.figures import at, finite, number, records, text
from canary.rollout.report.svg import Band, Chart, Marker, Series, clock, nice_ticks, render_chart
from canary.rollout.run_report import RolloutReport, StepReport
from canary.rollout.watch import Poll, VersionPoll

MIN_SPAN_SECONDS = 10.0
"""The shortest time axis, so that a single poll at 0 s still has an axis to sit on."""
TEST_COLOURS = ("#8e24aa", "#00897b", "#6d4c41", "#d81b60", "#546e7a")
"""The tests' lines on the evidence chart: apart from each other and from the versions' colours."""
TEST_CSS = "".join(
    f".chart .series.test-{i} polyline, .legend-item.test-{i} line {{ stroke: {colour}; }}\n"
    f".chart .series.test-{i} circle {{ fill: {colour}; }}\n"
    for i, colour in enumerate(TEST_COLOURS)
)
"""The style of each test's line, one colour each from TEST_COLOURS."""

Points = list[tuple[float, float | None]]


def charts(report: RolloutReport, outcome: str, tone: str) -> list[str]:
    """Every chart of the page, as SVG, or a line saying why there is none."""
    canary, stable, polls, steps = report.canary, report.stable, report.polls, report.steps
    verdict = None if report.verdict_seconds is None else at(report.verdict_seconds)
    # The last moment the report knows of: where a step still open when it was made ends.
    known = max([verdict or 0.0] + [at(p.seconds) for p in polls])
    bands = _bands(steps, known)
    span = max([MIN_SPAN_SECONDS, known] + [b.end for b in bands])
    reason = report.reason

    def marker(with_reason: bool) -> Marker | None:
        if verdict is None:
            return None
        label = f"{outcome} at {clock(verdict)}"
        return Marker(
            at=verdict,
            label=label,
            note=reason if with_reason else "",
            detail=f"{label}: {reason}" if reason else label,
            css_class=f"marker verdict {tone}",
        )

    out: list[str] = []
    weight_line = _weight_points(steps, known)
    if weight_line:
        weight = Series(f"{canary} weight (%)", "weight", weight_line, step=True)
        # Headroom above the highest step, where the verdict's reason is written.
        top = min(100.0, 2 * max(y for _, y in weight_line if y is not None))
        chart = Chart(
            "Canary weight by step", "weight (%)", span, [weight], bands, marker(True), 200, y_ticks=nice_ticks(top, 4)
        )
        out.append(render_chart(chart, "chart-weight"))
    if not polls:
        if steps:
            out.append(
                '<p class="empty">No polls: the health analysis was off (no Prometheus) or the rollout ended '
                "before its first poll, so there is no error rate or latency to draw.</p>"
            )
        else:
            out.append('<p class="empty">Nothing to chart: no step began and no poll was taken.</p>')
        return out
    figures: tuple[tuple[Callable[[VersionPoll], float | None], str, str, str], ...] = (
        (lambda v: v.error_rate, "Error rate (5xx) per interval", "error rate (%)", "chart-error-rate"),
        (lambda v: v.p99_ms, "p99 latency per interval", "p99 (ms)", "chart-p99"),
    )
    for figure, title, y_title, css_id in figures:
        # Stable first, so that the canary, the version on trial, is drawn over it where they meet.
        series = [
            Series(f"{stable} (stable)", "stable", _version_points(polls, stable, figure)),
            Series(f"{canary} (canary)", "canary", _version_points(polls, canary, figure)),
        ]
        out.append(render_chart(Chart(title, y_title, span, series, bands, marker(False)), css_id))
    out += _metric_charts(polls, canary, stable, span, bands, marker(False))
    evidence = _evidence_series(polls)
    if evidence:
        chart = Chart(
            "Evidence against the canary, per test (log scale)",
            "e-value / threshold",
            span,
            evidence,
            bands,
            marker(False),
            y_log=True,
            rule=(1.0, "threshold: roll back"),
            legend=True,
        )
        out.append(render_chart(chart, "chart-evidence"))
    return out


def _metric_charts(
    polls: list[Poll],
    canary: str,
    stable: str,
    span: float,
    bands: list[Band],
    marker: Marker | None,
) -> list[str]:
    """A chart per metric of `rollout.metrics`, beside the mesh's: a ratio's bad share per
    interval for both versions (as the error rate's), a threshold's value with its bounds."""
    kinds: dict[str, str] = {}
    for poll in polls:
        for entry in records(poll.metrics):
            kinds.setdefault(text(entry.get("name")), text(entry.get("kind")))
    out = []
    for index, (name, kind) in enumerate(kinds.items()):
        css_id = f"chart-metric-{index}"
        if kind == "ratio":
            series = [
                Series(f"{stable} (stable)", "stable", _entry_points(polls, name, ("versions", stable, "ratio"))),
                Series(f"{canary} (canary)", "canary", _entry_points(polls, name, ("versions", canary, "ratio"))),
            ]
            title = f"{name}: bad share per interval (ratio metric)"
            out.append(render_chart(Chart(title, "bad / total (%)", span, series, bands, marker), css_id))
        elif kind == "threshold":
            values = _entry_points(polls, name, ("value",))
            bounds = _bounds(polls, name)
            series = [Series(f"{canary} (canary)", "canary", values)]
            highest = max([y for _, y in values if y is not None] + [b for b in bounds.values() if b is not None])
            rule: tuple[float, str] | None = None
            low, high = bounds.get("min"), bounds.get("max")
            if high is not None:
                rule = (high, f"max {high:g}")
            if low is not None:
                if rule is None:
                    rule = (low, f"min {low:g}")
                else:  # one rule a chart: the lower bound as a flat line
                    series.append(Series(f"min {low:g}", "stable", [(0.0, low), (span, low)]))
            chart = Chart(
                f"{name}: value per poll (threshold metric)",
                "value",
                span,
                series,
                bands,
                marker,
                y_ticks=nice_ticks(1.05 * highest if highest > 0 else 1.0, 5),
                rule=rule,
            )
            out.append(render_chart(chart, css_id))
    return out


def _entry_points(polls: list[Poll], name: str, path: tuple[str, ...]) -> Points:
    points: Points = []
    for poll in polls:
        entry = next((e for e in records(poll.metrics) if text(e.get("name")) == name), None)
        if entry is None:
            continue
        value: Any = entry
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        found = number(value)
        points.append((at(poll.seconds), found if found is None or found >= 0 else None))
    return points


def _bounds(polls: list[Poll], name: str) -> dict[str, float | None]:
    for poll in polls:
        for entry in records(poll.metrics):
            if text(entry.get("name")) == name:
                return {"min": number(entry.get("min")), "max": number(entry.get("max"))}
    return {}


def _evidence_series(polls: list[Poll]) -> list[Series]:
    """Each test's e-value as a share of its threshold: all tests on one scale, rollback at 1."""
    points: dict[str, Points] = {}
    for poll in polls:
        for test in records(poll.tests):
            e_value, threshold = number(test.get("e_value")), number(test.get("threshold"))
            share = e_value / threshold if e_value is not None and threshold and threshold > 0 else None
            points.setdefault(text(test.get("test")), []).append((at(poll.seconds), share))
    return [Series(name, f"test test-{i % len(TEST_COLOURS)}", line) for i, (name, line) in enumerate(points.items())]


def step_end(step: StepReport, known: float) -> float:
    """A step's end; one still open when the report was made (interrupted) runs to the last
    moment the report knows of."""
    start = at(step.started_seconds)
    return max(start, known) if step.ended_seconds is None else at(step.ended_seconds)


def _bands(steps: list[StepReport], known: float) -> list[Band]:
    """A band per step that began, from its start to its end."""
    bands = []
    for index, step in enumerate(steps):
        label = f"{step.weight} %"
        if step.extended:
            label += " (extended)"
        parity = "odd" if index % 2 else "even"
        result = "passed" if step.ok else "failed"
        bands.append(Band(at(step.started_seconds), step_end(step, known), label, f"band {parity} {result}"))
    return bands


def _weight_points(steps: list[StepReport], known: float) -> Points:
    """The canary's weight as a step line: each step's weight from its start to the next step's
    start, the last held to its end. What the weight became after the verdict (0 on a rollback,
    100 on promotion) the report does not time, so the line stops there."""
    points: Points = [(at(step.started_seconds), float(step.weight)) for step in steps]
    last_end = step_end(steps[-1], known) if steps else 0.0
    if points and last_end > points[-1][0]:
        points.append((last_end, points[-1][1]))
    return points


def _version_points(polls: list[Poll], version: str, figure: Callable[[VersionPoll], float | None]) -> Points:
    points: Points = []
    for poll in polls:
        figures = poll.versions.get(version)
        value = None if figures is None else finite(figure(figures))
        # A negative rate or latency is no measurement: a gap, not a line below the axis.
        points.append((at(poll.seconds), value if value is None or value >= 0 else None))
    return points
